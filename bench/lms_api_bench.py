"""Benchmark the LMS-compatible REST API (/api/v2/) on the LMS's own calls, in one process.

Every request goes through Django's full stack (middleware, JWT authentication, DRF, the services)
by DRF's ``APIClient``, signed with a real LMS-style HS256 JWT: the LMS's service user
(``credentials_service_user``, ``administrator: true``) for its writes and listings, each learner's own
token (``administrator: false``, with ``user_id``) for ``get_credentials``. Test settings, DEBUG off.

The catalog: ``--programs`` programs (4) of three self-paced courses (one run each), loaded through
``catalog.api.load_program`` as ``load_catalog`` does, each with a ProgramCertificate and a verified
course certificate configuration per run; ``--learners`` learners (2,000), seeded in bulk with their
LMS user id, username, email and name, learner n in program n mod ``--programs``. Every tenth learner
never gets their third course, so does not complete their program. What is timed, in order:

1. ``POST /api/v2/credentials/`` with the JSON body edx-platform's ``post_course_certificate`` sends
   (``{"username", "status": "awarded", "credential": {"course_run_key", "mode": "verified", "type":
   "course-run"}, "date_override": null}``), in three passes: every learner's first course, second
   course, then third course (the request that completes the program: the completion engine awards the
   program certificate and writes one PROGRAM_CERTIFICATE_AWARDED row to the outbox). Checked after:
   each learner who completed holds exactly one awarded program certificate (of their program), the
   others none, and the outbox holds exactly one PROGRAM_CERTIFICATE_AWARDED per completion (one per
   learner and program by event key). Then every body again (idempotent: checked to create no row,
   change no credential's ``modified`` and write no event, every answer naming the same uuid).
2. ``GET /api/v2/credentials/?username=<learner>&status=awarded&only_visible=True&type=program`` with
   the learner's own token, as edx-platform's ``get_credentials`` calls it, once per learner (each answer
   checked: their program certificate, or nothing); and the service user's listing of everything,
   ``?page=N`` from 1 until ``next`` is null (each credential seen once), after the first course pass
   and again at the end (about four times the rows), so queries per page can be compared across page
   numbers and listing sizes.
3. ``POST /api/v2/grades/`` form-encoded as ``send_grade_to_credentials`` sends it (username,
   course_run, letter_grade, percent_grade as str(float), verified=True, lms_last_updated_at in ISO
   form with microseconds and offset), one per learner and course certified: new grades, then the same
   grades with a later ``lms_last_updated_at`` and another percent (updates); checked: one grade row per
   body, every one updated by the second pass.

Each run starts from the same seeded database (a snapshot restored before it): a warm-up run on a few
learners, the timed run, then a counting run where every request runs under ``CaptureQueriesContext``
(per request; the timed run captures nothing). Latencies are each test-client call's wall time (the
body's JSON or form encoding is done beforehand, checks of the answers after); requests/s is the
requests over the sum of those times. The outbox relay is kept out (``relaying_inline``: the rows are
written, nothing is published); in production the completing request's commit would also queue one
Celery task. Query counts are what ``CaptureQueriesContext`` records: every statement, SAVEPOINT/RELEASE
and BEGIN/COMMIT included.

Usage, from the project root::

    .venv/bin/python bench/lms_api_bench.py                       # PostgreSQL, 2,000 learners
    .venv/bin/python bench/lms_api_bench.py --sqlite              # SQLite in memory
    .venv/bin/python bench/lms_api_bench.py --learners 500 --sql  # + one completing request's SQL

``--postgres`` takes the server URL (default postgres://postgres@127.0.0.1:5432); the script (re)creates
its own database ``--db-name`` (credentials_lms_api_bench) and a snapshot copy beside it, and drops both
at the end, also on an error or SIGTERM. The report ends with markdown tables to paste. A page costs a
fixed number of queries plus one per kind of credential on it (course run, program: each kind's
configurations are prefetched); the exit status is 1 when that fixed number changes with the page
number or the listing's size. This is a script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from _support import (
    BASE_DIR,
    Snapshot,
    add_database_arguments,
    bench_django,
    shorten,
    sql_group,
)

CREDENTIALS_URL = "/api/v2/credentials/"
GRADES_URL = "/api/v2/grades/"
SERVICE_USER = "credentials_service_user"
SERVICE_LMS_USER_ID = 1
LEARNER_ID_BASE = 100_000
COURSES_PER_PROGRAM = 3
NOT_COMPLETING_EVERY = 10  # learner n with n % 10 == 9 never gets the third course
WARMUP_LEARNERS = 30
PROGRAM_AWARDED = "program.certificate.awarded"  # in OutboxEvent.event_type
GRADED_AT = datetime.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=datetime.UTC)

CERTIFICATE_PASSES = ("course 1", "course 2", "course 3 (completes the program)")
AGAIN = "all again (idempotent)"
LEARNER_GET = "learner's programs"
PAGES_SMALL = "pages after course 1"
PAGES_END = "pages at the end"
GRADES_NEW = "grades (new)"
GRADES_NEWER = "grades (newer: updates)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser, db_name="credentials_lms_api_bench", postgres_by_default=True)
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--programs", type=int, default=4, help="programs of three courses; learners spread over them")
    parser.add_argument("--sql", action="store_true", help="print one completing request's statements")
    args = parser.parse_args()
    if args.learners < NOT_COMPLETING_EVERY or args.programs < 1:
        parser.error(f"--learners must be at least {NOT_COMPLETING_EVERY} and --programs at least 1")
    return args


# --- the catalog, the learners, the tokens ---------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What the seeded database holds, as the requests name it."""

    program_uuids: list[str]  # by program index
    run_keys: list[list[str]]  # by program index, then course position
    program_certificate_ids: list[int]  # by program index

    def program_of(self, learner: int) -> int:
        return learner % len(self.program_uuids)

    def run_key(self, learner: int, course: int) -> str:
        return self.run_keys[self.program_of(learner)][course]


