"""Re-evaluate a program's certificates for every learner who holds a course certificate in it."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.catalog.api import CatalogNotFoundError, get_program
from apps.credentials import selectors, services
from apps.credentials.exceptions import CredentialsError


class Command(BaseCommand):
    help = (
        "Award a program's certificate to every learner who completed the program but does not hold it "
        "(after a catalog change, a new certificate configuration or new eligible modes). Never revokes. "
        "Safe to run again: a second run changes and publishes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, type=uuid.UUID, help="The program's uuid.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            program = get_program(program_uuid=options["program"])
            services.get_program_certificate_configuration(program_uuid=program.uuid)
        except (CatalogNotFoundError, CredentialsError) as exc:
            raise CommandError(exc.message) from None
        learner_ids = selectors.list_certified_learner_ids(course_run_ids=program.course_run_ids)
        awarded = complete = 0
        for user_id in tqdm(
            learner_ids, desc=program.title, unit="learner", disable=options["no_progress"], file=self.stderr
        ):
            # One transaction per learner: a long run holds no lock for long, and what is done stays done.
            result = services.recompute_program_certificate(user_id=user_id, program=program)
            complete += result.complete
            awarded += result.changed
        self.stdout.write(
            f"{program.title} ({program.uuid}): {len(learner_ids)} learners with a course certificate, "
            f"{complete} completed the program, {awarded} newly awarded."
        )
