"""Writes: public share links to program records. Each service owns its transaction."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.api import User

from .exceptions import RecordsErrorCode, RecordsNotFoundError
from .models import ProgramRecordShare
from .selectors import get_live_program


def create_program_record_share(*, user: User, program_uuid: uuid.UUID) -> tuple[ProgramRecordShare, bool]:
    """The learner's active share link for the program, and whether it was created now. Idempotent:
    while a link is active it is returned again. Raises RecordsNotFoundError for an unknown program."""
    program = get_live_program(program_uuid=program_uuid)
    with transaction.atomic():
        share = ProgramRecordShare.objects.filter(user=user, program_id=program.id, revoked_at__isnull=True).first()
        if share is not None:
            return share, False
        try:
            with transaction.atomic():
                return ProgramRecordShare.objects.create(user=user, program_id=program.id), True
        except IntegrityError:
            # A concurrent request created the active link first (the partial unique constraint).
            return ProgramRecordShare.objects.get(user=user, program_id=program.id, revoked_at__isnull=True), False


def revoke_program_record_share(*, user: User, share_uuid: uuid.UUID) -> ProgramRecordShare:
    """Revoke the learner's own share link so it shows nothing from now on. Idempotent; someone else's
    link is as absent as an unknown one (RecordsNotFoundError)."""
    with transaction.atomic():
        share = ProgramRecordShare.objects.select_for_update().filter(uuid=share_uuid, user=user).first()
        if share is None:
            raise RecordsNotFoundError(
                f"No share {share_uuid}.", code=RecordsErrorCode.SHARE_NOT_FOUND, field="share_uuid"
            )
        if share.revoked_at is None:
            share.revoked_at = timezone.now()
            share.save(update_fields=["revoked_at", "modified"])
        return share
