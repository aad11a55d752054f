"""Benchmark issuing badges on Credly: 1,000 learners' badges through the real services against the fake
Credly server (apps/badges/tests/issuer_servers.py), started in this process on a local port.

The workload: one Credly organization (token encrypted as the admin stores it) with one badge template
linked to a template on the fake server, and ``--badges`` learners (1,000; seeded in bulk). Every run
starts from that seeded database (a snapshot restored before each run; test settings, SQLite in memory
or ``--postgres``) and from an empty fake server. What is timed:

* ``record``: ``services.record_badge_change`` for every learner (what the BADGE_AWARDED handler does),
  in transactions of ``--batch-size`` (100, the consumer's batch), with Celery on its in-memory
  transport: each commit publishes one ``sync_external_badge_task`` message, which no worker takes;
  those lost tasks are what the sweep is for;
* ``sync, 1 thread``: then every due badge synced by ``services.sync_external_badge`` in a loop (what
  the worker's task runs), one HTTP call per badge expected;
* ``sweep task (eager)``: the same, through ``tasks.sync_due_external_badges_task`` run eagerly (it
  queues ``sync_external_badge_task`` per due badge, each run at once);
* ``sync, N threads`` (``--threads``, 8; PostgreSQL only: an in-memory SQLite database is one
  connection's): the due badges split over N threads, each with its own database connection and
  HTTP session, as N worker processes would be;
* ``record + sync (eager)``: record and sync end to end, the sync running eagerly after each batch's
  commit (Celery in eager mode, as in the tests);
* ``sync, ... ms latency``: ``sync, 1 thread`` (and, on PostgreSQL, ``sync, N threads``) again with
  the fake server waiting ``--latency-ms`` (50) before each answer, as a real service's round trip
  over the network does: what more workers buy.

Every run is checked: exactly one badge per learner on the fake server, every ExternalBadge pending
with its id. HTTP calls per badge are the fake server's request log divided by the badges; SQL
statements per badge come from one more run of ``sync, 1 thread`` under ``CaptureQueriesContext``.

The outage: the badges are awarded at t = 0 while Credly answers 503 to everything for 60 seconds of
its clock (``flaky(1.0, seconds=60, status=503)``); the first try of each (eagerly, after its batch's
commit) fails and is put off by the backoff (30 s, then 60 s, 120 s...). The beat sweep runs every
``--sweep-seconds`` (default settings.BADGE_ISSUING_SWEEP_SECONDS) and syncs what is due. Nothing
sleeps: simulated time is the real time elapsed plus jumps, from one sweep to the next (or, with task
retries, to the next badge coming due). The fake server reads that clock, and a jump moves every
badge's ``next_attempt_at`` back by as much, which is what the passing of that time means to
``list_due_badge_ids``; the work between jumps is real and counts at its wall time. "Recovery to all
issued" is the simulated time from the end of the outage to the end of the sync that issued the last
badges (the wait for that sweep or retry, plus its wall time). Where the end of the outage falls
between two sweeps changes the wait, so each case runs with the sweep's first tick at 1/8, 3/8, 5/8
and 7/8 of an interval after the awards; the mean and the worst are reported. Two policies:
``sweep only`` (every task lost, or its retries used up: the beat sweep alone) and
``task retries + sweep`` (a worker retries each failed task after its backoff, as
``sync_external_badge_task`` does outside eager mode).

Usage, from the project root::

    .venv/bin/python bench/issuing_bench.py                            # SQLite in memory
    .venv/bin/python bench/issuing_bench.py --postgres                 # PostgreSQL (+ the threaded run)
    .venv/bin/python bench/issuing_bench.py --sweep-seconds 15 60 300  # outage at several intervals

``--postgres`` takes a server URL (default postgres://postgres@127.0.0.1:5432) and (re)creates its own
database ``--db-name`` (credentials_issuing_bench) and a snapshot copy beside it, all dropped at the
end. The fake server answers in well under a millisecond and runs in this process, its handler threads
sharing the GIL with the code measured: the figures measure our side. Against Credly, each call's
network latency (tens to hundreds of milliseconds) dominates, which is what more workers are for.
The report ends with a markdown table to paste. This is a script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _support import (
    BASE_DIR,
    Snapshot,
    add_database_arguments,
    bench_django,
    chunks,
)

OUTAGE_SECONDS = 60.0
POLICIES = ("sweep only", "task retries + sweep")
# The sweep's first tick after the awards, in eighths of its interval: the middles of its quarters (not
# its ends, where a tick would fall on the very end of the outage).
PHASES = (1, 3, 5, 7)
TEMPLATE_NAME = "Bench badge"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser, db_name="credentials_issuing_bench", postgres_by_default=False)
    parser.add_argument("--badges", type=int, default=1000, help="learners, one badge each")
    parser.add_argument("--batch-size", type=int, default=100, help="badge changes recorded per transaction")
    parser.add_argument("--threads", type=int, default=8, help="threads of the threaded sync (PostgreSQL)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=50.0,
        help="network latency the fake server adds to each answer in the latency runs (0: no latency runs)",
    )
    parser.add_argument(
        "--sweep-seconds",
        type=float,
        nargs="+",
        help="beat sweep intervals of the outage runs (default: settings.BADGE_ISSUING_SWEEP_SECONDS)",
    )
    return parser.parse_args()


# --- the fake server, the seeded database --------------------------------------------------------


def latency_server() -> Any:
    """The fake Credly server, made to wait `latency` seconds before each answer (outside its lock, so
    answers overlap as a real service's round trips do): a stand-in for the network."""
    from apps.badges.tests.issuer_servers import FakeCredlyServer, RecordedRequest

    class LatencyCredlyServer(FakeCredlyServer):
        latency = 0.0

        def _process(self, record: RecordedRequest, query: str) -> Any:
            if self.latency:
                time.sleep(self.latency)
            return super()._process(record, query)

    return LatencyCredlyServer()


@dataclass
class World:
    """The fake Credly server and what the seeded database names on it."""

    server: Any  # FakeCredlyServer
    org_id: str
    template_id: str
    learner_emails: list[str]

    def reset(self) -> None:
        """An empty server: no badges, no requests recorded, no faults, its own clock."""
        self.server.organizations[self.org_id].badges.clear()
        self.server.clear_requests()
        self.server.clear_faults()
        self.server.clock = time.monotonic
        self.server.latency = 0.0


def seed(server: Any, *, badges: int) -> World:
    """Migrate; one Credly organization and template, on the server and here; `badges` learners."""
    from django.core.management import call_command

    from apps.badges.issuing.models import ExternalTemplate, IssuerBackend, IssuerOrganization
    from apps.badges.models import BadgeTemplate, TemplateOrigin, TemplateState
    from apps.core.api import User

    call_command("migrate", verbosity=0, interactive=False)
    remote = server.add_organization()
    remote_template = server.add_template(remote.id, TEMPLATE_NAME)
    organization = IssuerOrganization(backend=IssuerBackend.CREDLY, external_id=remote.id, name="Bench org")
    organization.set_api_token(remote.token)
    organization.save()
    template = BadgeTemplate.objects.create(
        name=TEMPLATE_NAME, origin=TemplateOrigin.CREDLY, state=TemplateState.ACTIVE
    )
    ExternalTemplate.objects.create(template=template, organization=organization, external_id=remote_template.id)
    User.objects.bulk_create(
        [
            User(
                username=f"bench{n}",
                lms_user_id=200_000 + n,
                email=f"bench{n}@example.com",
                full_name=f"Learner Number {n}",
            )
            for n in range(badges)
        ],
        batch_size=500,
    )
    return World(
        server=server,
        org_id=remote.id,
        template_id=remote_template.id,
        learner_emails=[f"bench{n}@example.com" for n in range(badges)],
    )


@contextmanager
def celery_mode(*, eager: bool) -> Iterator[None]:
    """Eager (tasks run at once, as in the tests) or on Celery's in-memory transport, where published
    tasks stay unread: lost, as far as issuing is concerned, until the sweep finds their badges."""
    from credentials_service.celery import app

    before = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager = eager
    app.conf.broker_url = "memory://localhost/"
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url = before


# --- the work ------------------------------------------------------------------------------------


def record_all(*, batch_size: int) -> None:
    """What the BADGE_AWARDED handler does for every learner, `batch_size` changes per transaction."""
    from django.db import transaction
    from django.utils import timezone

    from apps.badges.issuing import services
    from apps.badges.models import BadgeTemplate
    from apps.core.api import User

    template_uuid = BadgeTemplate.objects.values_list("uuid", flat=True).get(name=TEMPLATE_NAME)
    user_ids = list(
        User.objects.filter(username__startswith="bench").order_by("pk").values_list("lms_user_id", flat=True)
    )
    for batch in chunks(user_ids, batch_size):
        with transaction.atomic():
            for lms_user_id in batch:
                services.record_badge_change(
                    credential_uuid=uuid.uuid4(),
                    template_uuid=template_uuid,
                    lms_user_id=lms_user_id,
                    awarded=True,
                    at=timezone.now(),
                )


def due_ids() -> list[int]:
    from apps.badges.issuing import services

    return services.list_due_badge_ids(limit=1_000_000)


def sync_sequential(ids: list[int]) -> None:
    from apps.badges.issuing import services

    for badge_id in ids:
        services.sync_external_badge(badge_id=badge_id)


def sync_threaded(ids: list[int], *, threads: int) -> None:
    """The ids dealt round-robin to `threads` threads, each with its own database connection."""
    from django.db import connection

    from apps.badges.issuing import services

    def work(share: list[int]) -> None:
        try:
            for badge_id in share:
                services.sync_external_badge(badge_id=badge_id)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(work, ids[index::threads]) for index in range(threads)]:
            future.result()


