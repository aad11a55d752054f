"""Benchmark consuming the LMS's certificate events, at the handler level and end to end.

The load is the issue's: ``--learners`` learners (500) in one program of three courses with a program
certificate configured, and one CERTIFICATE_CREATED event per learner and course (downloadable,
verified): 1,500 events, 500 of which complete the learner's program and award its certificate.
The events go in three passes, so each kind is timed on its own: every learner's first course (the
event also creates the learner), every learner's second course, every learner's third course (each
event completes a program). Then all 1,500 are delivered again with the same event ids (duplicates).

``--mode handler`` (the default) measures the way the reference implementation was measured: in this
process, test settings, SQLite in memory (``--postgres`` for PostgreSQL). Once migrated and seeded,
the process freezes its objects out of the garbage collector (``gc.freeze()``), as the consumer
process does once started. Messages are built with the
test factory ``incoming_message`` (Avro-encoded as the LMS's producer encodes them, outside the
timing) and fed to ``apps.eventbus.consumer.process_messages`` in batches of ``--batch-size`` (100)
and of 1. The relay is kept out of the timing (``relaying_inline``: outbox rows are written, nothing
is published). Every run starts from the same migrated and seeded database (a snapshot restored
before each run). The timed runs capture no SQL; separate runs count the queries
(``CaptureQueriesContext``) and group them by verb and table per kind of event. ``--sql`` also
prints the statements of one completing event and one duplicate; ``--profile`` adds a cProfile run.

``--mode e2e`` goes through real servers: its own PostgreSQL database (``credentials_events_bench``,
recreated each run) and Redis at ``--redis-url`` under a topic prefix of its own (its streams are
deleted afterwards). The catalog is seeded, the 1,500 events are produced onto the stream with
edx-event-bus-redis's own producer (timed on their own), then ONE consumer process is started
(``manage.py run_event_consumer --topic learning-certificate-lifecycle --exit-when-idle 2``) and the
script polls the database until all 1,500 ProcessedEvent rows exist, and Redis until our topic holds
the 500 PROGRAM_CERTIFICATE_AWARDED messages. The same 1,500 events are then produced again (same
ids) and a second consumer process is timed until its group has read and acknowledged them all.
Each consumer process is stopped by the script (SIGTERM, then SIGKILL after a grace period).

Usage, from the project root::

    .venv/bin/python bench/events_bench.py                          # handler level, SQLite in memory
    .venv/bin/python bench/events_bench.py --postgres               # handler level, PostgreSQL
    .venv/bin/python bench/events_bench.py --sql --profile          # + statements per event, cProfile
    .venv/bin/python bench/events_bench.py --mode e2e               # Redis + PostgreSQL, one consumer

The reference figures and the targets (issue 4) are printed beside ours. Query counts are what
``CaptureQueriesContext`` records: every statement, SAVEPOINT/RELEASE and BEGIN/COMMIT included. The
exit status is 1 when a target is missed (``--no-target`` turns that off): at the handler level only
on SQLite, where the reference was measured; end to end on the rate after the consumer's start-up.
This is a script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _support import (
    BASE_DIR,
    DEFAULT_POSTGRES,
    Snapshot,
    add_database_arguments,
    chunks,
    format_profile,
    recreate_postgres_database,
    service_environment,
    shorten,
    sql_group,
)

CERTIFICATES_TOPIC = "learning-certificate-lifecycle"
PROGRAM_TOPIC = "learning-program-certificate-lifecycle"

# Issue 4: the reference implementation at the handler level, SQLite in memory, on this kind of machine.
REFERENCE_EVENTS_PER_S = 392.0
REFERENCE_QUERIES_PER_EVENT = 10.3
REFERENCE_AWARDS_PER_S = 289.0
REFERENCE_QUERIES_PER_AWARD = 15.0
TARGET_FACTOR = 10
TARGET_QUERIES_PER_EVENT = 8.0
TARGET_E2E_EVENTS_PER_S = 1_000.0

PASS_NAMES = (
    "course 1 (creates the learner)",
    "course 2",
    "course 3 (completes the program)",
    "all again (duplicates)",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("handler", "e2e"), default="handler")
    add_database_arguments(
        parser,
        db_name="credentials_events_bench",
        postgres_by_default=False,
        postgres_help="handler level on PostgreSQL instead of SQLite in memory "
        f"(server URL, default {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="e2e: the Redis server")
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=100, help="handler level: messages per call (1 also runs)")
    parser.add_argument(
        "--sql", action="store_true", help="handler level: print one completing and one duplicate event's SQL"
    )
    parser.add_argument("--profile", action="store_true", help="handler level: cProfile one more run")
    parser.add_argument("--no-target", action="store_true", help="exit 0 even when a target is missed")
    return parser.parse_args()


# --- the catalog and the events --------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    program_uuid: str
    run_keys: list[str]


def migrate_and_seed() -> Seeded:
    """Migrate, then one program of three courses (one run each) with its program certificate and a
    verified certificate configuration per run. Learners are not seeded: each one's first event
    creates them, as the LMS's stream does."""
    from django.core.management import call_command
    from django.db import connection

    from apps.catalog.models import Program
    from apps.catalog.tests.factories import ProgramFactory
    from apps.credentials import api as credentials_api

    call_command("migrate", verbosity=0, interactive=False)
    program: Program = ProgramFactory(course_count=3, title="Bench program (3 courses)")
    credentials_api.configure_program_certificate(program_uuid=program.uuid)
    run_keys = [pc.course.course_runs.get().key for pc in program.program_courses.order_by("position")]
    for key in run_keys:
        credentials_api.configure_course_certificate(course_run_key=key, mode="verified")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return Seeded(program_uuid=str(program.uuid), run_keys=run_keys)


