"""Frozen views of learners' badges and badge progress: what selectors return and the REST API shows."""

from __future__ import annotations

import datetime
import enum
import uuid
from dataclasses import dataclass


class BadgeStatus(enum.StrEnum):
    """A badge credential's status, as the credentials app stores it."""

    AWARDED = "awarded"
    REVOKED = "revoked"


@dataclass(frozen=True)
class BadgeTemplateData:
    uuid: uuid.UUID
    origin: str
    name: str
    description: str
    image_url: str | None  # absolute, under CREDENTIALS_PUBLIC_URL; None without an image


@dataclass(frozen=True)
class LearnerBadgeData:
    """One of a learner's badge credentials (awarded, or revoked since)."""

    uuid: uuid.UUID
    status: BadgeStatus
    awarded_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    template: BadgeTemplateData


@dataclass(frozen=True)
class RequirementProgressData:
    id: int
    description: str
    event_type: str
    group: str
    fulfilled: bool
    fulfilled_at: datetime.datetime | None


@dataclass(frozen=True)
class BadgeProgressData:
    """A learner's progress towards one template, judged by `completion`: every group satisfied."""

    template: BadgeTemplateData
    state: str  # the template's: active or archived
    is_awarded: bool
    groups_satisfied: int
    groups_total: int
    percent: float  # groups satisfied over groups, 0 to 100
    requirements: tuple[RequirementProgressData, ...]
    missing_groups: tuple[tuple[int, ...], ...]  # requirement ids of each unsatisfied group
