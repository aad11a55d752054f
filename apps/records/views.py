"""Public pages behind a share link: the record as HTML and as a CSV download. No login: the
unguessable link is the credential, and revoking it turns both into 404s."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.text import slugify
from django.views import View
from django.views.decorators.cache import never_cache

from apps.core.api import NotFoundError

from . import selectors
from .data import ProgramRecordData
from .exports import write_program_record_csv


def _shared_record(share_uuid: uuid.UUID) -> ProgramRecordData:
    try:
        return selectors.get_shared_program_record(share_uuid=share_uuid)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


def _no_index(response: HttpResponse) -> HttpResponse:
    # The link is shared with chosen people (an employer, an admissions office), not search engines.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


# never_cache: once revoked, a link must stop working at once, even behind a shared cache.
@method_decorator(never_cache, name="dispatch")
class SharedProgramRecordPageView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, share_uuid: uuid.UUID) -> HttpResponse:
        record = _shared_record(share_uuid)
        return _no_index(
            render(
                request,
                "records/shared_program_record.html",
                {"record": record, "share_uuid": share_uuid},
            )
        )


@method_decorator(never_cache, name="dispatch")
class SharedProgramRecordCsvView(View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, share_uuid: uuid.UUID) -> HttpResponse:
        record = _shared_record(share_uuid)
        filename = f"{slugify(record.program.title) or 'program'}-record.csv"
        response = HttpResponse(
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
        write_program_record_csv(record=record, out=response)
        return _no_index(response)
