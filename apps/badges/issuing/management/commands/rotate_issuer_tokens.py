"""Re-encrypt every issuer API token with the first key of BADGE_ISSUER_TOKEN_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from apps.badges.issuing.crypto import rotate_token
from apps.badges.issuing.models import IssuerOrganization


class Command(BaseCommand):
    help = (
        "Re-encrypt every issuer API token with the first key of BADGE_ISSUER_TOKEN_KEYS. Rotation: put "
        "the new key first, run this, then remove the old key. Safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            organizations = list(IssuerOrganization.objects.select_for_update())
            for organization in organizations:
                organization.api_token_encrypted = rotate_token(organization.api_token_encrypted)
            IssuerOrganization.objects.bulk_update(organizations, ["api_token_encrypted"])
        self.stdout.write(f"{len(organizations)} API tokens re-encrypted with the first key.")
