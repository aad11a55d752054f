"""The public page of a course or program certificate, at the original's address
(/credentials/<uuid hex>/, the `certificate_url` the v2 API gives the LMS): who earned what, from
whom and when, and whether it still stands. No email; nothing before its visible date."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import selectors
from .exceptions import CredentialsNotFoundError
from .models import CredentialStatus


@require_GET
def certificate(request: HttpRequest, credential_uuid: str) -> HttpResponse:
    try:
        details = selectors.get_public_certificate(credential_uuid=uuid.UUID(hex=credential_uuid))
    except CredentialsNotFoundError as error:
        raise Http404(error.message) from error
    if not details.is_visible:
        raise Http404("This certificate is not available yet.")
    revoked = details.status == CredentialStatus.REVOKED
    response = render(
        request,
        "credentials/certificate.html",
        {"details": details, "is_revoked": revoked},
        status=410 if revoked else 200,
    )
    response["X-Robots-Tag"] = "noindex"
    return response