def certificate_data(*, learner: int, run_key: str) -> Any:
    from opaque_keys.edx.keys import CourseKey
    from openedx_events.learning.data import CertificateData, CourseData, UserData, UserPersonalData

    username = f"bench_learner_{learner}"
    return CertificateData(
        user=UserData(
            id=100_000 + learner,
            is_active=True,
            pii=UserPersonalData(username=username, email=f"{username}@example.com", name=f"Learner {learner}"),
        ),
        course=CourseData(course_key=CourseKey.from_string(run_key)),
        mode="verified",
        grade="0.91",
        current_status="downloadable",
        download_url=f"https://lms.test/certificates/{username}/{run_key}",
        name="Verified Certificate",
    )


def certificate_passes(*, learners: int, run_keys: Sequence[str]) -> list[list[Any]]:
    """Per course, every learner's certificate payload: pass n is everyone's course n."""
    return [[certificate_data(learner=n, run_key=key) for n in range(learners)] for key in run_keys]


# --- handler level ---------------------------------------------------------------------------


@dataclass
class PassResult:
    name: str
    events: int
    seconds: float = 0.0
    queries: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    first_batch_sql: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float("nan")

    @property
    def queries_per_event(self) -> float:
        return self.queries / self.events


@dataclass
class RunResult:
    batch_size: int
    captured: bool
    passes: list[PassResult]
    outbox_rows: int
    program_certificates: int
    processed_rows: int

    def first_delivery(self) -> PassResult:
        """The three passes of first deliveries (1,500 events) as one."""
        total = PassResult(name="all first deliveries", events=sum(p.events for p in self.passes[:3]))
        for p in self.passes[:3]:
            total.seconds += p.seconds
            total.queries += p.queries
            total.groups.update(p.groups)
        return total


