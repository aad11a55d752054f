"""Frozen values that cross app boundaries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LearnerIdentity:
    """A learner as an event names them: the LMS id and/or username, with what else it says of them."""

    lms_user_id: int | None = None
    username: str | None = None
    email: str | None = None
    full_name: str | None = None
