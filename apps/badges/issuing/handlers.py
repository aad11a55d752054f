"""Our own BADGE_AWARDED and BADGE_REVOKED, read back from the bus: a badge of an issuing service's
template must now be issued or revoked there. Consuming the published events (rather than a call from
the badge processor) keeps this app optional and gets the outbox's and the consumer's guarantees: the
change is never lost and is applied at most once, in order per learner and template."""

from __future__ import annotations

import uuid

from openedx_events.learning.data import BadgeData
from openedx_events.tooling import EventsMetadata

from . import services


def handle_badge_awarded(*, metadata: EventsMetadata, badge: BadgeData) -> None:
    _record(metadata, badge, awarded=True)


def handle_badge_revoked(*, metadata: EventsMetadata, badge: BadgeData) -> None:
    _record(metadata, badge, awarded=False)


def _record(metadata: EventsMetadata, badge: BadgeData, *, awarded: bool) -> None:
    services.record_badge_change(
        credential_uuid=uuid.UUID(badge.uuid),
        template_uuid=uuid.UUID(badge.template.uuid),
        lms_user_id=badge.user.id,
        awarded=awarded,
        at=metadata.time,
    )
