"""Receivers of the event types fed to the badge processor (settings.BADGES_EVENT_TYPES): each reads
the learner from the payload and calls `services.process_badge_events`.

They run inside the event bus's consumer wrapper, batched: the wrapper hands `handle_badge_events`
each run of consecutive such events, and falls back to `handle_badge_event` one event at a time when
the run raises, so only the bad event is parked. An event that names no learner raises (parked with
the reason); a data rule that does not fit the payload is skipped with a logged reason (processor.py).
"""

from __future__ import annotations

from typing import Any

from openedx_events.tooling import EventsMetadata

from apps.core.api import LearnerIdentity

from . import rules, services
from .exceptions import BadgesError, BadgesErrorCode
from .processor import BadgeEvent


def handle_badge_event(*, metadata: EventsMetadata, **data: Any) -> None:
    handle_badge_events([(metadata, data)])


def handle_badge_events(events: list[tuple[EventsMetadata, dict[str, Any]]]) -> None:
    """Every event type fed to the badge processor, in order, in one service call."""
    services.process_badge_events(events=[_badge_event(metadata, data) for metadata, data in events])


def _badge_event(metadata: EventsMetadata, data: dict[str, Any]) -> BadgeEvent:
    user = rules.learner_of(metadata.event_type, data)
    if user is None:
        raise BadgesError(
            f"{metadata.event_type} event {metadata.id} names no learner.", code=BadgesErrorCode.NO_LEARNER
        )
    return BadgeEvent(
        event_type=metadata.event_type,
        learner=LearnerIdentity(
            lms_user_id=user.id, username=user.pii.username, email=user.pii.email, full_name=user.pii.name
        ),
        payload=data,
    )
