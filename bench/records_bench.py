"""Benchmark the program record endpoint over real HTTP.

What it does, in order:

1. (Re)creates its own database: PostgreSQL ``credentials_bench`` on ``postgres://postgres@127.0.0.1:5432``
   by default, or a SQLite file with ``--sqlite``. Then runs the migrations.
2. Seeds one learner in a program of ``--courses`` courses (50 by default), two runs per course, with a
   grade in every run, a verified certificate in one run of each course and the program certificate,
   plus ``--other-learners`` learners with grades in the same runs so the indexes have work to do.
   Catalog rows come from the test factories; learners, grades and certificates from the services.
3. Counts the SQL queries of one request in-process (Django test client + ``CaptureQueriesContext``).
4. Starts gunicorn from the venv (``--workers`` sync workers on 127.0.0.1, a free port) with
   ``DEBUG=false``, the bench database and a JWT configuration of its own, and signs an LMS-style
   HS256 token for the learner.
5. Sends ``--warmup`` requests (each body checked: one entry per course), then ``--requests`` timed
   requests from ``--concurrency`` client threads (1 by default: on a two-core machine, client,
   workers and PostgreSQL share the CPUs, and more threads measure that contention rather than
   the endpoint), checks each answer is a 200, and prints requests/s and p50/p95/p99 latency in ms.
6. Stops gunicorn (SIGTERM to the process it started, then SIGKILL after a grace period).

Usage, from the project root::

    .venv/bin/python bench/records_bench.py                      # PostgreSQL, 50 courses, 20 + 500 requests
    .venv/bin/python bench/records_bench.py --sqlite             # SQLite file in a temporary directory
    .venv/bin/python bench/records_bench.py --sqlite /tmp/b.db --requests 1000 --concurrency 1

The target is p95 <= 25 ms on PostgreSQL; the exit status is 1 when it is missed (``--no-target``
turns that off). This is a script, not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LEARNER = "bench_learner"
JWT_ISSUER = "http://bench.lms/oauth2"
JWT_AUDIENCE = "bench-lms-key"
JWT_SECRET = "bench-only-jwt-secret-of-at-least-32-bytes"
TARGET_P95_MS = 25.0


@dataclass(frozen=True)
class Timings:
    latencies_ms: list[float]
    wall_seconds: float

    def percentile(self, p: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sqlite",
        nargs="?",
        const="",
        metavar="PATH",
        help="run against a SQLite file (a temporary one when PATH is omitted) instead of PostgreSQL",
    )
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="server URL (no db name)")
    parser.add_argument("--db-name", default="credentials_bench", help="PostgreSQL database to (re)create")
    parser.add_argument("--courses", type=int, default=50)
    parser.add_argument("--other-learners", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="client threads; on a small machine more threads measure CPU contention rather than latency",
    )
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--no-target", action="store_true", help="exit 0 even when p95 misses the target")
    return parser.parse_args()


# --- database and settings -------------------------------------------------------------------


def recreate_postgres_database(server_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}"))


def throwaway_jwk_set() -> str:
    # The service refuses every JWT while the public key set is empty (core.E003); the LMS-style
    # tokens here are HS256, so any public key will do.
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    jwk = json.loads(RSAAlgorithm.to_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()))
    jwk["kid"] = "bench"
    return json.dumps({"keys": [jwk]})


def service_environment(database_url: str, var_dir: Path) -> dict[str, str]:
    (var_dir / "static").mkdir(parents=True, exist_ok=True)
    return {
        "DJANGO_SETTINGS_MODULE": "credentials_service.settings.base",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "CREDENTIALS_VAR_DIR": str(var_dir),
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JWT_ISSUER": JWT_ISSUER,
        "JWT_AUDIENCE": JWT_AUDIENCE,
        "JWT_SECRET_KEY": JWT_SECRET,
        "JWT_PUBLIC_SIGNING_JWK_SET": throwaway_jwk_set(),
    }


def sign_jwt(username: str) -> str:
    import jwt

    now = int(time.time())
    payload = {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "preferred_username": username,
        "email": f"{username}@example.com",
        "name": "Bench Learner",
        "administrator": False,
    }
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


# --- in-process: migrate, seed, count queries ------------------------------------------------


def migrate_and_seed(*, courses: int, other_learners: int) -> str:
    """Migrate the bench database and seed it; return the program uuid."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from apps.catalog.models import ProgramCourse
    from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, ProgramFactory
    from apps.core.api import get_or_create_learner
    from apps.credentials import api as credentials_api

    call_command("migrate", verbosity=0, interactive=False)
    # Through the identity service rather than UserFactory: no password hashing, as for LMS learners.
    learner = get_or_create_learner(lms_user_id=1, username=LEARNER, full_name="Bench Learner")
    others = [get_or_create_learner(lms_user_id=2 + n, username=f"bench_other_{n}") for n in range(other_learners)]
    program = ProgramFactory(title=f"Bench program ({courses} courses)")
    credentials_api.configure_program_certificate(program_uuid=program.uuid)
    for position in range(courses):
        course = CourseFactory()
        ProgramCourse.objects.create(program=program, course=course, position=position)
        for attempt in range(2):
            run = CourseRunFactory(course=course)
            credentials_api.configure_course_certificate(course_run_key=run.key, mode="verified")
            percent = Decimal("0.55") + Decimal(attempt) * Decimal("0.3")
            credentials_api.record_grade(
                user=learner, course_run_key=run.key, percent_grade=percent, passed=attempt == 1, letter_grade="B"
            )
            for other in others:
                credentials_api.record_grade(
                    user=other, course_run_key=run.key, percent_grade=Decimal("0.7"), passed=True
                )
            if attempt == 1:
                credentials_api.award_course_certificate(user=learner, course_run_key=run.key, mode="verified")
    credentials_api.award_program_certificate(user=learner, program_uuid=program.uuid)
    # A live database has planner statistics; a freshly seeded one has none until autovacuum runs.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return str(program.uuid)


