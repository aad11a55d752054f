"""Sync badge templates from the issuing services (Credly, Accredible)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.badges.issuers import IssuerError
from apps.badges.issuing import services
from apps.badges.issuing.models import IssuerOrganization


class Command(BaseCommand):
    help = (
        "Create (as drafts) and update badge templates from each active organization's templates on its "
        "issuing service, and archive those the service no longer lists. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", action="append", type=uuid.UUID, help="An organization's uuid.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        organizations = IssuerOrganization.objects.filter(is_active=True).order_by("name")
        if options["organization"]:
            organizations = organizations.filter(uuid__in=options["organization"])
            if len(organizations) != len(set(options["organization"])):
                raise CommandError("Some --organization uuids name no active organization.")
        failed = 0
        for organization in tqdm(organizations, unit="organization", disable=options["no_progress"], file=self.stderr):
            try:
                result = services.sync_templates(organization_id=organization.pk)
            except IssuerError as error:
                failed += 1
                self.stderr.write(f"{organization}: {error.message}")
                continue
            self.stdout.write(
                f"{organization}: {result.created} created (as drafts), {result.updated} updated, "
                f"{result.archived} archived."
            )
        if failed:
            raise CommandError(f"{failed} organizations could not be synced.")