def username(learner: int) -> str:
    return f"bench_learner_{learner}"


def completes(learner: int) -> bool:
    return learner % NOT_COMPLETING_EVERY != NOT_COMPLETING_EVERY - 1


def courses_of(learner: int) -> range:
    return range(COURSES_PER_PROGRAM if completes(learner) else COURSES_PER_PROGRAM - 1)


def catalog_document(programs: int) -> list[dict[str, Any]]:
    """Programs in course-discovery's shape, as `load_catalog` reads them: three self-paced courses
    each (certificates visible once awarded), one run per course, ended."""
    organization = {"uuid": str(uuid.uuid4()), "key": "BenchX", "name": "Bench University"}
    started = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=120)).isoformat()
    ended = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)).isoformat()
    return [
        {
            "uuid": str(uuid.uuid4()),
            "title": f"Bench program {p}",
            "type": "MicroMasters",
            "type_attrs": {"slug": "micromasters"},
            "authoring_organizations": [organization],
            "courses": [
                {
                    "uuid": str(uuid.uuid4()),
                    "key": f"BenchX+P{p}C{c}",
                    "title": f"Bench course {p}.{c}",
                    "owners": [organization],
                    "course_runs": [
                        {
                            "key": f"course-v1:BenchX+P{p}C{c}+2024",
                            "start": started,
                            "end": ended,
                            "pacing_type": "self_paced",
                        }
                    ],
                }
                for c in range(COURSES_PER_PROGRAM)
            ],
        }
        for p in range(programs)
    ]


