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
# Per event type: each batch handler with the single-event handler whose effects it has.
_batch_handlers: dict[str, dict[BatchHandler, Handler]] = defaultdict(dict)


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


def register_batch_handler(signal: OpenEdxPublicSignal, handler: BatchHandler, *, replaces: Handler) -> None:
    """Let `handler(events)` apply, in one go and in order, the events of `signal`'s type in a run of
    consecutive batched events, instead of `replaces` (a registered single-event handler of that type)
    applying them one at a time. One batch handler may serve several types, and several apps may each
    batch their own handler of one type. It must have the effects of `replaces`, which stays
    registered: it applies the events one by one when a batch handler of the run raises, and replays
    parked events."""
    if replaces not in _handlers.get(signal.event_type, ()):
        raise ValueError(f"{replaces!r} is not a handler of {signal.event_type}: register it first")
    _batch_handlers[signal.event_type][handler] = replaces


def batch_handlers_for(event_type: str) -> list[BatchHandler]:
    return list(_batch_handlers.get(event_type, {}))


def unbatched_handlers_for(event_type: str) -> list[Handler]:
    """The single-event handlers of this type that no batch handler stands for."""
    replaced = set(_batch_handlers.get(event_type, {}).values())
    return [handler for handler in _handlers.get(event_type, ()) if handler not in replaced]


def unregister_batch_handler(signal: OpenEdxPublicSignal, handler: BatchHandler) -> None:
    """Apply `signal`'s events one by one again (tests register throwaway batch handlers)."""
    _batch_handlers.get(signal.event_type, {}).pop(handler, None)
