"""Start-up checks for the credentials settings; each message names the setting."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .models import CertificateMode


@register()
def check_eligible_modes(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    modes = list(settings.PROGRAM_CERTIFICATE_ELIGIBLE_MODES)
    unknown = sorted(set(modes) - set(CertificateMode.values))
    if unknown:
        return [
            Error(
                f"PROGRAM_CERTIFICATE_ELIGIBLE_MODES names unknown modes: {', '.join(unknown)}.",
                hint=f"Use modes from: {', '.join(CertificateMode.values)}.",
                id="credentials.E001",
            )
        ]
    if not modes:
        return [
            Error(
                "PROGRAM_CERTIFICATE_ELIGIBLE_MODES is empty, so no program certificate can be earned.",
                hint="Name at least one mode, e.g. verified.",
                id="credentials.E002",
            )
        ]
    return []


@register()
def check_public_url(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    url = urlparse(settings.CREDENTIALS_PUBLIC_URL)
    if url.scheme not in ("http", "https") or not url.netloc:
        return [
            Error(
                f"CREDENTIALS_PUBLIC_URL is not an http(s) URL: {settings.CREDENTIALS_PUBLIC_URL!r}.",
                hint="For example https://credentials.example.com; published events link to credentials under it.",
                id="credentials.E003",
            )
        ]
    return []
