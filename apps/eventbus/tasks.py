from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def relay_outbox_task() -> int:
    """Publish pending outbox rows; queued after commits and run by the beat sweep for rows left behind."""
    return services.relay_outbox().published