def sweep_task() -> None:
    from apps.badges.issuing import tasks

    with celery_mode(eager=True):
        tasks.sync_due_external_badges_task.delay()


def check_all_issued(world: World) -> None:
    """Exactly one badge per learner on the server; every ExternalBadge pending with its id."""
    from apps.badges.issuing.models import ExternalBadge

    issued = world.server.badges(world.org_id)
    emails = sorted(badge.recipient_email for badge in issued)
    if emails != sorted(world.learner_emails):
        raise SystemExit(f"expected one badge per learner on the server, found {len(issued)}")
    rows = set(ExternalBadge.objects.values_list("state", "external_id"))
    if rows != {("pending", badge.id) for badge in issued}:
        raise SystemExit("the ExternalBadge rows do not all name their badge on the server as pending")


# --- runs ----------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    seconds: float
    badges: int
    http_calls: int
    queries: int | None = None

    @property
    def per_second(self) -> float:
        return self.badges / self.seconds

    @property
    def calls_per_badge(self) -> float:
        return self.http_calls / self.badges


def timed(
    label: str, world: World, snapshot: Snapshot, work: Callable[[], None], *, prepare: bool, batch_size: int = 100
) -> Run:
    """Restore the seeded database, empty the server, record every award first when `prepare`
    (untimed), then time `work`; check every badge was issued once."""
    snapshot.restore()
    world.reset()
    if prepare:
        with celery_mode(eager=False):
            record_all(batch_size=batch_size)
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    check_all_issued(world)
    return Run(label, seconds, len(world.learner_emails), len(world.server.requests))


