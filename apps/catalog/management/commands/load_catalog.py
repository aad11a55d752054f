"""Import programs from a JSON file shaped like course-discovery's /api/v1/programs/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.catalog.api import CatalogError, load_program, validate_programs
from apps.catalog.data import LoadSummary

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "example_catalog.json"


class Command(BaseCommand):
    help = "Create or update programs, courses and runs from a course-discovery JSON file. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", nargs="?", default=str(EXAMPLE), help=f"JSON file (default: the example, {EXAMPLE.name})"
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        try:
            raw = json.loads(path.read_text())
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not JSON: {exc}") from None
        try:
            programs = validate_programs(raw)
        except CatalogError as exc:
            raise CommandError(f"{path}: {exc.message}") from None

        summary = LoadSummary()
        for data in tqdm(programs, desc="programs", unit="program", disable=options["no_progress"], file=self.stderr):
            load_program(data=data, summary=summary)
        created = ", ".join(f"{n} {k}" for k, n in sorted(summary.created.items())) or "nothing"
        updated = ", ".join(f"{n} {k}" for k, n in sorted(summary.updated.items())) or "nothing"
        self.stdout.write(self.style.SUCCESS(f"Loaded {len(programs)} programs: created {created}; updated {updated}."))