def migrate_and_seed(*, programs: int, learners: int) -> World:
    """Migrate; load the catalog and configure its certificates; seed the learners in bulk (LMS id,
    username, email and name: what their tokens carry, so authenticating them writes nothing)."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    from apps.catalog.api import load_program, validate_programs
    from apps.catalog.data import LoadSummary
    from apps.core.api import User
    from apps.credentials import api as credentials_api

    call_command("migrate", verbosity=0, interactive=False)
    summary = LoadSummary()
    uuids, run_keys, certificate_ids = [], [], []
    for data in validate_programs(catalog_document(programs)):
        program = load_program(data=data, summary=summary)
        keys = [course["course_runs"][0]["key"] for course in data["courses"]]
        certificate = credentials_api.configure_program_certificate(program_uuid=program.uuid)
        for key in keys:
            credentials_api.configure_course_certificate(course_run_key=key, mode="verified")
        uuids.append(str(program.uuid))
        run_keys.append(keys)
        certificate_ids.append(certificate.pk)
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(
                username=username(n),
                lms_user_id=LEARNER_ID_BASE + n,
                email=f"{username(n)}@example.com",
                full_name=f"Learner {n}",
                password=unusable,
            )
            for n in range(learners)
        ],
        batch_size=1000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return World(program_uuids=uuids, run_keys=run_keys, program_certificate_ids=certificate_ids)


def sign_jwt(login: str, /, **claims: Any) -> str:
    """A token as the LMS signs it (conftest's make_jwt), valid for the whole run."""
    import jwt
    from django.conf import settings

    issuer = settings.JWT_AUTH["JWT_ISSUERS"][0]
    now = int(time.time())
    payload = {
        "iss": issuer["ISSUER"],
        "aud": issuer["AUDIENCE"],
        "iat": now,
        "exp": now + 12 * 3600,
        "preferred_username": login,
        "email": f"{login}@example.com",
        "administrator": False,
        **claims,
    }
    return jwt.encode(payload, issuer["SECRET_KEY"], algorithm="HS256")


def learner_token(learner: int) -> str:
    # get_credentials' client: the learner's JWT (scopes email, profile, user_id).
    return sign_jwt(username(learner), name=f"Learner {learner}", user_id=LEARNER_ID_BASE + learner)


def service_token() -> str:
    return sign_jwt(SERVICE_USER, administrator=True, user_id=SERVICE_LMS_USER_ID)


def api_client() -> Any:
    from rest_framework.test import APIClient

    return APIClient(HTTP_HOST="127.0.0.1")


def first_service_call() -> None:
    """The service user as the LMS's first call creates it (staff, from `administrator: true`), before
    the snapshot: every run then starts with it known, as a running service has it."""
    response = api_client().get(CREDENTIALS_URL, HTTP_AUTHORIZATION=f"JWT {service_token()}")
    if response.status_code != 200:
        raise SystemExit(f"the service user's first call answered {response.status_code}: {response.content[:300]!r}")


# --- the request bodies ----------------------------------------------------------------------------


def certificate_body(world: World, learner: int, course: int) -> bytes:
    """post_course_certificate's JSON body."""
    return json.dumps(
        {
            "username": username(learner),
            "status": "awarded",
            "credential": {"course_run_key": world.run_key(learner, course), "mode": "verified", "type": "course-run"},
            "date_override": None,
        }
    ).encode()


def grade_body(world: World, learner: int, course: int, *, newer: bool) -> str:
    """send_grade_to_credentials' `data`, as requests puts it on the wire: form-encoded strings, the
    percent as str(float), the time as celery's JSON gives back a datetime (isoformat)."""
    percent = 0.6 + (learner % 37) / 100 + (0.013 if newer else 0.0)
    graded_at = GRADED_AT + datetime.timedelta(days=1 if newer else 0, minutes=learner % 60)
    data = {
        "username": username(learner),
        "course_run": world.run_key(learner, course),
        "letter_grade": "A" if percent >= 0.9 else "B",
        "percent_grade": percent,
        "verified": True,
        "lms_last_updated_at": graded_at.isoformat(),
    }
    return urlencode({name: str(value) for name, value in data.items()})


# --- timing and counting ---------------------------------------------------------------------------


@dataclass
class Phase:
    """One kind of request: each one's wall time (timed run) or statements (counting run)."""

    name: str
    capture: bool = False  # count statements rather than time
    latencies: list[float] = field(default_factory=list)  # seconds
    queries: list[int] = field(default_factory=list)
    groups: Counter[str] = field(default_factory=Counter)
    sample_sql: list[str] = field(default_factory=list)  # the first request's, in a counting run

    def send(self, call: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """`call(*args, **kwargs)`: a test client's request, timed or counted."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if self.capture:
            # The log is a bounded deque: once full, CaptureQueriesContext would see nothing.
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as captured:
                response = call(*args, **kwargs)
            statements = [q["sql"] for q in captured.captured_queries]
            self.queries.append(len(statements))
            self.groups.update(sql_group(s) for s in statements)
            if not self.sample_sql:
                self.sample_sql = statements
        else:
            started = time.perf_counter()
            response = call(*args, **kwargs)
            self.latencies.append(time.perf_counter() - started)
        return response

    @property
    def requests(self) -> int:
        return len(self.latencies) or len(self.queries)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / sum(self.latencies)

    def percentile_ms(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    @property
    def mean_queries(self) -> float:
        return sum(self.queries) / len(self.queries)


def merged(name: str, phases: Sequence[Phase]) -> Phase:
    total = Phase(name)
    for phase in phases:
        total.latencies += phase.latencies
        total.queries += phase.queries
        total.groups.update(phase.groups)
    return total


@dataclass
class Listing:
    """One walk of the service user's paged listing: the rows it held, its pages, and how many kinds of
    credential (course run, program) each page held: a page prefetches each kind's configurations."""

    rows: int = 0
    pages: int = 0
    kinds: list[int] = field(default_factory=list)


@dataclass
class Facts:
    """What the checks found (the same in every run, or the script stops)."""

    learners: int = 0
    completions: int = 0
    credentials: int = 0
    program_certificates: int = 0
    awarded_events: int = 0
    new_rows_again: int = 0
    new_events_again: int = 0
    changed_again: int = 0
    listings: dict[str, Listing] = field(default_factory=dict)
    grades: int = 0
    grades_updated: int = 0


def expect_status(response: Any, status: int, what: str) -> Any:
    if response.status_code != status:
        raise SystemExit(f"{what}: answered {response.status_code}, expected {status}: {response.content[:300]!r}")
    return response.json()


# --- the workload ----------------------------------------------------------------------------------


def run_workload(world: World, learners: Sequence[int], *, capture: bool) -> tuple[dict[str, Phase], Facts]:
    """Every phase, in order, on the given learners, from the seeded database; each checked. The caller
    keeps the outbox relay out (`relaying_inline`)."""
    from apps.credentials.models import UserCredential, UserGrade
    from apps.eventbus.models import OutboxEvent

    client = api_client()
    service = f"JWT {service_token()}"
    phases: dict[str, Phase] = {}
    facts = Facts(learners=len(learners), completions=sum(1 for n in learners if completes(n)))

    # 1. course certificates, pass by pass, then all again
    bodies = [
        [(n, certificate_body(world, n, course)) for n in learners if course in courses_of(n)]
        for course in range(COURSES_PER_PROGRAM)
    ]
    uuids: dict[bytes, str] = {}
    for course, name in enumerate(CERTIFICATE_PASSES):
        phase = phases[name] = Phase(name, capture=capture)
        for n, body in bodies[course]:
            response = phase.send(
                client.post, CREDENTIALS_URL, body, content_type="application/json", HTTP_AUTHORIZATION=service
            )
            uuids[body] = expect_status(response, 201, f"{name}, learner {n}")["uuid"]
        if course == 0:
            facts.listings[PAGES_SMALL] = walk_pages(phases, PAGES_SMALL, client, service, capture=capture)
    facts.credentials = UserCredential.objects.count()
    check_program_certificates(world, learners, facts)
    events_before = OutboxEvent.objects.count()
    last_modified = UserCredential.objects.order_by("-modified").values_list("modified", flat=True).first()
    phase = phases[AGAIN] = Phase(AGAIN, capture=capture)
    for body in (body for course_bodies in bodies for _, body in course_bodies):
        response = phase.send(
            client.post, CREDENTIALS_URL, body, content_type="application/json", HTTP_AUTHORIZATION=service
        )
        if expect_status(response, 201, AGAIN)["uuid"] != uuids[body]:
            raise SystemExit(f"{AGAIN}: another credential answered for {body!r}")
    facts.new_rows_again = UserCredential.objects.count() - facts.credentials
    facts.new_events_again = OutboxEvent.objects.count() - events_before
    facts.changed_again = UserCredential.objects.filter(modified__gt=last_modified).count()
    if facts.new_rows_again or facts.new_events_again or facts.changed_again:
        raise SystemExit(
            f"{AGAIN}: {facts.new_rows_again} new credentials, {facts.new_events_again} new events,"
            f" {facts.changed_again} credentials changed; expected none"
        )

    # 2. reads: each learner's program certificates with their own token, then the service user's pages
    tokens = {n: f"JWT {learner_token(n)}" for n in learners}
    query = {"status": "awarded", "only_visible": "True", "type": "program"}
    phase = phases[LEARNER_GET] = Phase(LEARNER_GET, capture=capture)
    for n in learners:
        params = {"username": username(n), **query}
        response = phase.send(client.get, CREDENTIALS_URL, params, HTTP_AUTHORIZATION=tokens[n])
        results = expect_status(response, 200, f"{LEARNER_GET}, learner {n}")["results"]
        programs = [r["credential"]["program_uuid"] for r in results]
        if programs != ([world.program_uuids[world.program_of(n)]] if completes(n) else []):
            raise SystemExit(f"{LEARNER_GET}: learner {n} was answered {programs}")
    facts.listings[PAGES_END] = walk_pages(phases, PAGES_END, client, service, capture=capture)

    # 3. grades, new then newer
    for name, newer in ((GRADES_NEW, False), (GRADES_NEWER, True)):
        phase = phases[name] = Phase(name, capture=capture)
        for n in learners:
            for course in courses_of(n):
                form = grade_body(world, n, course, newer=newer)
                response = phase.send(
                    client.post,
                    GRADES_URL,
                    form,
                    content_type="application/x-www-form-urlencoded",
                    HTTP_AUTHORIZATION=service,
                )
                expect_status(response, 201, f"{name}, learner {n}")
    facts.grades = UserGrade.objects.count()
    facts.grades_updated = UserGrade.objects.filter(
        lms_last_updated_at__gte=GRADED_AT + datetime.timedelta(days=1)
    ).count()
    if facts.grades != phases[GRADES_NEW].requests or facts.grades_updated != facts.grades:
        raise SystemExit(
            f"grades: {facts.grades} rows, {facts.grades_updated} updated; expected {phases[GRADES_NEW].requests} both"
        )
    return phases, facts


def walk_pages(phases: dict[str, Phase], name: str, client: Any, service: str, *, capture: bool) -> Listing:
    """The service user's listing of everything, ?page=1, 2… until `next` is null: every course and
    program certificate once."""
    from apps.credentials.models import UserCredential

    phase = phases[name] = Phase(name, capture=capture)
    seen: set[str] = set()
    kinds: list[int] = []
    page = 1
    while True:
        response = phase.send(client.get, CREDENTIALS_URL, {"page": page}, HTTP_AUTHORIZATION=service)
        body = expect_status(response, 200, f"{name}, page {page}")
        seen.update(r["uuid"] for r in body["results"])
        kinds.append(len({r["credential"]["type"] for r in body["results"]}))
        if not body["next"]:
            break
        page += 1
    rows = UserCredential.objects.count()
    if len(seen) != rows or body["count"] != rows:
        raise SystemExit(f"{name}: {len(seen)} credentials seen, count {body['count']}, {rows} rows")
    return Listing(rows=rows, pages=page, kinds=kinds)


def check_program_certificates(world: World, learners: Sequence[int], facts: Facts) -> None:
    """Each learner who completed holds exactly one awarded program certificate, of their program; the
    others none. The outbox holds one PROGRAM_CERTIFICATE_AWARDED per completion, one per learner and
    program."""
    from django.contrib.contenttypes.models import ContentType

    from apps.credentials.models import CredentialStatus, ProgramCertificate, UserCredential
    from apps.eventbus.models import OutboxEvent

    program_type = ContentType.objects.get_for_model(ProgramCertificate)
    held = Counter(
        UserCredential.objects.filter(credential_content_type=program_type).values_list(
            "user__lms_user_id", "credential_id", "status"
        )
    )
    expected = Counter(
        {
            (LEARNER_ID_BASE + n, world.program_certificate_ids[world.program_of(n)], CredentialStatus.AWARDED): 1
            for n in learners
            if completes(n)
        }
    )
    if held != expected:
        raise SystemExit(f"program certificates: {sum(held.values())} held, expected {sum(expected.values())}")
    facts.program_certificates = sum(held.values())
    keys = Counter(OutboxEvent.objects.filter(event_type__contains=PROGRAM_AWARDED).values_list("event_key", flat=True))
    expected_keys = Counter(
        {f"{LEARNER_ID_BASE + n}:{world.program_uuids[world.program_of(n)]}": 1 for n in learners if completes(n)}
    )
    if keys != expected_keys:
        raise SystemExit(f"outbox: {sum(keys.values())} PROGRAM_CERTIFICATE_AWARDED rows, expected {facts.completions}")
    facts.awarded_events = sum(keys.values())


# --- the report ------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    timed: dict[str, Phase],
    counted: dict[str, Phase],
    facts: Facts,
    counted_facts: Facts,
    *,
    backend: str,
) -> tuple[str, bool]:
    """The markdown tables, and whether the queries per page, less one per kind of credential on the
    page, stayed the same on every page and at both listing sizes."""
    command = ".venv/bin/python bench/lms_api_bench.py" + (" --sqlite" if args.sqlite else "")
    command += f" --learners {args.learners}" if args.learners != 2000 else ""
    command += f" --programs {args.programs}" if args.programs != 4 else ""
    first = merged("first deliveries", [timed[name] for name in CERTIFICATE_PASSES])
    first_counted = merged("first deliveries", [counted[name] for name in CERTIFICATE_PASSES])
    rows = [
        (
            "POST /api/v2/credentials/",
            CERTIFICATE_PASSES[0],
            timed[CERTIFICATE_PASSES[0]],
            counted[CERTIFICATE_PASSES[0]],
        ),
        (
            "POST /api/v2/credentials/",
            CERTIFICATE_PASSES[1],
            timed[CERTIFICATE_PASSES[1]],
            counted[CERTIFICATE_PASSES[1]],
        ),
        (
            "POST /api/v2/credentials/",
            CERTIFICATE_PASSES[2],
            timed[CERTIFICATE_PASSES[2]],
            counted[CERTIFICATE_PASSES[2]],
        ),
        ("POST /api/v2/credentials/", "all first deliveries", first, first_counted),
        ("POST /api/v2/credentials/", "all again (idempotent)", timed[AGAIN], counted[AGAIN]),
        (
            "GET /api/v2/credentials/?username=…&status=awarded&only_visible=True&type=program",
            "the learner's own JWT",
            timed[LEARNER_GET],
            counted[LEARNER_GET],
        ),
        ("POST /api/v2/grades/ (form)", "new grades", timed[GRADES_NEW], counted[GRADES_NEW]),
        ("POST /api/v2/grades/ (form)", "newer grades (updates)", timed[GRADES_NEWER], counted[GRADES_NEWER]),
    ]
    lines = [
        f"LMS-compatible API, {backend}, one process, DRF's APIClient with LMS-style HS256 JWTs, test settings,"
        f" DEBUG off: {facts.learners:,} learners over {args.programs} programs of {COURSES_PER_PROGRAM} courses,"
        f" {facts.completions:,} of them completing their program (`{command}`).",
        "",
        "| request | pass | requests | requests/s | p50 ms | p95 ms | queries/request (mean) | min-max |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for endpoint, label, t, c in rows:
        lines.append(
            f"| {endpoint} | {label} | {t.requests:,} | {t.per_second:,.0f} | {t.percentile_ms(50):.2f}"
            f" | {t.percentile_ms(95):.2f} | {c.mean_queries:.2f} | {min(c.queries)}-{max(c.queries)} |"
        )

    lines += [
        "",
        "The service user's listing of everything (`GET /api/v2/credentials/?page=N` until `next` is null, 20 a page):",
        "",
        "| when | credentials | pages | pages/s | p50 ms | p95 ms | first page ms | last page ms | queries/page"
        " (min-max) | queries/page less one per kind on it |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base_counts: set[int] = set()
    for name in (PAGES_SMALL, PAGES_END):
        t, c, listing = timed[name], counted[name], facts.listings[name]
        bases = {queries - kinds for queries, kinds in zip(c.queries, counted_facts.listings[name].kinds, strict=True)}
        base_counts |= bases
        lines.append(
            f"| {name} | {listing.rows:,} | {listing.pages:,} | {t.per_second:,.0f} | {t.percentile_ms(50):.2f}"
            f" | {t.percentile_ms(95):.2f} | {t.latencies[0] * 1000:.2f} | {t.latencies[-1] * 1000:.2f}"
            f" | {min(c.queries)}-{max(c.queries)} | {', '.join(str(b) for b in sorted(bases))} |"
        )
    constant = len(base_counts) == 1

    breakdown = [
        ("plain (course 2)", counted[CERTIFICATE_PASSES[1]]),
        ("completing (course 3)", counted[CERTIFICATE_PASSES[2]]),
        ("idempotent (again)", counted[AGAIN]),
        ("learner's GET", counted[LEARNER_GET]),
        ("a page (end)", counted[PAGES_END]),
        ("new grade", counted[GRADES_NEW]),
    ]
    groups: Counter[str] = Counter()
    for _, phase in breakdown:
        groups.update(phase.groups)
    lines += [
        "",
        "Queries per request by verb and table (mean over the counting run's requests of that kind):",
        "",
        "| statement | " + " | ".join(label for label, _ in breakdown) + " |",
        "|---|" + "---:|" * len(breakdown),
    ]
    for group, _ in groups.most_common():
        cells = " | ".join(
            f"{phase.groups[group] / phase.requests:.2f}".rstrip("0").rstrip(".") for _, phase in breakdown
        )
        lines.append(f"| `{group}` | {cells} |")
    lines.append("| **total** | " + " | ".join(f"**{phase.mean_queries:.2f}**" for _, phase in breakdown) + " |")

    lines += [
        "",
        "| check (in every run: warm-up, timed, counting) | result |",
        "|---|---|",
        f"| learners who completed their program, each holding exactly one awarded program certificate (of their"
        f" program; the others none) | {facts.program_certificates:,} of {facts.completions:,} |",
        f"| PROGRAM_CERTIFICATE_AWARDED rows in the outbox (one per learner and program) | {facts.awarded_events:,} |",
        f"| second pass: new credentials / new events / credentials modified | {facts.new_rows_again} /"
        f" {facts.new_events_again} / {facts.changed_again} |",
        f"| learners' GETs answering their program certificate (completed) or nothing | {facts.learners:,} |",
        f"| paged listing: every credential once, count = rows | {facts.listings[PAGES_SMALL].rows:,} and"
        f" {facts.listings[PAGES_END].rows:,} |",
        f"| queries per page = a constant + one per kind of credential on the page (its configurations'"
        f" prefetch), on every page number and at both listing sizes | {'yes' if constant else 'NO'}"
        f" ({', '.join(str(n) for n in sorted(base_counts))} + kinds) |",
        f"| grade rows / updated by the newer pass | {facts.grades:,} / {facts.grades_updated:,} |",
    ]
    return "\n".join(lines), constant


# --- the runs --------------------------------------------------------------------------------------


def run_all(args: argparse.Namespace) -> int:
    postgres = None if args.sqlite else args.postgres
    with bench_django(postgres=postgres, db_name=args.db_name, prefix="lms-api-bench") as backend:
        from django.conf import settings

        from apps.eventbus.services import relaying_inline

        if settings.DEBUG:
            raise SystemExit("DEBUG is on: every query would be kept")
        if not settings.JWT_AUTH.get("JWT_PUBLIC_SIGNING_JWK_SET"):
            raise SystemExit("JWT_PUBLIC_SIGNING_JWK_SET is empty: the service refuses every JWT (core.E003)")
        # WhiteNoise warns on the first request when the (temporary) static root does not exist.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        world = migrate_and_seed(programs=args.programs, learners=args.learners)
        first_service_call()
        snapshot = Snapshot(postgres=postgres, db_name=args.db_name, label="seeded")
        print(
            f"migrated {backend}, seeded {args.programs} programs and {args.learners:,} learners"
            f" in {time.perf_counter() - started:.1f}s"
        )
        learners = range(args.learners)
        try:
            # The outbox rows are written, nothing is published (the relay is another process's work).
            with relaying_inline():
                # Warm-up: first use of every path (URL resolving, serializers, the ORM's compiled queries).
                snapshot.restore()
                run_workload(world, learners[:WARMUP_LEARNERS], capture=False)
                snapshot.restore()
                started = time.perf_counter()
                timed, facts = run_workload(world, learners, capture=False)
                print(f"  timed run: {time.perf_counter() - started:.1f}s")
                for name, phase in timed.items():
                    print(f"    {name}: {phase.requests:,} requests, {phase.per_second:,.0f}/s")
                snapshot.restore()
                started = time.perf_counter()
                counted, counted_facts = run_workload(world, learners, capture=True)
                print(f"  counting run: {time.perf_counter() - started:.1f}s")
        finally:
            snapshot.drop()
    if args.sql:
        print(f"\nThe first completing request's statements ({len(counted[CERTIFICATE_PASSES[2]].sample_sql)}):")
        for statement in counted[CERTIFICATE_PASSES[2]].sample_sql:
            print(f"  {shorten(statement)}")
    text, constant = report(args, timed, counted, facts, counted_facts, backend=backend)
    print()
    print(text)
    if not constant:
        print("\nThe paged listing's queries per page change with the page number or the listing's size.")
        return 1
    return 0


def main() -> int:
    args = parse_args()
    # A SIGTERM (a timeout, a kill) unwinds like an error, so the databases are dropped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
