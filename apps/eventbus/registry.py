"""Which handler runs for which openedx-events event type.

Apps register their handlers in AppConfig.ready(); the consumer calls them inside its wrapper, so
following an event from the bus to the database never means hunting for a signal receiver.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from openedx_events.tooling import OpenEdxPublicSignal

Handler = Callable[..., None]

_handlers: dict[str, list[Handler]] = defaultdict(list)


def register_handler(signal: OpenEdxPublicSignal, handler: Handler) -> None:
    """Call `handler(metadata=..., **event_data)` for every consumed event of `signal`'s type."""
    if handler not in _handlers[signal.event_type]:
        _handlers[signal.event_type].append(handler)


def handlers_for(event_type: str) -> list[Handler]:
    return list(_handlers.get(event_type, ()))


def handled_event_types() -> list[str]:
    return sorted(event_type for event_type, handlers in _handlers.items() if handlers)


def unregister_handler(signal: OpenEdxPublicSignal, handler: Handler) -> None:
    """Stop calling `handler` for `signal`'s events (tests register throwaway handlers)."""
    if handler in _handlers.get(signal.event_type, ()):
        _handlers[signal.event_type].remove(handler)
