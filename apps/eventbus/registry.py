"""Which handler runs for which openedx-events event type.

Apps register their handlers in AppConfig.ready(); the consumer calls them inside its wrapper, so
following an event from the bus to the database never means hunting for a signal receiver.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from openedx_events.tooling import EventsMetadata, OpenEdxPublicSignal

Handler = Callable[..., None]
BatchHandler = Callable[[list[tuple[EventsMetadata, dict[str, Any]]]], None]

_handlers: dict[str, list[Handler]] = defaultdict(list)
_batch_handlers: dict[str, BatchHandler] = {}


def register_handler(signal: OpenEdxPublicSignal, handler: Handler) -> None:
    """Call `handler(metadata=..., **event_data)` for every consumed event of `signal`'s type."""
    if handler not in _handlers[signal.event_type]:
        _handlers[signal.event_type].append(handler)


def handlers_for(event_type: str) -> list[Handler]:
    return list(_handlers.get(event_type, ()))


def unregister_handler(signal: OpenEdxPublicSignal, handler: Handler) -> None:
    """Stop calling `handler` for `signal`'s events (tests register throwaway handlers)."""
    if handler in _handlers.get(signal.event_type, ()):
        _handlers[signal.event_type].remove(handler)


def register_batch_handler(signal: OpenEdxPublicSignal, handler: BatchHandler) -> None:
    """Let `handler(events)` apply, in one go and in order, consecutive events of a batch whose types
    share it (one handler may serve several types: it is then one run). It must have the effects of
    the types' single-event handlers, which stay registered: they apply the events of a run one by
    one when the batch handler raises, and replay parked events. One batch handler per type."""
    _batch_handlers[signal.event_type] = handler


def batch_handler_for(event_type: str) -> BatchHandler | None:
    return _batch_handlers.get(event_type)


def unregister_batch_handler(signal: OpenEdxPublicSignal, handler: BatchHandler) -> None:
    """Apply `signal`'s events one by one again (tests register throwaway batch handlers)."""
    if _batch_handlers.get(signal.event_type) is handler:
        del _batch_handlers[signal.event_type]