def measure(args: argparse.Namespace, world: World, snapshot: Snapshot) -> list[Run]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    runs: list[Run] = []
    # record alone (no sync: the tasks go to a queue no worker reads)
    snapshot.restore()
    world.reset()
    with celery_mode(eager=False):
        started = time.perf_counter()
        record_all(batch_size=args.batch_size)
        seconds = time.perf_counter() - started
    runs.append(Run(f"record ({args.batch_size} per transaction, tasks published)", seconds, args.badges, 0))
    print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")

    runs.append(timed("sync, 1 thread", world, snapshot, lambda: sync_sequential(due_ids()), prepare=True))
    print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")
    runs.append(timed("sweep task (eager)", world, snapshot, sweep_task, prepare=True))
    print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")
    if args.postgres:
        label = f"sync, {args.threads} threads"
        runs.append(timed(label, world, snapshot, lambda: sync_threaded(due_ids(), threads=args.threads), prepare=True))
        print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")

    def end_to_end() -> None:
        with celery_mode(eager=True):
            record_all(batch_size=args.batch_size)

    runs.append(timed("record + sync (eager, after each commit)", world, snapshot, end_to_end, prepare=False))
    print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")

    if args.latency_ms:
        # What concurrency buys against a real service: its round trips overlap.
        latency = args.latency_ms / 1000

        def slow(work: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                world.server.latency = latency
                try:
                    work()
                finally:
                    world.server.latency = 0.0

            return run

        runs.append(
            timed(
                f"sync, 1 thread, {args.latency_ms:g} ms latency",
                world,
                snapshot,
                slow(lambda: sync_sequential(due_ids())),
                prepare=True,
            )
        )
        print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")
        if args.postgres:
            runs.append(
                timed(
                    f"sync, {args.threads} threads, {args.latency_ms:g} ms latency",
                    world,
                    snapshot,
                    slow(lambda: sync_threaded(due_ids(), threads=args.threads)),
                    prepare=True,
                )
            )
            print(f"  {runs[-1].label}: {runs[-1].per_second:,.0f}/s")

    # SQL per badge of the sync, counted on a run of its own
    snapshot.restore()
    world.reset()
    with celery_mode(eager=False):
        record_all(batch_size=args.batch_size)
    ids = due_ids()
    with CaptureQueriesContext(connection) as captured:
        sync_sequential(ids)
    check_all_issued(world)
    runs[1].queries = len(captured.captured_queries)
    return runs


# --- the outage ------------------------------------------------------------------------------------


@dataclass
class Outage:
    """One outage run: the sweep's interval and phase (when its first tick falls after the awards), the
    retry policy, and what it took."""

    sweep_seconds: float
    first_sweep_at: float
    policy: str
    threads: int | None
    wait_seconds: float  # simulated: from the end of the outage to the start of the sync that finished the job
    work_seconds: float  # wall time of that last sync
    syncs: int  # sweeps (and retry firings) that found something due
    http_calls: int
    badges: int

    @property
    def recovery_to_all_issued(self) -> float:
        return self.wait_seconds + self.work_seconds


class SimulatedClock:
    """Seconds since the awards: the real time elapsed plus every jump made. The fake server reads it
    (its outage window), and a jump moves every next_attempt_at back by as much, so the backoff sees
    the same time passing as the server (the real time spent working counts for both)."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._skipped = 0.0

    def read(self) -> float:
        return time.monotonic() - self._started + self._skipped

    def advance_to(self, when: float) -> None:
        from django.db.models import F

        from apps.badges.issuing.models import ExternalBadge

        step = when - self.read()
        if step > 0:
            ExternalBadge.objects.exclude(next_attempt_at=None).update(
                next_attempt_at=F("next_attempt_at") - datetime.timedelta(seconds=step)
            )
            self._skipped += step


def next_due(clock: SimulatedClock) -> float | None:
    """When (simulated) the earliest waiting badge comes due, as a worker's retry of its task would fire."""
    from django.db.models import Min
    from django.utils import timezone

    from apps.badges.issuing.models import ExternalBadge, ExternalState

    earliest = (
        ExternalBadge.objects.filter(state=ExternalState.QUEUED)
        .exclude(next_attempt_at=None)
        .aggregate(at=Min("next_attempt_at"))["at"]
    )
    if earliest is None:
        return None
    return clock.read() + max(0.0, (earliest - timezone.now()).total_seconds())


def outage(
    world: World,
    snapshot: Snapshot,
    *,
    sweep_seconds: float,
    first_sweep_at: float,
    policy: str,
    threads: int | None,
    batch_size: int,
) -> Outage:
    """Award every badge at t = 0 as Credly goes down for OUTAGE_SECONDS; sync at each sweep (at
    first_sweep_at, then every sweep_seconds) and, with task retries, whenever a badge comes due,
    until all are issued."""
    from apps.badges.issuing.models import ExternalBadge, ExternalState

    snapshot.restore()
    world.reset()
    clock = SimulatedClock()
    world.server.clock = clock.read
    world.server.flaky(1.0, seconds=OUTAGE_SECONDS, status=503)
    with celery_mode(eager=True):  # each award's first try, right after its commit: all refused
        record_all(batch_size=batch_size)
    sync = sync_sequential if threads is None else (lambda ids: sync_threaded(ids, threads=threads))
    syncs, last_started, last_work = 0, 0.0, 0.0
    next_sweep = first_sweep_at
    while ExternalBadge.objects.exclude(state=ExternalState.PENDING).exists():
        if clock.read() > 24 * 3600:
            raise SystemExit("badges still not issued a simulated day after the outage")
        when = next_sweep
        if policy == "task retries + sweep":
            due = next_due(clock)
            when = min(when, due) if due is not None else when
        if when >= next_sweep:
            next_sweep += sweep_seconds
        clock.advance_to(when)
        ids = due_ids()
        if not ids:
            continue
        started_at, started = clock.read(), time.perf_counter()
        sync(ids)
        last_started, last_work = started_at, time.perf_counter() - started
        syncs += 1
    check_all_issued(world)
    return Outage(
        sweep_seconds=sweep_seconds,
        first_sweep_at=first_sweep_at,
        policy=policy,
        threads=threads,
        wait_seconds=last_started - OUTAGE_SECONDS,
        work_seconds=last_work,
        syncs=syncs,
        http_calls=len(world.server.requests),
        badges=len(world.learner_emails),
    )


def outages(args: argparse.Namespace, world: World, snapshot: Snapshot, intervals: list[float]) -> list[Outage]:
    """Every interval, policy and thread count, with the sweep's first tick at 1/8, 3/8, 5/8 and 7/8 of
    an interval after the awards (where the outage's end falls between two sweeps changes the wait)."""
    results = []
    for sweep_seconds in intervals:
        for policy in POLICIES:
            for threads in [None, args.threads] if args.postgres else [None]:
                for eighth in PHASES:
                    results.append(
                        outage(
                            world,
                            snapshot,
                            sweep_seconds=sweep_seconds,
                            first_sweep_at=sweep_seconds * eighth / 8,
                            policy=policy,
                            threads=threads,
                            batch_size=args.batch_size,
                        )
                    )
                runs = results[-len(PHASES) :]
                print(
                    f"  outage, sweep every {sweep_seconds:g} s, {policy}, {threads or 1} thread(s): recovery to all"
                    f" issued {', '.join(f'{o.recovery_to_all_issued:.1f}' for o in runs)} s"
                    " (first sweep at 1/8, 3/8, 5/8, 7/8 of the interval)"
                )
    return results


# --- the report ------------------------------------------------------------------------------------


def report(args: argparse.Namespace, runs: list[Run], outage_runs: list[Outage], *, backend: str) -> str:
    lines = [
        f"Issuing {args.badges:,} badges on the fake Credly server (in-process, local HTTP), {backend}, test"
        " settings (`.venv/bin/python bench/issuing_bench.py" + (" --postgres" if args.postgres else "") + "`).",
        "",
        "| run | badges | seconds | badges/s | HTTP calls/badge | SQL/badge |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        calls = f"{run.calls_per_badge:.2f}" if run.http_calls else "—"
        queries = f"{run.queries / run.badges:.1f}" if run.queries is not None else "—"
        lines.append(
            f"| {run.label} | {run.badges:,} | {run.seconds:.2f} | {run.per_second:,.0f} | {calls} | {queries} |"
        )
    lines += [
        "",
        f"A {OUTAGE_SECONDS:.0f}-second outage (every call answered 503) starting as the {args.badges:,} badges are"
        " awarded (each first try refused); simulated clock, see the script's docstring. Recovery → all issued ="
        " the simulated wait for the sweep or retry that issues the last badges + that sync's wall time; mean and"
        f" worst over the sweep's first tick at 1/8, 3/8, 5/8 and 7/8 of an interval after the awards.",
        "",
        "| sweep every | retried by | sync | recovery → all issued, mean | worst | last sync (wall) | syncs"
        " | HTTP calls/badge |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    groups: dict[tuple[float, str, int | None], list[Outage]] = {}
    for o in outage_runs:
        groups.setdefault((o.sweep_seconds, o.policy, o.threads), []).append(o)
    for (sweep_seconds, policy, threads), group in groups.items():
        recoveries = [o.recovery_to_all_issued for o in group]
        lines.append(
            f"| {sweep_seconds:g} s | {policy} | {'1 thread' if threads is None else f'{threads} threads'}"
            f" | {sum(recoveries) / len(recoveries):.1f} s | {max(recoveries):.1f} s"
            f" | {sum(o.work_seconds for o in group) / len(group):.2f} s"
            f" | {sum(o.syncs for o in group) / len(group):.1f}"
            f" | {sum(o.http_calls for o in group) / sum(o.badges for o in group):.2f} |"
        )
    return "\n".join(lines)


def run_all(args: argparse.Namespace) -> int:
    with bench_django(postgres=args.postgres, db_name=args.db_name, prefix="issuing-bench") as backend:
        from django.conf import settings

        from apps.badges.tests.issuer_servers import running

        with running(latency_server()) as server:
            settings.CREDLY_API_BASE_URL = f"{server.url}/v1/"
            started = time.perf_counter()
            world = seed(server, badges=args.badges)
            snapshot = Snapshot(postgres=args.postgres, db_name=args.db_name, label="seeded")
            print(f"migrated {backend}, seeded {args.badges:,} learners in {time.perf_counter() - started:.1f}s")
            try:
                runs = measure(args, world, snapshot)
                intervals = args.sweep_seconds or [float(settings.BADGE_ISSUING_SWEEP_SECONDS)]
                results = outages(args, world, snapshot, intervals)
            finally:
                snapshot.drop()
    print()
    print(report(args, runs, results, backend=backend))
    return 0


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
