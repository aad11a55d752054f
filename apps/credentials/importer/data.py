"""Frozen values of an import: what the source service answered (credentials, pages, grades), as the
client read them, and what importing them did."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

# The source's credential types (`credential.type` in GET /api/v2/credentials/).
COURSE_RUN = "course-run"
PROGRAM = "program"


@dataclass(frozen=True)
class LmsApplication:
    """An OAuth application of the LMS whose client credentials buy a JWT (the secret is never shown)."""

    lms_url: str
    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class SourceAttribute:
    name: str
    value: str


@dataclass(frozen=True)
class SourceCredential:
    """One row of the source's GET /api/v2/credentials/. `problem` says why it cannot be imported as
    it is ("" when it can); then the other fields hold what could be read. `payload` is the row as the
    source sent it, kept with a skip."""

    uuid: UUID
    username: str
    kind: str  # COURSE_RUN or PROGRAM when readable
    course_run_key: str
    mode: str
    program_uuid: UUID | None
    status: str
    attributes: tuple[SourceAttribute, ...]
    date_override: datetime.datetime | None
    visible_date: datetime.datetime | None  # from a readable `visible_date` attribute
    created: datetime.datetime | None
    modified: datetime.datetime | None
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    problem: str = ""

    @property
    def attribute_map(self) -> dict[str, str]:
        return {attribute.name: attribute.value for attribute in self.attributes}


@dataclass(frozen=True)
class CredentialsPage:
    """One page of the source's credentials: `count` is the source's total, `has_next` whether its
    `next` link is set."""

    number: int
    count: int
    has_next: bool
    credentials: tuple[SourceCredential, ...]


@dataclass(frozen=True)
class LearnerRunsQuery:
    """Ask the source for one learner's course certificates (and grades) in these course runs."""

    username: str
    course_run_keys: tuple[str, ...]


@dataclass(frozen=True)
class SourceGrade:
    """A learner's grade in a course run, as the source's bulk_learner_cert_status reports it. `problem`
    says why it cannot be recorded ("" when it can)."""

    username: str
    course_run_key: str
    letter_grade: str
    percent_grade: Decimal
    verified: bool
    problem: str = ""


@dataclass(frozen=True)
class SkipData:
    source_uuid: UUID
    username: str
    reason: str


@dataclass(frozen=True)
class PageResult:
    """What importing one page did (or, in a dry run, would do); every row of the page is counted
    once. `unchanged`: rows that would change nothing here, a uuid repeated on the page included (its
    first copy decided); `kept`: rows of credentials held here (same uuid) that say something else but
    are older than this service's last change of them, so ours is kept (latest change wins).
    `course_runs` holds the (username, course run key) of its course certificates taken (not
    skipped)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    skips: tuple[SkipData, ...] = ()
    course_runs: tuple[tuple[str, str], ...] = ()

    @property
    def skipped(self) -> int:
        return len(self.skips)

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.kept + self.skipped


@dataclass(frozen=True)
class GradesResult:
    """What importing a batch of grades did: recorded, kept (this service already had a grade for the
    learner and run, which the LMS's events keep newer than the source's copy), skipped (unreadable)."""

    recorded: int = 0
    kept: int = 0
    skipped: int = 0
    reasons: tuple[str, ...] = ()
