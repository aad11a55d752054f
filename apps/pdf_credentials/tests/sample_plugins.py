"""Tiny plugins for the app's tests of scheduling and lifecycle (the shipped ones have their own tests):
a processor that reads its learners from the options, and a generator that writes a minimal PDF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    if options.get("fail"):
        raise RuntimeError(str(options["fail"]))
    body = f"{context.learner_name} | {context.title} | {context.issued_on} | {context.verification_url}"
    return b"%PDF-1.4\n% " + body.encode() + b"\n%%EOF\n"
