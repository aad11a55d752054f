"""Re-evaluate learners' progress towards badge templates after their requirements changed."""

from __future__ import annotations

import uuid
from itertools import batched
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.badges import selectors, services
from apps.badges.exceptions import BadgesError, BadgesNotFoundError

CHUNK = 200  # learners per transaction: a long run holds no lock for long, and what is done stays done


class Command(BaseCommand):
    help = (
        "Re-evaluate every learner's progress towards active badge templates from their recorded "
        "fulfillments (after requirements or groups changed): award each learner now complete. With "
        "--revoke, also revoke revocable badges of learners no longer complete. Past events are not "
        "re-read. Safe to run again: a second run changes and publishes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--template",
            action="append",
            type=uuid.UUID,
            help="A template's uuid (repeatable); default: every active one.",
        )
        parser.add_argument(
            "--revoke", action="store_true", help="Also revoke badges of revocable templates no longer complete."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            templates = selectors.list_active_templates(uuids=options["template"])
        except BadgesNotFoundError as exc:
            raise CommandError(exc.message) from None
        for template in templates:
            learner_ids = selectors.list_learner_ids_with_progress(template_id=template.id)
            totals = services.RecomputeResult()
            with tqdm(
                total=len(learner_ids),
                desc=template.name,
                unit="learner",
                disable=options["no_progress"],
                file=self.stderr,
            ) as bar:
                for chunk in batched(learner_ids, CHUNK):
                    try:
                        result = services.recompute_badge_progress(
                            template_id=template.id, user_ids=chunk, revoke=options["revoke"]
                        )
                    except BadgesError as exc:  # archived meanwhile
                        raise CommandError(exc.message) from None
                    totals = services.RecomputeResult(
                        learners=totals.learners + result.learners,
                        complete=totals.complete + result.complete,
                        awarded=totals.awarded + result.awarded,
                        revoked=totals.revoked + result.revoked,
                    )
                    bar.update(len(chunk))
            self.stdout.write(
                f"{template.name} ({template.uuid}): {totals.learners} learners with progress, {totals.complete} "
                f"complete, {totals.awarded} newly awarded, {totals.revoked} revoked."
            )
