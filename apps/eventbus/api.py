"""The event bus's public interface: register handlers for consumed events, enqueue events to publish."""

from __future__ import annotations

from .registry import register_handler
from .services import enqueue_event

__all__ = ["enqueue_event", "register_handler"]