def run_handler_passes(
    message_passes: list[list[Any]], *, batch_size: int, capture: bool, profile: cProfile.Profile | None = None
) -> RunResult:
    """Feed the passes (then all of them again) to process_messages, `batch_size` at a time."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.credentials.models import CredentialStatus, ProgramCertificate, UserCredential
    from apps.eventbus.consumer import process_messages
    from apps.eventbus.models import OutboxEvent, ProcessedEvent
    from apps.eventbus.services import relaying_inline

    everything = [m for messages in message_passes for m in messages]
    results = []
    with relaying_inline():
        for name, messages, duplicates in zip(
            PASS_NAMES, [*message_passes, everything], (False, False, False, True), strict=True
        ):
            result = PassResult(name=name, events=len(messages))
            for batch in chunks(messages, batch_size):
                if capture:
                    # The log is a bounded deque: once full, CaptureQueriesContext would see nothing.
                    connection.queries_log.clear()
                    with CaptureQueriesContext(connection) as ctx:
                        outcome = process_messages(batch)
                    statements = [q["sql"] for q in ctx.captured_queries]
                    result.queries += len(statements)
                    result.groups.update(sql_group(s) for s in statements)
                    if not result.first_batch_sql:
                        result.first_batch_sql = statements
                else:
                    if profile is not None:
                        profile.enable()
                    started = time.perf_counter()
                    outcome = process_messages(batch)
                    result.seconds += time.perf_counter() - started
                    if profile is not None:
                        profile.disable()
                expected = outcome.duplicates if duplicates else outcome.processed
                if expected != len(batch):
                    raise RuntimeError(f"{name}: {outcome} for a batch of {len(batch)}: {outcome.parked_reasons[:1]}")
            results.append(result)
    program_type = ContentType.objects.get_for_model(ProgramCertificate)
    return RunResult(
        batch_size=batch_size,
        captured=capture,
        passes=results,
        outbox_rows=OutboxEvent.objects.count(),
        program_certificates=UserCredential.objects.filter(
            credential_content_type=program_type, status=CredentialStatus.AWARDED
        ).count(),
        processed_rows=ProcessedEvent.objects.count(),
    )


def build_messages(payload_passes: list[list[Any]]) -> list[list[Any]]:
    from openedx_events.learning.signals import CERTIFICATE_CREATED

    from apps.eventbus.tests.factories import incoming_message

    return [
        [incoming_message(CERTIFICATE_CREATED, topic=CERTIFICATES_TOPIC, certificate=p) for p in payloads]
        for payloads in payload_passes
    ]


def check_run(run: RunResult, *, learners: int) -> None:
    if run.outbox_rows != learners or run.program_certificates != learners or run.processed_rows != 3 * learners:
        raise RuntimeError(
            f"batch {run.batch_size}: {run.outbox_rows} outbox rows, {run.program_certificates} program"
            f" certificates, {run.processed_rows} processed events; expected {learners}, {learners}, {3 * learners}"
        )


def handler_mode(args: argparse.Namespace) -> int:
    import django

    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
        if args.postgres is None:
            database_url, backend = "sqlite://:memory:", "SQLite in memory"
        else:
            database_url = recreate_postgres_database(args.postgres, args.db_name)
            backend = f"PostgreSQL ({args.db_name})"
        os.environ.update(
            service_environment(database_url=database_url, var_dir=Path(tmp), redis_url=args.redis_url, prefix="bench")
        )
        django.setup()

        started = time.perf_counter()
        seeded = migrate_and_seed()
        snapshot = Snapshot(postgres=args.postgres, db_name=args.db_name)
        print(f"migrated and seeded {backend} in {time.perf_counter() - started:.1f}s: program {seeded.program_uuid}")
        # As run_event_consumer does once started: what start-up loaded stays out of the collector's passes.
        gc.freeze()
        started = time.perf_counter()
        message_passes = build_messages(certificate_passes(learners=args.learners, run_keys=seeded.run_keys))
        total = sum(len(m) for m in message_passes)
        print(f"built {total} CERTIFICATE_CREATED messages in {time.perf_counter() - started:.1f}s (not timed below)")

        try:
            # Warm-up: first use of the Avro schemas, caches, the ORM's compiled paths.
            snapshot.restore()
            run_handler_passes([m[:20] for m in message_passes], batch_size=20, capture=False)

            batch_sizes = sorted({args.batch_size, 1}, reverse=True)
            timed: dict[int, RunResult] = {}
            counted: dict[int, RunResult] = {}
            for size in batch_sizes:
                snapshot.restore()
                timed[size] = run_handler_passes(message_passes, batch_size=size, capture=False)
                check_run(timed[size], learners=args.learners)
                snapshot.restore()
                counted[size] = run_handler_passes(message_passes, batch_size=size, capture=True)
                check_run(counted[size], learners=args.learners)
            profile_text = ""
            if args.profile:
                snapshot.restore()
                profile = cProfile.Profile()
                run_handler_passes(message_passes, batch_size=args.batch_size, capture=False, profile=profile)
                profile_text = format_profile(profile)
        finally:
            snapshot.drop()

    print()
    print(
        f"Handler level, {backend}: {args.learners} learners x 3 courses = {total} CERTIFICATE_CREATED events,"
        " then the same again (duplicates)"
    )
    missed = False
    for size in batch_sizes:
        missed |= print_handler_results(timed[size], counted[size], learners=args.learners)
    print_query_groups(counted[args.batch_size])
    if args.sql:
        print_event_sql(counted[1])
    if profile_text:
        print(f"\ncProfile of one run at batch size {args.batch_size} (all four passes, no SQL capture):")
        print(profile_text)
    if missed and not args.no_target and args.postgres is None:
        print("\nA target is missed (reference x10 events/s and awards/s, <= 8 queries/event).")
        return 1
    return 0


def print_handler_results(timed: RunResult, counted: RunResult, *, learners: int) -> bool:
    """Print one batch size's figures beside the reference; return whether a target is missed."""
    print(f"\n  batch size {timed.batch_size}")
    print(f"    {'':34} {'events':>7} {'seconds':>8} {'events/s':>9} {'queries/event':>14}")
    for t, c in [
        *zip(timed.passes[:3], counted.passes[:3], strict=True),
        (timed.first_delivery(), counted.first_delivery()),
    ]:
        print(f"    {t.name:34} {t.events:7d} {t.seconds:8.2f} {t.per_second:9.0f} {c.queries_per_event:14.2f}")
    t, c = timed.passes[3], counted.passes[3]
    print(f"    {t.name:34} {t.events:7d} {t.seconds:8.2f} {t.per_second:9.0f} {c.queries_per_event:14.2f}")
    print(f"    outbox rows written: {timed.outbox_rows} (expected {learners}, none relayed: relaying_inline)")

    not_completing = timed.passes[0].events + timed.passes[1].events
    nc_per_second = not_completing / (timed.passes[0].seconds + timed.passes[1].seconds)
    nc_queries = (counted.passes[0].queries + counted.passes[1].queries) / not_completing
    all_first = timed.first_delivery()
    awards = timed.passes[2]
    award_queries = counted.passes[2].queries_per_event
    rows = [
        (
            "course-certificate events/s (courses 1-2)",
            nc_per_second,
            REFERENCE_EVENTS_PER_S,
            nc_queries,
            REFERENCE_QUERIES_PER_EVENT,
        ),
        (
            "course-certificate events/s (all 1,500)",
            all_first.per_second,
            REFERENCE_EVENTS_PER_S,
            counted.first_delivery().queries_per_event,
            REFERENCE_QUERIES_PER_EVENT,
        ),
        (
            "program certificates awarded/s (course 3)",
            awards.per_second,
            REFERENCE_AWARDS_PER_S,
            award_queries,
            REFERENCE_QUERIES_PER_AWARD,
        ),
    ]
    print(f"    {'':42} {'ours/s':>8} {'ref/s':>6} {'target/s':>9} {'ours q/ev':>10} {'ref q/ev':>9} {'target':>7}")
    missed = False
    for label, ours, reference, queries, reference_queries in rows:
        target = reference * TARGET_FACTOR
        mark = "" if ours >= target and queries <= TARGET_QUERIES_PER_EVENT else "  (missed)"
        missed |= bool(mark)
        print(
            f"    {label:42} {ours:8.0f} {reference:6.0f} {target:9.0f} {queries:10.2f}"
            f" {reference_queries:9.1f} {'<= 8':>7}{mark}"
        )
    return missed


