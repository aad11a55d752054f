"""One learner's two records merged into one (core's identity resolution; see
`core.api.register_learner_merge`): this app's part moves their PDFs.

Both records may hold a PDF of one configuration: the processors find learners in this service's
grades and credentials, and a learner's grades may sit on both records (the LMS's grade events name
the LMS id, its POST /api/v2/grades/ the username). The credential each PDF goes with is the
credentials app's, which merges it by its own rule (the awarded one, else the later revoked).
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction

from .models import PdfCredential, PdfStatus
from .services import pdf_storage

log = logging.getLogger(__name__)

# The more advanced a PDF's state, the more it is kept: a file the learner may have, then one on its
# way, then one still to make, then a failure; an invalidated PDF last.
_RANK = {
    PdfStatus.GENERATED: 4,
    PdfStatus.GENERATING: 3,
    PdfStatus.PENDING: 2,
    PdfStatus.FAILED: 1,
    PdfStatus.INVALIDATED: 0,
}


def merge_learner_pdfs(*, from_user_id: int, into_user_id: int) -> None:
    """Move every PDF of `from_user_id` to `into_user_id`. Where both hold a PDF of one configuration,
    keep the one in the more advanced state (`_RANK`), of two alike the older (its verification link
    is the one out longest), and delete the other: its file goes after commit (R6), its verification
    link answers 404 from then on, and a generation that held it records nothing and deletes the file
    it made (as for a PDF re-issued meanwhile). Runs inside the caller's transaction with both users
    locked; starts no run and sends nothing."""
    pdfs = list(
        PdfCredential.objects.select_for_update()
        .filter(user_id__in=[from_user_id, into_user_id])
        .only("pk", "user_id", "configuration_id", "status", "file_name", "created")
        .order_by("pk")
    )
    into_pdfs = {pdf.configuration_id: pdf for pdf in pdfs if pdf.user_id == into_user_id}
    dropped: list[PdfCredential] = []
    for pdf in pdfs:
        other = into_pdfs.get(pdf.configuration_id) if pdf.user_id == from_user_id else None
        if other is not None:
            dropped.append(other if _kept(pdf, other) is pdf else pdf)
    if dropped:
        log.info("Learner merge: PDFs %s deleted (the other record's were kept)", [pdf.pk for pdf in dropped])
        PdfCredential.objects.filter(pk__in=[pdf.pk for pdf in dropped]).delete()
        files = [pdf.file_name for pdf in dropped if pdf.file_name]
        if files:
            transaction.on_commit(partial(_delete_files, files), robust=True)
    PdfCredential.objects.filter(user_id=from_user_id).update(user_id=into_user_id)


def _kept(first: PdfCredential, second: PdfCredential) -> PdfCredential:
    """The PDF in the more advanced state; of two alike, the older (a tie keeps `second`, the surviving
    record's)."""
    rank = (_RANK[PdfStatus(first.status)], -first.created.timestamp())
    other = (_RANK[PdfStatus(second.status)], -second.created.timestamp())
    return first if rank > other else second


def _delete_files(names: list[str]) -> None:
    storage = pdf_storage()
    for name in names:
        storage.delete(name)
