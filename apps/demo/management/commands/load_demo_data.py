"""Fill a development database with the example catalog, a few learners with grades and
credentials, and an admin account. Safe to run again: the second run changes nothing but the
admin's password."""

from __future__ import annotations

import datetime
import json
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse

from apps.catalog import api as catalog_api
from apps.catalog.data import CourseRunData, LoadSummary, ProgramData
from apps.core import api as core_api
from apps.credentials import api as credentials_api
from apps.eventbus.api import relaying_inline
from apps.pdf_credentials import api as pdf_api

MODE = "verified"
ADMIN_USERNAME = "admin"
# The example catalog's programs (apps/catalog/fixtures/example_catalog.json).
DATA_SCIENCE = uuid.UUID("19844781-bb2a-5d59-ba80-c8a43de67252")
CIRCUITS = uuid.UUID("939c40a7-22e5-5781-89a1-f4b328208e29")
# A fixed LMS time, so a second run records the same grades rather than newer ones.
GRADED_AT = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class DemoLearner:
    lms_user_id: int
    username: str
    full_name: str

    @property
    def email(self) -> str:
        return f"{self.username}@example.com"


ADA = DemoLearner(900001, "demo_ada", "Ada Lovelace")
IVAN = DemoLearner(900002, "demo_ivan", "Иван Петров")
GRACE = DemoLearner(900003, "demo_grace", "Grace Hopper")
ALAN = DemoLearner(900004, "demo_alan", "Alan Turing")
LEARNERS = (ADA, IVAN, GRACE, ALAN)


def example_catalog_path() -> Path:
    return Path(apps.get_app_config("catalog").path) / "fixtures" / "example_catalog.json"


