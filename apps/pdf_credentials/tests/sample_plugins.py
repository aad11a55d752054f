"""Tiny plugins and a storage for the app's tests of scheduling and lifecycle (the shipped plugins have
their own tests): a processor that reads its learners from the options, a generator that writes a
minimal PDF, and a file storage whose worker dies once a file is written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage

from apps.pdf_credentials.exceptions import PdfCredentialsErrorCode
from apps.pdf_credentials.plugins import (
    AssetSource,
    ConfigurationData,
    CredentialContext,
    EligibleLearner,
    PluginError,
    checks_options,
)


def _check_learners(options: dict[str, Any]) -> None:
    if not isinstance(options.get("learners", []), list):
        raise PluginError(
            "'learners' must be a list of user ids.", code=PdfCredentialsErrorCode.BAD_OPTIONS, field="options"
        )


@checks_options(_check_learners)
def listed_learners(configuration: ConfigurationData, options: Mapping[str, Any]) -> list[EligibleLearner]:
    from apps.core.models import User

    return [
        EligibleLearner(user_id=user.pk, name=user.full_name or user.username or "")
        for user in User.objects.filter(pk__in=options.get("learners", [])).order_by("pk")
    ]


def text_generator(context: CredentialContext, options: Mapping[str, Any], assets: AssetSource) -> bytes:
    """`fail`: every PDF raises it; `fail_for`: learner names whose PDF raises; `invalidate_for`: learner
    names whose credential an operator invalidates while their PDF renders."""
    if options.get("fail"):
        raise RuntimeError(str(options["fail"]))
    if context.learner_name in options.get("fail_for", []):
        raise RuntimeError(f"cannot draw {context.learner_name}")
    if context.learner_name in options.get("invalidate_for", []):
        from apps.pdf_credentials import services
        from apps.pdf_credentials.models import PdfCredential

        pdf = PdfCredential.objects.get(verification_uuid=context.verification_uuid)
        services.invalidate(pdf_ids=[pdf.pk], reason="Revoked while it was generated.")
    body = f"{context.learner_name} | {context.title} | {context.issued_on} | {context.verification_url}"
    return b"%PDF-1.4\n% " + body.encode() + b"\n%%EOF\n"


class DyingStorage(FileSystemStorage):
    """The local storage, in a worker that is killed right after each file is written: the upload
    happened, its recording never does."""

    def _save(self, name: str, content: File[Any]) -> str:
        super()._save(name, content)
        raise SystemExit("worker killed")  # a BaseException, as a killed worker's is