def print_query_groups(counted: RunResult) -> None:
    print(f"\n  queries per event by verb and table, batch size {counted.batch_size} (pass total / events in it)")
    columns = counted.passes
    totals: Counter[str] = Counter()
    for p in columns:
        totals.update(p.groups)
    heads = ["course 1", "course 2", "course 3", "dupes"]
    print(f"    {'':52}" + "".join(f"{h:>10}" for h in heads))
    for group, _ in totals.most_common():
        cells = "".join(f"{p.groups[group] / p.events:10.2f}" for p in columns)
        print(f"    {group[:52]:52}{cells}")
    print(f"    {'total':52}" + "".join(f"{p.queries_per_event:10.2f}" for p in columns))


def print_event_sql(counted_single: RunResult) -> None:
    for title, statements in (
        ("one completing event (course 3), batch of 1", counted_single.passes[2].first_batch_sql),
        ("one duplicate event, batch of 1", counted_single.passes[3].first_batch_sql),
    ):
        print(f"\n  SQL of {title}: {len(statements)} statements")
        for n, sql in enumerate(statements, 1):
            print(f"    {n:2d}. {shorten(sql)}")


# --- end to end ------------------------------------------------------------------------------


def produce(payloads: Sequence[Any], *, ids: Sequence[uuid.UUID] | None = None) -> list[uuid.UUID]:
    """Send with edx-event-bus-redis's producer, exactly as an LMS would; `ids` redelivers."""
    import attr
    from openedx_events.learning.signals import CERTIFICATE_CREATED

    from apps.eventbus.tests.factories import send_with_lms_producer

    metadata = [CERTIFICATE_CREATED.generate_signal_metadata() for _ in payloads]
    if ids is not None:
        metadata = [attr.evolve(m, id=event_id) for m, event_id in zip(metadata, ids, strict=True)]
    return send_with_lms_producer(
        topic=CERTIFICATES_TOPIC,
        events=[(CERTIFICATE_CREATED, {"certificate": p}, m) for p, m in zip(payloads, metadata, strict=True)],
    )


