"""The event bus's public interface: register handlers for consumed events, enqueue events to publish."""

from __future__ import annotations

from .data import OutgoingEvent
from .registry import register_batch_handler, register_handler
from .services import enqueue_event, enqueue_events, relaying_inline

__all__ = [
    "OutgoingEvent",
    "enqueue_event",
    "enqueue_events",
    "register_batch_handler",
    "register_handler",
    "relaying_inline",
]
