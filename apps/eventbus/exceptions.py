from __future__ import annotations

import enum

from apps.core.api import DomainError


class EventBusErrorCode(enum.Enum):
    UNREADABLE_MESSAGE = "unreadable_message"
    NO_TOPIC = "no_topic"
    PUBLISH_FAILED = "publish_failed"


class EventBusError(DomainError):
    pass


class UnreadableMessageError(EventBusError):
    """The message's headers or bytes cannot be turned into an event: it can only be parked."""


class PublishError(Exception):
    """The broker did not acknowledge a message. Always retryable: the row stays pending."""


class ConsumeError(Exception):
    """The bus could not be read or acknowledged (broker, Schema Registry). Always retryable: nothing
    was acknowledged, and the consumer re-reads from its last acknowledged position."""
