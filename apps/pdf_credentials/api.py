"""The pdf_credentials app's public interface for other apps (the demo data, tools)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from . import services
from .exceptions import PdfCredentialsError
from .models import CredentialConfiguration, CredentialType, PdfCredential, PdfStatus
from .plugins import PluginError

__all__ = ["PdfCredentialsError", "PluginError", "RunData", "configure_pdf_credential", "run_configuration_inline"]


@dataclass(frozen=True)
class RunData:
    eligible: int
    generated: int
    verification_urls: tuple[str, ...]


def configure_pdf_credential(
    *,
    type_name: str,
    processor: str,
    generator: str,
    course_run_key: str = "",
    program_uuid: uuid.UUID | None = None,
    options: dict[str, Any] | None = None,
    schedule: str = "0 3 * * *",
    notify_learners: bool = True,
) -> int:
    """Create or update a credential type and its configuration for a course run or a program, with its
    celery-beat task; validated as the admin validates them. Idempotent. Returns the configuration id.
    Raises PdfCredentialsError / PluginError naming what is wrong."""
    services.validate_type(processor=processor, generator=generator)
    with transaction.atomic():
        credential_type, _ = CredentialType.objects.update_or_create(
            name=type_name, defaults={"processor": processor, "generator": generator}
        )
        services.validate_configuration(
            credential_type=credential_type,
            course_run_key=course_run_key,
            program_uuid=program_uuid,
            options=options or {},
            schedule=schedule,
        )
        configuration, _ = CredentialConfiguration.objects.update_or_create(
            credential_type=credential_type,
            course_run_key=course_run_key,
            program_uuid=program_uuid,
            defaults={"options": options or {}, "schedule": schedule, "notify_learners": notify_learners},
        )
    services.sync_periodic_task(configuration_id=configuration.pk)
    return configuration.pk


def run_configuration_inline(*, configuration_id: int) -> RunData:
    """Run a configuration now, in this process (no worker needed): eligibility, then every PDF."""
    plan = services.start_run(configuration_id=configuration_id)
    assets = services.AssetStore()
    generated = sum(
        len(services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id, assets=assets).generated)
        for chunk in plan.chunks
    )
    pdfs = PdfCredential.objects.filter(configuration_id=configuration_id, status=PdfStatus.GENERATED).order_by("pk")
    return RunData(
        eligible=pdfs.count(),
        generated=generated,
        verification_urls=tuple(services.verification_url(pdf) for pdf in pdfs),
    )
