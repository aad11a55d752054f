"""Replay parked events through the consumer wrapper, after the cause was fixed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from apps.eventbus.models import ParkedEvent, ParkedStatus
from apps.eventbus.services import replay_parked_event


class Command(BaseCommand):
    help = "Replay parked events (all, or of one event type); each is applied at most once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--event-type", help="Only events of this type.")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="Only this parked event (repeatable).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        parked = ParkedEvent.objects.filter(status=ParkedStatus.PARKED).order_by("pk")
        if options["event_type"]:
            parked = parked.filter(event_type=options["event_type"])
        if options["ids"]:
            parked = parked.filter(pk__in=options["ids"])
        ids = list(parked.values_list("pk", flat=True))
        replayed = failed = 0
        for pk in tqdm(ids, desc="parked events", unit="event", disable=options["no_progress"], file=self.stderr):
            if replay_parked_event(parked_id=pk).status == ParkedStatus.REPLAYED:
                replayed += 1
            else:
                failed += 1
        self.stdout.write(f"Replayed {replayed} of {len(ids)}; {failed} failed again and stay parked.")
