"""Public pages of a PDF credential, by its verification uuid: the verification page (who earned what,
when, and whether it is still valid; no email) and the permanent link to the PDF, which checks the
credential every time and redirects to a freshly signed storage URL (signed URLs expire; this link
does not)."""

from __future__ import annotations

import uuid

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import services
from .exceptions import PdfCredentialsNotFoundError
from .models import PdfCredential, PdfStatus


def _pdf(verification_uuid: uuid.UUID) -> PdfCredential:
    try:
        return services.get_pdf_credential(verification_uuid=verification_uuid)
    except PdfCredentialsNotFoundError as error:
        raise Http404(error.message) from error


@require_GET
@never_cache
def verify(request: HttpRequest, verification_uuid: uuid.UUID) -> HttpResponse:
    pdf = _pdf(verification_uuid)
    context = {
        "pdf": pdf,
        "details": services.public_details(pdf),
        "is_valid": pdf.status == PdfStatus.GENERATED,
        "is_revoked": pdf.status == PdfStatus.INVALIDATED,
        "download_url": services.download_url(pdf),
    }
    response = render(request, "pdf_credentials/verify.html", context, status=410 if context["is_revoked"] else 200)
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
@never_cache
def download(request: HttpRequest, verification_uuid: uuid.UUID) -> HttpResponse | FileResponse:
    pdf = _pdf(verification_uuid)
    if pdf.status == PdfStatus.INVALIDATED:
        return render(
            request,
            "pdf_credentials/verify.html",
            {"pdf": pdf, "details": services.public_details(pdf), "is_revoked": True},
            status=410,
        )
    if not pdf.file_name:
        return render(
            request,
            "pdf_credentials/verify.html",
            {"pdf": pdf, "details": services.public_details(pdf), "is_pending": True},
            status=404,
        )
    storage = services.pdf_storage()
    url = storage.url(pdf.file_name)
    if url and url.startswith(("http://", "https://")):
        return HttpResponseRedirect(url)  # S3: a URL signed for PDF_SIGNED_URL_SECONDS
    # Local storage: the file is private (not under MEDIA_URL), so this view serves it.
    return FileResponse(
        storage.open(pdf.file_name, "rb"), content_type="application/pdf", filename=f"{pdf.verification_uuid}.pdf"
    )
