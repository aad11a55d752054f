"""The two pluggable parts of a PDF credential, named by dotted path on a credential type (R13):

- a **processor** finds the learners eligible for a configuration:
  ``processor(configuration: ConfigurationData, options: dict) -> list[EligibleLearner]``;
- a **generator** renders one learner's PDF:
  ``generator(context: CredentialContext, options: dict, assets: AssetSource) -> bytes``.

Each may carry a ``validate_options(options: dict) -> None`` attribute (set it with the
`checks_options` decorator) raising ``PluginError`` naming the bad option; it is called when a
credential type or configuration is saved in the admin and by the start-up check. Options are the
type's defaults with the configuration's overrides merged over them.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.utils.module_loading import import_string

from .exceptions import PdfCredentialsError, PdfCredentialsErrorCode


class PluginError(PdfCredentialsError):
    """A processor or generator that cannot be loaded, or options it refuses."""


@dataclass(frozen=True)
class ConfigurationData:
    """What a processor knows of the configuration it runs for: exactly one of a course run or a program."""

    id: int
    course_run_key: str = ""
    program_uuid: uuid.UUID | None = None


@dataclass(frozen=True)
class EligibleLearner:
    """A learner a processor found eligible, with what the PDF prints about them."""

    user_id: int
    name: str  # as printed: the learner's full name, else their username


@dataclass(frozen=True)
class Signatory:
    name: str
    title: str = ""
    organization: str = ""


@dataclass(frozen=True)
class CredentialContext:
    """Everything a generator may print on one learner's PDF."""

    learner_name: str
    title: str  # the course or program title
    issued_on: datetime.date
    issuer: str  # the organization(s) offering the course or program
    verification_url: str  # the public page proving the credential (for the QR code)
    verification_uuid: uuid.UUID
    signatories: tuple[Signatory, ...] = field(default_factory=tuple)


class AssetSource(Protocol):
    """Where a generator reads the assets its options name (template PDFs, fonts, images), by slug."""

    def read(self, slug: str) -> bytes:
        """The asset's bytes; raises PluginError naming a slug no asset has."""
        ...


Processor = Callable[[ConfigurationData, Mapping[str, Any]], list[EligibleLearner]]
Generator = Callable[[CredentialContext, Mapping[str, Any], AssetSource], bytes]


def load(path: str, *, kind: str) -> Callable[..., Any]:
    """The callable at a dotted path; raises PluginError naming the path when it cannot be imported
    or is not callable."""
    try:
        plugin = import_string(path)
    except ImportError as error:
        raise PluginError(
            f"{path!r} cannot be imported as a {kind}: {error}", code=PdfCredentialsErrorCode.BAD_PLUGIN, field=kind
        ) from None
    if not callable(plugin):
        raise PluginError(
            f"{path!r} is not callable, so it cannot be a {kind}.", code=PdfCredentialsErrorCode.BAD_PLUGIN, field=kind
        )
    return plugin  # type: ignore[no-any-return]


def validate(path: str, options: Mapping[str, Any], *, kind: str) -> None:
    """Load the plugin and let it check the options (if it has `validate_options`); raises PluginError."""
    plugin = load(path, kind=kind)
    validator = getattr(plugin, "validate_options", None)
    if validator is not None:
        validator(dict(options))


def checks_options[F: Callable[..., Any]](validator: Callable[[dict[str, Any]], None]) -> Callable[[F], F]:
    """Attach an options validator to a processor or generator: ``@checks_options(my_validator)``."""

    def attach(plugin: F) -> F:
        plugin.validate_options = validator  # type: ignore[attr-defined]
        return plugin

    return attach
