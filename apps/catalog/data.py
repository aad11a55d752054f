"""Frozen views of the catalog that other apps receive from `catalog.api`."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OrganizationData:
    uuid: uuid.UUID
    key: str
    name: str
    certificate_logo_image_url: str


@dataclass(frozen=True)
class CourseRunData:
    id: int
    key: str
    title: str
    start: datetime.datetime | None
    end: datetime.datetime | None
    pacing_type: str
    certificate_available_date: datetime.datetime | None
    # True once the LMS has set the date itself (even to none); see CourseRun.
    certificate_available_date_from_lms: bool = False


@dataclass(frozen=True)
class CourseRunChangeData:
    """What `record_course_run` did to one run. `before` is None for a run it created; `after` is None
    when it ignored the run (its course is not in the catalog)."""

    key: str
    before: CourseRunData | None
    after: CourseRunData | None

    @property
    def ignored(self) -> bool:
        return self.after is None

    @property
    def changed(self) -> bool:
        return self.after is not None and self.before != self.after


@dataclass(frozen=True)
class CourseData:
    id: int
    uuid: uuid.UUID
    key: str
    title: str
    runs: tuple[CourseRunData, ...]


@dataclass(frozen=True)
class ProgramData:
    id: int
    uuid: uuid.UUID
    title: str
    type: str
    type_slug: str
    status: str
    organizations: tuple[OrganizationData, ...]
    courses: tuple[CourseData, ...]

    @property
    def course_run_ids(self) -> list[int]:
        return [run.id for course in self.courses for run in course.runs]


@dataclass
class LoadSummary:
    """Counts from one `load_catalog` run: what was created and what changed."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, *, created: bool, changed: bool = True) -> None:
        bucket = self.created if created else self.updated
        if created or changed:
            bucket[kind] = bucket.get(kind, 0) + 1
