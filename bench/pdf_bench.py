"""Benchmark the whole PDF credentials pipeline in one process against real parts: PostgreSQL (or SQLite
in memory), S3 through moto's server (a real HTTP endpoint on a local port, boto3, django-storages,
configured as ``PDF_STORAGE=s3`` configures it), the shipped ``passing_grade`` processor and
``overlay_generator``.

The workload: a course run with ``--learners`` (10,000) passing learners (users bulk-created, grades
recorded by ``credentials.api``'s batch ``record_grades``), named in turn in Latin, Cyrillic, CJK and
Arabic script; a credential type of the shipped processor and the overlay generator on a template asset
(the A4-landscape template of ``pdf_render_bench.py``: a border, a heading, 400 vector curves and a
600 x 400 noise image, about 650 KiB; or ``--template FILE``), uploaded as a ``CredentialAsset`` of kind
template; a configuration with ``notify_learners=False`` (and the locmem email backend anyway).

What is timed, in this one process:

1. ``services.start_run``: eligibility, the pending rows and the learners' credentials, for N learners:
   seconds and SQL statements;
2. generation of every chunk of the plan as ``tasks.generate_chunk_task`` does it (one
   ``services.generate_chunk`` per chunk, which renders in this thread while the service's uploader
   thread sends the previous PDF to S3): PDFs rendered AND uploaded per second, ms per PDF of each
   chunk (p50, max), render and S3 save ms per PDF (p50, p95), SQL statements and S3 requests per PDF,
   and the mean time per PDF in this thread:
   in the generator (render), in SQL (executing statements and commits; building the queries is the
   ORM's, in "the rest"), waiting for an upload to finish (the uploads run ahead by at most two), and
   the rest. The storage's ``save`` (S3) runs in the uploader thread, overlapping the rendering, so
   its time is reported apart and is not part of the wall time (timers around the generator, the
   storage, each statement and commit, and each wait for an upload: microseconds each). Also the
   process's CPU time per PDF (both threads) and the uploader thread's own, and its RSS at the start,
   after the chunk that passes 1,000 PDFs, after the one that passes half of them and at the end, and
   the most after any chunk (flat memory is the aim). Then checked: every PDF generated, the run
   finished, and the bucket holds exactly the N files the rows name;
3. a re-run of the configuration (``tasks.run_configuration_task``, nothing new to generate): seconds
   and SQL statements, and no new row.

With ``--profile N`` the script then re-issues N PDFs and generates them again under cProfile (which
sees both threads, so the uploads are in it), and prints where the time goes (that pass also deletes
each old file: not the workload of step 2). A what-if: ``--light-template`` (the same template without
its noise image: PDFs of about 50 KiB instead of 700).

Usage, from the project root::

    .venv/bin/python bench/pdf_bench.py                       # 10,000 learners on PostgreSQL
    .venv/bin/python bench/pdf_bench.py --learners 2000       # a quick run
    .venv/bin/python bench/pdf_bench.py --sqlite              # SQLite in memory
    .venv/bin/python bench/pdf_bench.py --learners 2000 --profile 1000
    .venv/bin/python bench/pdf_bench.py --learners 2000 --light-template --no-target

PostgreSQL: ``--postgres`` names the server (default postgres://postgres@127.0.0.1:5432); the script
(re)creates its own database ``--db-name`` (credentials_pdf_bench) and drops it at the end. moto's
server runs as a subprocess on a free port and is stopped at the end; it keeps every object in memory
(about 700 KiB per PDF with the default template: some 7 GiB for 10,000). Test settings, with DEBUG
off. The exit status is 1 when generation makes fewer than 50 PDFs/s (``--no-target`` turns that off)
and the script stops with an error when a check fails. The report ends with markdown tables to paste.
This is a script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from _support import (
    BASE_DIR,
    add_database_arguments,
    chunks,
    drop_postgres_database,
    format_profile,
    recreate_postgres_database,
    service_environment,
    sql_group,
)
from pdf_render_bench import NAMES, make_template, rss_mb

TARGET_PER_SECOND = 50
BUCKET = "credentials-pdf-bench"
COURSE_RUN_KEY = "course-v1:BenchX+CS101+2026"
TEMPLATE_SLUG = "bench-template"
RSS_EARLY = 1000  # PDFs generated at the second RSS sample


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10_000, help="passing learners, one PDF each (10,000)")
    add_database_arguments(parser, db_name="credentials_pdf_bench", postgres_by_default=True)
    parser.add_argument("--template", type=Path, help="a template PDF to use instead of the generated one")
    parser.add_argument("--light-template", action="store_true", help="the generated template without its noise image")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then profile N re-issued PDFs")
    parser.add_argument("--no-target", action="store_true", help="exit 0 even below 50 PDFs/s")
    args = parser.parse_args()
    if args.learners < 2:
        parser.error("--learners must be at least 2")
    return args


def light_template() -> bytes:
    """The generated template's border, heading and 400 vector curves, without its noise image."""
    return make_template(with_image=False)


