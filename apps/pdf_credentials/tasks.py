"""Celery tasks of PDF credentials: ids in, one service call, the retry policy here (R11)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def run_configuration_task(configuration_id: int) -> int:
    """A configuration's scheduled run (or "run now"): eligibility, then one generation task per chunk."""
    plan = services.start_run(configuration_id=configuration_id)
    for chunk in plan.chunks:
        generate_chunk_task.delay(plan.run_id, list(chunk))
    return plan.run_id


@shared_task(acks_late=True)
def generate_chunk_task(run_id: int | None, pdf_ids: list[int]) -> None:
    """Generate a chunk of PDFs; transient failures are tried again a minute later."""
    outcome = services.generate_chunk(pdf_ids=pdf_ids, run_id=run_id)
    if outcome.retry:
        generate_chunk_task.apply_async((run_id, list(outcome.retry)), countdown=60)


@shared_task
def requeue_stuck_generations_task() -> int:
    """The sweep: PDFs whose generation crashed or was lost are generated again."""
    ids = services.list_stuck_pdf_ids()
    for start in range(0, len(ids), 200):
        generate_chunk_task.delay(None, ids[start : start + 200])
    return len(ids)
