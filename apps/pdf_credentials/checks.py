"""Start-up checks for PDF credentials: the storage settings, the types' plugins, the beat tasks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError

STORAGES = {"local", "s3"}


@register()
def check_pdf_storage(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.PDF_STORAGE not in STORAGES:
        return [
            Error(
                f"PDF_STORAGE is {settings.PDF_STORAGE!r}; expected one of {sorted(STORAGES)}.",
                id="pdf_credentials.E001",
            )
        ]
    if settings.PDF_STORAGE == "s3" and not settings.PDF_S3_BUCKET:
        return [Error("PDF_STORAGE is s3 but PDF_S3_BUCKET is empty.", id="pdf_credentials.E002")]
    return []


@register()
def check_plugins_and_tasks(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Every credential type's processor and generator import, every configuration's options pass
    them, and every configuration has its periodic task in step. Skipped before the tables exist."""
    from . import plugins, services
    from .models import CredentialConfiguration, CredentialType

    messages: list[CheckMessage] = []
    try:
        for credential_type in CredentialType.objects.all():
            try:
                services.validate_type(processor=credential_type.processor, generator=credential_type.generator)
            except plugins.PluginError as error:
                messages.append(
                    Error(f"Credential type {credential_type.name!r}: {error.message}", id="pdf_credentials.E003")
                )
        for configuration in CredentialConfiguration.objects.select_related("credential_type"):
            merged = configuration.merged_options()
            for path, kind in (
                (configuration.credential_type.processor, "processor"),
                (configuration.credential_type.generator, "generator"),
            ):
                try:
                    plugins.validate(path, merged, kind=kind)
                except plugins.PluginError as error:
                    messages.append(
                        Error(
                            f"Configuration {configuration} (id {configuration.pk}): {error.message}",
                            id="pdf_credentials.E004",
                        )
                    )
        messages.extend(
            Warning(f"{problem}: save it in the admin to recreate it.", id="pdf_credentials.W001")
            for problem in services.stale_configurations()
        )
    except DatabaseError:
        return []  # not migrated yet
    return messages