class Command(BaseCommand):
    help = (
        "Load demo data: the example catalog, certificate configurations, four learners with grades and "
        "credentials, and a superuser 'admin'. Refused unless ALLOW_DEMO_DATA is on. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-password", help="Password for 'admin' (default: a new random one).")
        parser.add_argument(
            "--base-url", default="http://localhost:8000", help="Where the service runs, for the printed links."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.ALLOW_DEMO_DATA:
            raise CommandError(
                "Demo data is disabled here: ALLOW_DEMO_DATA is false (production settings turn it off). "
                "Set ALLOW_DEMO_DATA=true only on a development or staging database."
            )
        password = options["admin_password"] or secrets.token_urlsafe(12)
        # All or nothing: a failure halfway leaves the database as it was. The program certificate
        # events it enqueues are not handed to Celery (./run serve loads the demo before Redis runs):
        # the relay after the consumers' first batches, or the beat sweep, publishes them.
        with relaying_inline(), transaction.atomic():
            summary = self._load_catalog()
            programs = [catalog_api.get_program(program_uuid=u) for u in (DATA_SCIENCE, CIRCUITS)]
            run_count = self._configure_certificates(programs)
            stories = self._award(data_science=programs[0], circuits=programs[1])
            self._ensure_admin(password)
        pdfs = self._pdf_credentials(programs[0])
        self._report(summary, programs, run_count, stories, password, options["base_url"])
        self.stdout.write(f"PDF credentials ({programs[0].courses[0].runs[0].key}): {pdfs.generated} generated now.")
        for url in pdfs.verification_urls:
            self.stdout.write(f"  {url}")

    def _pdf_credentials(self, program: ProgramData) -> pdf_api.RunData:
        # A PDF certificate for the learners who passed the program's first course run, generated here
        # (no worker runs yet); its beat task regenerates nightly. The demo learners have no real inbox.
        configuration_id = pdf_api.configure_pdf_credential(
            type_name="Course certificate (PDF, demo)",
            processor="apps.pdf_credentials.processors.passing_grade",
            generator="apps.pdf_credentials.generators.plain_generator",
            course_run_key=program.courses[0].runs[0].key,
            notify_learners=False,
        )
        return pdf_api.run_configuration_inline(configuration_id=configuration_id)

    def _load_catalog(self) -> LoadSummary:
        path = example_catalog_path()
        try:
            programs = catalog_api.validate_programs(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the example catalog {path}: {exc}") from None
        except catalog_api.CatalogError as exc:
            raise CommandError(f"{path}: {exc.message}") from None
        summary = LoadSummary()
        for data in programs:
            catalog_api.load_program(data=data, summary=summary)
        return summary

    def _configure_certificates(self, programs: list[ProgramData]) -> int:
        run_keys = sorted({run.key for program in programs for course in program.courses for run in course.runs})
        for key in run_keys:
            credentials_api.configure_course_certificate(course_run_key=key, mode=MODE)
        for program in programs:
            credentials_api.configure_program_certificate(program_uuid=program.uuid)
        return len(run_keys)

    def _award(self, *, data_science: ProgramData, circuits: ProgramData) -> dict[DemoLearner, str]:
        users = {
            learner: core_api.get_or_create_learner(
                lms_user_id=learner.lms_user_id,
                username=learner.username,
                email=learner.email,
                full_name=learner.full_name,
            )
            for learner in LEARNERS
        }

        # Ada passed every course of Data Science Foundations (each course's first run): the program is hers.
        for course in data_science.courses:
            self._pass(users[ADA], course.runs[0], percent="0.93", letter="A")
        credentials_api.award_program_certificate(user=users[ADA], program_uuid=data_science.uuid)

        # Ivan is halfway through Circuits: the first course passed, the second under way.
        first, second = circuits.courses[0].runs[0], circuits.courses[1].runs[0]
        self._pass(users[IVAN], first, percent="0.81", letter="B")
        self._grade(users[IVAN], second, percent="0.42", letter="", passed=False)

        # Grace passed Circuits 1, but her certificate was revoked afterwards.
        grace_run = circuits.courses[0].runs[0]
        self._grade(users[GRACE], grace_run, percent="0.77", letter="B", passed=True)
        held = credentials_api.list_course_results(user=users[GRACE], course_run_ids=[grace_run.id])[1]
        if not held:
            # Awarded once, on the first run only; a second run must not re-award and revoke again.
            credentials_api.award_course_certificate(user=users[GRACE], course_run_key=grace_run.key, mode=MODE)
        credentials_api.revoke_course_certificate(user=users[GRACE], course_run_key=grace_run.key, mode=MODE)

        # Alan has just started: one course of Data Science Foundations, in its latest run.
        alan_run = data_science.courses[0].runs[-1]
        self._pass(users[ALAN], alan_run, percent="0.88", letter="B+")

        return {
            ADA: f"completed {data_science.title}; program certificate awarded",
            IVAN: f"halfway through {circuits.title} (1 of {len(circuits.courses)} courses)",
            GRACE: f"course certificate for {grace_run.key} revoked",
            ALAN: f"started {data_science.title} ({alan_run.key})",
        }

    def _grade(self, user: core_api.User, run: CourseRunData, *, percent: str, letter: str, passed: bool) -> None:
        credentials_api.record_grade(
            user=user,
            course_run_key=run.key,
            percent_grade=Decimal(percent),
            passed=passed,
            letter_grade=letter,
            lms_last_updated_at=GRADED_AT,
        )

    def _pass(self, user: core_api.User, run: CourseRunData, *, percent: str, letter: str) -> None:
        self._grade(user, run, percent=percent, letter=letter, passed=True)
        credentials_api.award_course_certificate(user=user, course_run_key=run.key, mode=MODE)

    def _ensure_admin(self, password: str) -> None:
        admin = core_api.User.objects.filter(username=ADMIN_USERNAME).first()
        if admin is None:
            core_api.User.objects.create_superuser(
                username=ADMIN_USERNAME, email=f"{ADMIN_USERNAME}@example.com", password=password
            )
            return
        admin.is_staff = admin.is_superuser = admin.is_active = True
        admin.set_password(password)
        admin.save(update_fields=["is_staff", "is_superuser", "is_active", "password"])

    def _report(
        self,
        summary: LoadSummary,
        programs: list[ProgramData],
        run_count: int,
        stories: dict[DemoLearner, str],
        password: str,
        base_url: str,
    ) -> None:
        created = ", ".join(f"{n} {k}" for k, n in sorted(summary.created.items())) or "nothing"
        updated = ", ".join(f"{n} {k}" for k, n in sorted(summary.updated.items())) or "nothing"
        write = self.stdout.write
        write(f"Catalog: {', '.join(p.title for p in programs)} (created {created}; updated {updated}).")
        write(f"Certificates: {MODE} for {run_count} course runs, and one per program.")
        write("Learners:")
        for learner, story in stories.items():
            write(f"  {learner.username} ({learner.full_name}, LMS user {learner.lms_user_id}): {story}")
        write(self.style.SUCCESS(f"Superuser: {ADMIN_USERNAME} / {password}"))
        write("Open:")
        for name in ("admin:index", "api-docs", "health"):
            write(f"  {base_url.rstrip('/')}{reverse(name)}")