@dataclass
class ConsumerRun:
    process: subprocess.Popen[str]
    started: float
    ready: float | None = None
    lines: list[str] = field(default_factory=list)


def start_consumer(env: dict[str, str], log: Any) -> ConsumerRun:
    command = [
        sys.executable,
        "manage.py",
        "run_event_consumer",
        "--topic",
        CERTIFICATES_TOPIC,
        "--exit-when-idle",
        "2",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=log, text=True
    )
    run = ConsumerRun(process=process, started=started)

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if run.ready is None and line.startswith("Consuming"):
                run.ready = time.perf_counter()  # Django set up, checks passed, joined the group
            run.lines.append(line.rstrip())

    threading.Thread(target=read_stdout, daemon=True).start()
    return run


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # the consumer finishes its batch and leaves its loop
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(
    condition: Callable[[], bool], *, process: subprocess.Popen[str], timeout: float, what: str, every: float = 0.02
) -> float:
    """Poll until `condition` holds; return the time it did (perf_counter). Raises if the consumer
    exits first or the timeout passes."""
    deadline = time.perf_counter() + timeout
    while True:
        if condition():
            return time.perf_counter()
        if process.poll() is not None and not condition():
            raise RuntimeError(f"the consumer exited ({process.returncode}) before {what}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def e2e_mode(args: argparse.Namespace) -> int:
    import django

    server = args.postgres or DEFAULT_POSTGRES
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
        var_dir = Path(tmp)
        database_url = recreate_postgres_database(server, args.db_name)
        env = service_environment(database_url=database_url, var_dir=var_dir, redis_url=args.redis_url, prefix=prefix)
        os.environ.update(env)
        django.setup()
        import redis

        client = redis.Redis.from_url(args.redis_url)
        try:
            return run_e2e(args, env=env, var_dir=var_dir, client=client, prefix=prefix)
        finally:
            for key in client.scan_iter(f"{prefix}-*"):
                client.delete(key)
            client.close()


def run_e2e(args: argparse.Namespace, *, env: dict[str, str], var_dir: Path, client: Any, prefix: str) -> int:
    from django.db import connection
    from edx_event_bus_redis.internal.message import RedisMessage
    from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED

    from apps.eventbus.models import OutboxEvent, OutboxStatus, ParkedEvent, ProcessedEvent

    started = time.perf_counter()
    seeded = migrate_and_seed()
    print(f"migrated and seeded PostgreSQL ({args.db_name}) in {time.perf_counter() - started:.1f}s")
    payloads = [p for course in certificate_passes(learners=args.learners, run_keys=seeded.run_keys) for p in course]
    total = len(payloads)
    in_stream, out_stream = f"{prefix}-{CERTIFICATES_TOPIC}", f"{prefix}-{PROGRAM_TOPIC}"

    started = time.perf_counter()
    ids = produce(payloads)
    produce_seconds = time.perf_counter() - started
    if client.xlen(in_stream) != total:
        raise RuntimeError(f"{client.xlen(in_stream)} messages on {in_stream}, expected {total}")
    connection.close()  # the consumer gets the database to itself, but for the polling below

    log_path = var_dir / "consumer.log"
    with open(log_path, "w") as log:
        # First delivery: until every event is applied, then until every award is published.
        consumer = start_consumer(env, log)
        try:
            applied_at = wait_for(
                lambda: ProcessedEvent.objects.count() >= 1, process=consumer.process, timeout=120, what="a first event"
            )
            first_at = applied_at
            applied_at = wait_for(
                lambda: ProcessedEvent.objects.count() >= total,
                process=consumer.process,
                timeout=600,
                what=f"{total} processed events",
            )
            published_at = wait_for(
                lambda: client.xlen(out_stream) >= args.learners,
                process=consumer.process,
                timeout=120,
                what=f"{args.learners} messages on {out_stream}",
            )
        except BaseException:
            stop(consumer.process)
            sys.stderr.write(log_path.read_text()[-5000:])
            raise
        stop(consumer.process)

        # Redelivery: the same events (same ids) again, one new consumer process.
        started = time.perf_counter()
        produce(payloads, ids=ids)
        reproduce_seconds = time.perf_counter() - started
        replay = start_consumer(env, log)
        try:
            replayed_at = wait_for(
                lambda: group_done(client, in_stream, expected_read=2 * total),
                process=replay.process,
                timeout=600,
                what=f"the group to read and acknowledge {2 * total} messages",
            )
        except BaseException:
            stop(replay.process)
            sys.stderr.write(log_path.read_text()[-5000:])
            raise
        stop(replay.process)

    awarded = 0
    for entry in client.xrange(out_stream):
        message = RedisMessage.parse(entry, out_stream)
        awarded += message.event_metadata.event_type == PROGRAM_CERTIFICATE_AWARDED.event_type
    processed = ProcessedEvent.objects.count()
    parked = ParkedEvent.objects.count()
    outbox = dict(Counter(OutboxEvent.objects.values_list("status", flat=True)))
    connection.close()

    assert consumer.ready is not None and replay.ready is not None
    startup = consumer.ready - consumer.started
    to_all = applied_at - consumer.started
    after_startup = total / (applied_at - consumer.ready)
    mark = "" if after_startup >= TARGET_E2E_EVENTS_PER_S else "  (missed)"
    replay_after_startup = total / (replayed_at - replay.ready)
    rows = [
        (
            "produced with edx-event-bus-redis's producer (not counted below)",
            f"{produce_seconds:.2f}s ({total / produce_seconds:.0f}/s)",
        ),
        ("consumer start-up (process start -> consuming)", f"{startup:.2f}s"),
        ("first batch committed", f"{first_at - consumer.started:.2f}s after process start"),
        (f"all {total} applied (ProcessedEvent rows)", f"{to_all:.2f}s after process start"),
        (
            f"all {args.learners} awards published on our topic",
            f"{published_at - consumer.started:.2f}s after process start",
        ),
        ("events/s end to end, start-up included", f"{total / to_all:.0f}"),
        (
            "events/s end to end, after start-up",
            f"{after_startup:.0f}  (target >= {TARGET_E2E_EVENTS_PER_S:.0f}){mark}",
        ),
        ("PROGRAM_CERTIFICATE_AWARDED on our topic", f"{awarded} (expected {args.learners})"),
        ("processed / parked events", f"{processed} / {parked}"),
        ("outbox rows by status", ", ".join(f"{k} {v}" for k, v in sorted(outbox.items()))),
        (f"redelivered the same {total} (same ids): produced in", f"{reproduce_seconds:.2f}s"),
        ("  second consumer's start-up", f"{replay.ready - replay.started:.2f}s"),
        ("  all read and acknowledged", f"{replayed_at - replay.started:.2f}s after process start"),
        ("  duplicates/s after start-up", f"{replay_after_startup:.0f}"),
    ]
    print()
    print(
        f"End to end: Redis ({args.redis_url}, prefix {prefix}), PostgreSQL ({args.db_name}), one consumer process"
        f" (batch 100); {args.learners} learners x 3 courses = {total} CERTIFICATE_CREATED events"
    )
    for label, value in rows:
        print(f"  {label:60} {value}")
    consistent = (
        awarded == args.learners
        and processed == total
        and parked == 0
        and outbox == {OutboxStatus.PUBLISHED: args.learners}
    )
    if not consistent:
        print("  INCONSISTENT: see the counts above")
        return 1
    if mark and not args.no_target:
        print("\nThe end-to-end target is missed.")
        return 1
    return 0


def group_done(client: Any, stream: str, *, expected_read: int) -> bool:
    """Whether the consumer group has read `expected_read` entries of the stream and acknowledged all."""
    [group] = client.xinfo_groups(stream)
    return int(group["entries-read"] or 0) >= expected_read and int(group["pending"]) == 0


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    if args.mode == "e2e":
        return e2e_mode(args)
    return handler_mode(args)


if __name__ == "__main__":
    sys.exit(main())