# --- moto's S3 server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """moto's S3 in server mode, in its own process on a free local port (as the tests run it)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("moto's server did not start") from None
                time.sleep(0.1)
        yield endpoint, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )


def bucket_keys(client: Any) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


# --- meters ------------------------------------------------------------------------------------------


@dataclass
class Meter:
    """SQL statements (by text) and their time, through a Django execute wrapper; the time spent in the
    generator, waiting for an upload, and in the storage's save (in the uploader thread: its wall and
    CPU time) and delete; S3 requests by operation (botocore's before-call event on each thread's
    client). Counting only: nothing per statement is kept but a counter."""

    statements: Counter[str] = field(default_factory=Counter)
    commits: int = 0
    sql_seconds: float = 0.0  # statements and commits
    render_seconds: float = 0.0
    render_timings: list[float] = field(default_factory=list)
    upload_wait_seconds: float = 0.0  # this thread, waiting for the uploader
    storage_seconds: float = 0.0  # the uploader thread's saves (and deletes, wherever they run)
    storage_cpu_seconds: float = 0.0  # the uploader thread's CPU time in its saves
    save_timings: list[float] = field(default_factory=list)
    s3_calls: Counter[str] = field(default_factory=Counter)
    pdf_bytes: int = 0

    @property
    def queries(self) -> int:
        return sum(self.statements.values())

    def groups(self) -> Counter[str]:
        grouped: Counter[str] = Counter()
        for sql, count in self.statements.items():
            grouped[sql_group(sql)] += count
        return grouped

    def execute(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements[sql] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql_seconds += time.perf_counter() - started

    def commit(self, commit: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            commit()
        finally:
            self.commits += 1
            self.sql_seconds += time.perf_counter() - started

    def on_s3_call(self, model: Any, **kwargs: Any) -> None:
        self.s3_calls[model.name] += 1


class TimedStorage:
    """The PDF storage, its save and delete timed, and the S3 client of each thread that calls them
    watched; everything else passed through."""

    def __init__(self, storage: Any, meter: Meter) -> None:
        self._storage = storage
        self._meter = meter
        self.watched: list[Any] = []  # the event emitters of the clients watched, to unregister

    def watch(self) -> None:
        """The meter on this thread's S3 client (django-storages keeps one per thread)."""
        events = self._storage.connection.meta.client.meta.events
        if not any(events is watched for watched in self.watched):
            events.register("before-call.s3", self._meter.on_s3_call, unique_id="pdf-bench")
            self.watched.append(events)

    def save(self, name: str, content: Any, *args: Any, **kwargs: Any) -> str:
        self.watch()
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return str(self._storage.save(name, content, *args, **kwargs))
        finally:
            seconds = time.perf_counter() - started
            self._meter.storage_seconds += seconds
            self._meter.storage_cpu_seconds += time.thread_time() - cpu
            self._meter.save_timings.append(seconds)

    def delete(self, name: str) -> None:
        self.watch()
        started = time.perf_counter()
        try:
            self._storage.delete(name)
        finally:
            self._meter.storage_seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)


class TimedUploads:
    """The service's uploader, each wait for one of its uploads timed (a Future whose result() is
    timed; the rest of the Future passed through)."""

    def __init__(self, executor: Any, meter: Meter) -> None:
        self._executor = executor
        self._meter = meter

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        future = self._executor.submit(*args, **kwargs)
        meter = self._meter
        real_result = future.result

        def result(timeout: float | None = None) -> Any:
            started = time.perf_counter()
            try:
                return real_result(timeout)
            finally:
                meter.upload_wait_seconds += time.perf_counter() - started

        future.result = result
        return future


@contextmanager
def metered(meter: Meter) -> Iterator[None]:
    """The meter on every SQL statement and commit, the generator, the uploader, the PDF storage and
    its S3 clients."""
    from unittest import mock

    from django.db import connections

    from apps.pdf_credentials import plugins, services

    real_load = plugins.load
    real_uploader = services._uploader
    storage = services.pdf_storage()
    timed_storage = TimedStorage(storage, meter)

    def load(path: str, *, kind: str) -> Callable[..., Any]:
        plugin = real_load(path, kind=kind)
        if kind != "generator":
            return plugin

        def generator(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                content = plugin(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                meter.render_seconds += seconds
                meter.render_timings.append(seconds)
            meter.pdf_bytes += len(content)
            return content

        return generator

    database = connections["default"]
    real_commit = database.commit
    try:
        with (
            database.execute_wrapper(meter.execute),
            mock.patch.object(database, "commit", lambda: meter.commit(real_commit)),
            mock.patch.object(plugins, "load", load),
            mock.patch.object(services, "pdf_storage", lambda: timed_storage),
            mock.patch.object(services, "_uploader", lambda: TimedUploads(real_uploader(), meter)),
        ):
            yield
    finally:
        for events in timed_storage.watched:
            events.unregister("before-call.s3", unique_id="pdf-bench")


# --- the seeded database --------------------------------------------------------------------------


def seed(*, learners: int, template: bytes) -> int:
    """Migrate; a course run with `learners` passing learners; the template asset; a credential type of
    the shipped processor and overlay generator and its configuration (validated and given its beat task,
    as the admin does). Returns the configuration's id."""
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    from apps.catalog.models import Course, CourseRun, Organization
    from apps.core.api import User
    from apps.core.data import LearnerIdentity
    from apps.credentials.data import GradeUpdate
    from apps.credentials.services import record_grades
    from apps.pdf_credentials import services
    from apps.pdf_credentials.models import AssetKind, CredentialAsset, CredentialConfiguration, CredentialType

    call_command("migrate", verbosity=0, interactive=False)
    organization = Organization.objects.create(key="BenchX", name="Bench University")
    course = Course.objects.create(key="BenchX+CS101", title="Introduction to Computer Science")
    course.owners.add(organization)
    CourseRun.objects.create(key=COURSE_RUN_KEY, course=course)
    User.objects.bulk_create(
        [
            User(
                username=f"learner{n}",
                lms_user_id=500_000 + n,
                email=f"learner{n}@example.com",
                full_name=NAMES[n % len(NAMES)],
            )
            for n in range(learners)
        ],
        batch_size=1000,
    )
    for batch in chunks(range(learners), 1000):
        record_grades(
            updates=[
                GradeUpdate(
                    learner=LearnerIdentity(lms_user_id=500_000 + n, username=f"learner{n}"),
                    course_run_key=COURSE_RUN_KEY,
                    percent_grade=Decimal("0.91"),
                    passed=True,
                )
                for n in batch
            ]
        )
    CredentialAsset.objects.create(
        slug=TEMPLATE_SLUG, kind=AssetKind.TEMPLATE, file=ContentFile(template, name="bench-template.pdf")
    )
    processor = "apps.pdf_credentials.processors.passing_grade"
    generator = "apps.pdf_credentials.generators.overlay_generator"
    services.validate_type(processor=processor, generator=generator)
    credential_type = CredentialType.objects.create(
        name="Course certificate", processor=processor, generator=generator, options={"template": TEMPLATE_SLUG}
    )
    services.validate_configuration(
        credential_type=credential_type,
        course_run_key=COURSE_RUN_KEY,
        program_uuid=None,
        options={},
        schedule="0 3 * * *",
    )
    configuration = CredentialConfiguration.objects.create(
        credential_type=credential_type, course_run_key=COURSE_RUN_KEY, notify_learners=False
    )
    services.sync_periodic_task(configuration_id=configuration.pk)
    return configuration.pk


# --- the steps ---------------------------------------------------------------------------------------


@dataclass
class StartRun:
    seconds: float
    queries: int
    groups: Counter[str]
    run_id: int
    chunks: tuple[tuple[int, ...], ...]


@dataclass
class Generation:
    pdfs: int
    seconds: float
    chunk_timings: list[float]  # seconds per PDF of each chunk
    rss: list[tuple[str, float]]  # (when, MiB)
    rss_max: float  # the most after any chunk
    cpu_seconds: float  # this process's, user + system
    meter: Meter
    generated: int = 0
    objects: int = 0

    @property
    def per_second(self) -> float:
        return self.pdfs / self.seconds


@dataclass
class Rerun:
    seconds: float
    queries: int
    new_rows: int
    to_generate: int


def step_start_run(configuration_id: int) -> StartRun:
    from apps.pdf_credentials import services

    meter = Meter()
    with metered(meter):
        started = time.perf_counter()
        plan = services.start_run(configuration_id=configuration_id)
        seconds = time.perf_counter() - started
    return StartRun(seconds, meter.queries, meter.groups(), plan.run_id, plan.chunks)


def step_generate(plan: StartRun) -> Generation:
    """Every chunk as generate_chunk_task runs it: one services.generate_chunk per chunk."""
    import psutil

    from apps.pdf_credentials import services

    meter = Meter()
    total = sum(len(chunk) for chunk in plan.chunks)
    samples = sorted({min(RSS_EARLY, total), total // 2} - {0})
    rss = [("start", rss_mb())]
    rss_max = rss[0][1]
    chunk_timings: list[float] = []
    retries: list[int] = []
    done = 0
    cpu = psutil.Process().cpu_times()
    with metered(meter):
        started = time.perf_counter()
        for chunk in plan.chunks:
            before = time.perf_counter()
            outcome = services.generate_chunk(pdf_ids=chunk, run_id=plan.run_id)
            chunk_timings.append((time.perf_counter() - before) / len(chunk))
            retries.extend(outcome.retry)
            done += len(chunk)
            now_mb = rss_mb()
            rss_max = max(rss_max, now_mb)
            while samples and done >= samples[0]:
                rss.append((f"after {done:,}", now_mb))
                samples.pop(0)
        seconds = time.perf_counter() - started
    cpu_end = psutil.Process().cpu_times()
    rss.append(("end", rss_mb()))
    if retries:
        raise SystemExit(f"{len(retries)} PDFs failed transiently (first: {retries[0]}); see the log")
    return Generation(
        pdfs=total,
        seconds=seconds,
        chunk_timings=chunk_timings,
        rss=rss,
        rss_max=rss_max,
        cpu_seconds=cpu_end.user + cpu_end.system - cpu.user - cpu.system,
        meter=meter,
    )


def check_generation(generation: Generation, plan: StartRun, client: Any, *, learners: int) -> None:
    """Every learner's PDF generated, the run finished with the count, and the bucket holds exactly the
    files the rows name."""
    from apps.pdf_credentials.models import GenerationRun, PdfCredential, PdfStatus, RunStatus

    statuses = Counter(PdfCredential.objects.values_list("status", flat=True))
    generation.generated = statuses[PdfStatus.GENERATED]
    names = set(PdfCredential.objects.exclude(file_name="").values_list("file_name", flat=True))
    keys = bucket_keys(client)
    generation.objects = len(keys)
    run = GenerationRun.objects.get(pk=plan.run_id)
    problems = []
    if generation.pdfs != learners:
        problems.append(f"start_run planned {generation.pdfs} PDFs for {learners} learners")
    if dict(statuses) != {PdfStatus.GENERATED: learners}:
        problems.append(f"PDF statuses: {dict(statuses)}")
    if keys != names or len(keys) != learners:
        problems.append(f"{len(keys)} objects in the bucket, {len(names)} files named by the rows")
    if (run.status, run.generated, run.failed, run.to_generate) != (RunStatus.FINISHED, learners, 0, learners):
        problems.append(f"run: {run.status}, {run.generated} generated, {run.failed} failed of {run.to_generate}")
    sample = client.get_object(Bucket=BUCKET, Key=min(keys))["Body"].read() if keys else b""
    if not sample.startswith(b"%PDF"):
        problems.append("the first object is not a PDF")
    if problems:
        raise SystemExit("check failed: " + "; ".join(problems))


def step_rerun(configuration_id: int) -> Rerun:
    from apps.pdf_credentials import tasks
    from apps.pdf_credentials.models import GenerationRun, PdfCredential

    rows = PdfCredential.objects.count()
    meter = Meter()
    with metered(meter):
        started = time.perf_counter()
        run_id = tasks.run_configuration_task(configuration_id)
        seconds = time.perf_counter() - started
    run = GenerationRun.objects.get(pk=run_id)
    return Rerun(seconds, meter.queries, PdfCredential.objects.count() - rows, run.to_generate)


def step_profile(count: int) -> str:
    """Re-issue `count` PDFs and generate them again under cProfile, chunk by chunk. Since Python 3.12
    cProfile sees every thread (it is built on sys.monitoring), so the uploader's calls are in it too."""
    from django.conf import settings

    from apps.pdf_credentials import services
    from apps.pdf_credentials.models import PdfCredential

    ids = list(PdfCredential.objects.order_by("pk").values_list("pk", flat=True)[:count])
    services.reissue(pdf_ids=ids)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for chunk in chunks(ids, settings.PDF_GENERATION_CHUNK_SIZE):
        services.generate_chunk(pdf_ids=chunk)
    profile.disable()
    seconds = time.perf_counter() - started
    return (
        f"cProfile of {len(ids):,} re-issued PDFs ({len(ids) / seconds:.1f} PDFs/s under the profiler, old files"
        f" deleted too; both threads, the uploader's calls included):\n{format_profile(profile)}"
    )


# --- the report ----------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace, *, backend: str, template_kib: float, start: StartRun, gen: Generation, rerun: Rerun
) -> str:
    n = args.learners
    meter = gen.meter
    ms = 1000 / gen.pdfs
    other = gen.seconds - meter.render_seconds - meter.sql_seconds - meter.upload_wait_seconds
    sql_groups = ", ".join(f"{group} {count / gen.pdfs:.3g}" for group, count in meter.groups().most_common())
    s3_calls = ", ".join(f"{name} {count / gen.pdfs:.3g}" for name, count in meter.s3_calls.most_common())
    rss = " / ".join(f"{mib:.0f}" for _, mib in gen.rss)
    command = ".venv/bin/python bench/pdf_bench.py" + (f" --learners {n}" if n != 10_000 else "")
    for flag in ("sqlite", "light_template"):
        command += f" --{flag.replace('_', '-')}" if getattr(args, flag) else ""
    command += f" --template {args.template}" if args.template else ""
    chunk_count = len(start.chunks)
    chunk_size = max((len(chunk) for chunk in start.chunks), default=0)

    def p50_p95(timings: list[float]) -> str:
        if len(timings) < 2:
            return " / ".join([f"{timings[0] * 1000:.1f}"] * 2) if timings else "-"
        return f"{statistics.median(timings) * 1000:.1f} / {statistics.quantiles(timings, n=20)[18] * 1000:.1f}"

    lines = [
        f"PDF credentials, {n:,} passing learners, one process, {backend}, S3 on moto's server (subprocess, local"
        f" HTTP), overlay generator on a {template_kib:.0f} KiB A4-landscape template, test settings,"
        f" DEBUG off (`{command}`).",
        "",
        "| step | items | seconds | per second | SQL statements | SQL per item |",
        "|---|---:|---:|---:|---:|---:|",
        f"| 1. `start_run`: eligibility, pending rows, credentials | {n:,} learners | {start.seconds:.2f}"
        f" | {n / start.seconds:,.0f} learners/s | {start.queries:,} | {start.queries / n:.3f} |",
        f"| 2. generation, {chunk_count} chunks of {chunk_size} (`generate_chunk`: render, S3, SQL) | {gen.pdfs:,}"
        f" PDFs | {gen.seconds:.1f} | **{gen.per_second:.1f} PDFs/s** | {meter.queries:,}"
        f" | {meter.queries / gen.pdfs:.3f} |",
        f"| 3. re-run (`run_configuration_task`, nothing new) | {n:,} learners | {rerun.seconds:.2f} | — "
        f"| {rerun.queries:,} | {rerun.queries / n:.3f} |",
        "",
        "| generation | |",
        "|---|---|",
        f"| PDFs rendered and uploaded per second, one process | **{gen.per_second:.1f}**"
        f" (aim ≥ {TARGET_PER_SECOND}) |",
        f"| ms per PDF of a chunk (its seconds / its PDFs), p50 / max (first chunk) |"
        f" {statistics.median(gen.chunk_timings) * 1000:.1f} / {max(gen.chunk_timings) * 1000:.1f}"
        f" ({gen.chunk_timings[0] * 1000:.1f}) |",
        f"| mean ms per PDF in the generating thread: render / SQL (executing statements, commits) / waiting for an"
        " upload / the rest (the ORM building queries and models, the context, Python)"
        f" | {meter.render_seconds * ms:.1f} / {meter.sql_seconds * ms:.1f} / {meter.upload_wait_seconds * ms:.1f}"
        f" / {other * ms:.1f} |",
        f"| mean ms per PDF in the uploader thread: S3 (storage save; overlaps the rendering, so not part of the wall"
        f" time), of which CPU | {meter.storage_seconds * ms:.1f}, {meter.storage_cpu_seconds * ms:.1f} |",
        f"| ms per PDF, p50 / p95: render; S3 save | {p50_p95(meter.render_timings)}; {p50_p95(meter.save_timings)} |",
        f"| CPU ms per PDF in this process (user + system, both threads) | {gen.cpu_seconds * ms:.1f}"
        f" ({gen.cpu_seconds / gen.seconds:.0%} of the wall time) |",
        f"| SQL statements per PDF | {meter.queries / gen.pdfs:.3f} ({sql_groups});"
        f" commits {meter.commits / gen.pdfs:.3g} |",
        f"| S3 requests per PDF | {s3_calls} |",
        f"| KiB per PDF | {meter.pdf_bytes / gen.pdfs / 1024:.0f} |",
        f"| RSS MiB: {' / '.join(when for when, _ in gen.rss)} (most after a chunk) | {rss} ({gen.rss_max:.0f}) |",
        f"| objects in the bucket / PDFs generated / learners | {gen.objects:,} / {gen.generated:,} / {n:,} |",
        f"| re-run: new rows / PDFs to generate | {rerun.new_rows} / {rerun.to_generate} |",
    ]
    return "\n".join(lines)


def run_all(args: argparse.Namespace) -> int:
    import django

    if args.template:
        template = args.template.read_bytes()
    else:
        template = light_template() if args.light_template else make_template()
    with tempfile.TemporaryDirectory(prefix="pdf-bench-") as tmp, moto_server() as (endpoint, moto):
        if args.sqlite:
            database_url, backend = "sqlite://:memory:", "SQLite in memory"
        else:
            database_url = recreate_postgres_database(args.postgres, args.db_name)
            backend = f"PostgreSQL ({args.db_name})"
        os.environ.update(
            service_environment(
                database_url=database_url, var_dir=Path(tmp), redis_url="redis://127.0.0.1:6379/15", prefix="bench"
            )
        )
        # The storage as PDF_STORAGE=s3 configures it (settings/base.py), pointed at moto.
        os.environ.update(
            {
                "PDF_STORAGE": "s3",
                "PDF_S3_BUCKET": BUCKET,
                "AWS_S3_ENDPOINT_URL": endpoint,
                "AWS_S3_REGION_NAME": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            }
        )
        django.setup()
        from django.conf import settings

        try:
            client = s3_client(endpoint)
            client.create_bucket(Bucket=BUCKET)
            started = time.perf_counter()
            configuration_id = seed(learners=args.learners, template=template)
            print(
                f"migrated {backend}, seeded {args.learners:,} learners in {time.perf_counter() - started:.1f}s;"
                f" template {len(template) / 1024:.0f} KiB; chunks of {settings.PDF_GENERATION_CHUNK_SIZE};"
                f" storage {settings.STORAGES['pdf_credentials']['BACKEND']} at {endpoint}"
            )
            start = step_start_run(configuration_id)
            print(f"  1. start_run: {start.seconds:.2f}s, {start.queries} SQL statements, {len(start.chunks)} chunks")
            gen = step_generate(start)
            check_generation(gen, start, client, learners=args.learners)
            print(f"  2. generation: {gen.pdfs:,} PDFs in {gen.seconds:.1f}s, {gen.per_second:.1f} PDFs/s")
            rerun = step_rerun(configuration_id)
            print(f"  3. re-run: {rerun.seconds:.2f}s, {rerun.queries} SQL statements")
            if rerun.new_rows or rerun.to_generate:
                raise SystemExit(f"the re-run made {rerun.new_rows} rows and planned {rerun.to_generate} PDFs")
            moto_mib = _process_rss_mb(moto.pid)
            profile = step_profile(args.profile) if args.profile else ""
        finally:
            if not args.sqlite:
                from django.db import connection

                connection.close()
                drop_postgres_database(args.postgres, args.db_name)
    print()
    print(report(args, backend=backend, template_kib=len(template) / 1024, start=start, gen=gen, rerun=rerun))
    print(f"\nstart_run's SQL: {', '.join(f'{group} {count}' for group, count in start.groups.most_common())}")
    print(f"moto's server process at the end: {moto_mib:,.0f} MiB RSS (it keeps every object in memory)")
    if profile:
        print(f"\n{profile}")
    if gen.per_second < TARGET_PER_SECOND and not args.no_target:
        print(f"below the target of {TARGET_PER_SECOND} PDFs/s", file=sys.stderr)
        return 1
    return 0


def _process_rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 2**20


def main() -> int:
    args = parse_args()
    # A SIGTERM (a timeout, a kill) unwinds like an error, so moto's server is stopped and the database dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