def count_queries(path: str, token: str) -> tuple[int, int]:
    """Queries of one full request (authentication included) and of the selector alone."""
    import uuid

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.core.api import get_learner
    from apps.records.selectors import get_program_record

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"JWT {token}")
    assert client.get(path).status_code == 200  # warms the content-type cache, as a worker would be
    with CaptureQueriesContext(connection) as request_queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    learner = get_learner(username=LEARNER)
    program_uuid = uuid.UUID(path.rstrip("/").rsplit("/", 1)[-1])
    with CaptureQueriesContext(connection) as selector_queries:
        get_program_record(user=learner, program_uuid=program_uuid)
    connection.close()
    return len(request_queries.captured_queries), len(selector_queries.captured_queries)


# --- the HTTP server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(*, env: dict[str, str], port: int, workers: int, log: Any) -> subprocess.Popen[bytes]:
    command = [
        str(VENV_BIN / "gunicorn"),
        "credentials_service.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, cwd=BASE_DIR, env={**os.environ, **env}, stdout=log, stderr=log)


def wait_until_serving(process: subprocess.Popen[bytes], base_url: str, *, timeout: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode} before serving")
        try:
            requests.get(f"{base_url}/api/v1/records/programs/", timeout=5)
            return
        except requests.RequestException:
            # Refused until gunicorn binds; slow while its workers import the project.
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # gunicorn's master stops its workers on SIGTERM
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the load --------------------------------------------------------------------------------


def hammer(url: str, token: str, *, total: int, concurrency: int, expected_courses: int | None) -> Timings:
    """Send `total` GETs from `concurrency` threads. With `expected_courses`, also parse each body and
    check it (warm-up only: parsing 50 courses in the client would steal CPU from the server)."""
    import requests

    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"JWT {token}"
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            response = session.get(url, timeout=10)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200 or (
                    expected_courses is not None and len(response.json()["courses"]) != expected_courses
                ):
                    failures.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} bad responses, first: {failures[0]}")
    return Timings(latencies_ms=latencies, wall_seconds=wall)


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(BASE_DIR))
    os.chdir(BASE_DIR)
    with tempfile.TemporaryDirectory(prefix="records-bench-") as tmp:
        var_dir = Path(tmp)
        if args.sqlite is not None:
            db_path = Path(args.sqlite or var_dir / "bench.sqlite3").resolve()
            db_path.unlink(missing_ok=True)
            database_url, backend = f"sqlite:///{db_path}", f"SQLite ({db_path})"
        else:
            database_url = recreate_postgres_database(args.postgres, args.db_name)
            backend = f"PostgreSQL ({args.db_name})"
        env = service_environment(database_url, var_dir)
        os.environ.update(env)

        seed_started = time.perf_counter()
        program_uuid = migrate_and_seed(courses=args.courses, other_learners=args.other_learners)
        print(f"seeded {backend} in {time.perf_counter() - seed_started:.1f}s: program {program_uuid}")

        token = sign_jwt(LEARNER)
        path = f"/api/v1/records/programs/{program_uuid}/"
        request_queries, selector_queries = count_queries(path, token)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        with open(var_dir / "gunicorn.log", "wb") as log:
            server = start_gunicorn(env=env, port=port, workers=args.workers, log=log)
            try:
                wait_until_serving(server, base_url)
                hammer(
                    base_url + path,
                    token,
                    total=args.warmup,
                    concurrency=args.concurrency,
                    expected_courses=args.courses,
                )
                timings = hammer(
                    base_url + path,
                    token,
                    total=args.requests,
                    concurrency=args.concurrency,
                    expected_courses=None,
                )
            except BaseException:
                stop(server)
                sys.stderr.write((var_dir / "gunicorn.log").read_text())
                raise
            stop(server)

    p95 = timings.percentile(95)
    print(f"GET {path}  ({args.courses} courses, {args.workers} gunicorn workers, {args.concurrency} client threads)")
    print(f"  requests:      {args.requests} (after {args.warmup} warm-up)")
    print(f"  requests/s:    {args.requests / timings.wall_seconds:.1f}")
    print(f"  p50:           {timings.percentile(50):.2f} ms")
    print(f"  p95:           {p95:.2f} ms   (target <= {TARGET_P95_MS:.0f} ms)")
    print(f"  p99:           {timings.percentile(99):.2f} ms")
    print(f"  max:           {max(timings.latencies_ms):.2f} ms")
    print(f"  queries/request: {request_queries} (selector alone: {selector_queries})")
    if args.sqlite is None and p95 > TARGET_P95_MS and not args.no_target:
        print("p95 misses the target")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
