"""Helpers shared by the handler-level benchmarks (events_bench.py, badges_bench.py): their own
PostgreSQL database, the environment of test settings they run under, a snapshot of the seeded
database restored before each run, SQL statements grouped by verb and table, and a cProfile summary.

Nothing here imports Django at module level: the scripts set the environment first.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432"


# --- database and settings -------------------------------------------------------------------


def add_database_arguments(
    parser: argparse.ArgumentParser, *, db_name: str, postgres_by_default: bool, postgres_help: str = ""
) -> None:
    """--postgres and --db-name as the benches take them. With PostgreSQL by default, --postgres names
    its server and --sqlite picks SQLite in memory instead; otherwise SQLite in memory is the default and
    --postgres [SERVER_URL] picks PostgreSQL."""
    if postgres_by_default:
        parser.add_argument("--sqlite", action="store_true", help="SQLite in memory instead of PostgreSQL")
        parser.add_argument(
            "--postgres",
            default=DEFAULT_POSTGRES,
            metavar="SERVER_URL",
            help=postgres_help or f"PostgreSQL server, no database name ({DEFAULT_POSTGRES})",
        )
    else:
        parser.add_argument(
            "--postgres",
            nargs="?",
            const=DEFAULT_POSTGRES,
            metavar="SERVER_URL",
            help=postgres_help or f"PostgreSQL instead of SQLite in memory (server URL, default {DEFAULT_POSTGRES})",
        )
    parser.add_argument("--db-name", default=db_name, help="PostgreSQL database to (re)create")


def recreate_postgres_database(server_url: str, name: str, *, template: str | None = None) -> str:
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        else:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_postgres_database(server_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(server_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def service_environment(*, database_url: str, var_dir: Path, redis_url: str, prefix: str) -> dict[str, str]:
    # Test settings (as the reference was measured), with DEBUG off: DEBUG on would keep every query.
    return {
        "DJANGO_SETTINGS_MODULE": "credentials_service.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EVENT_BUS_TOPIC_PREFIX": prefix,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,  # core.E001 refuses the dev key with DEBUG off
        "LOG_LEVEL": "WARNING",
        "CREDENTIALS_VAR_DIR": str(var_dir),
    }


class Snapshot:
    """The migrated, seeded database, restored before each run so every run starts from the same state.
    On PostgreSQL the copy is the database `{db_name}_{label}` (several snapshots need several labels)."""

    def __init__(self, *, postgres: str | None, db_name: str, label: str = "template") -> None:
        from django.db import connection

        self.postgres, self.db_name = postgres, db_name
        self.template_name = f"{db_name}_{label}"
        if postgres is None:
            import sqlite3

            self.sqlite = sqlite3.connect(":memory:")
            connection.ensure_connection()
            connection.connection.backup(self.sqlite)
        else:
            connection.close()
            recreate_postgres_database(postgres, self.template_name, template=db_name)

    def restore(self) -> None:
        from django.db import connection

        if self.postgres is None:
            # Django never closes an in-memory database (that would destroy it); a backup onto it
            # replaces its whole content instead.
            self.sqlite.backup(connection.connection)
        else:
            connection.close()
            recreate_postgres_database(self.postgres, self.db_name, template=self.template_name)

    def drop(self) -> None:
        if self.postgres is None:
            self.sqlite.close()
        else:
            from django.db import connection

            connection.close()
            drop_postgres_database(self.postgres, self.template_name)


# --- queries and profiles --------------------------------------------------------------------

_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def sql_group(sql: str) -> str:
    """`SELECT core_user FOR UPDATE`, `INSERT eventbus_processedevent`, `SAVEPOINT`…"""
    words = sql.split(None, 3)
    verb = words[0].upper()
    if verb in ("SAVEPOINT", "BEGIN", "COMMIT"):
        return verb
    if verb in ("RELEASE", "ROLLBACK") and "SAVEPOINT" in sql.upper()[:40]:
        return f"{verb} SAVEPOINT"
    match = _TABLE.search(sql)
    group = f"{verb} {match.group(1) if match else '?'}"
    if "FOR UPDATE" in sql.upper():
        group += " FOR UPDATE"
    if "ON CONFLICT" in sql.upper():
        group += " ON CONFLICT"
    return group


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def shorten(sql: str, width: int = 150) -> str:
    sql = re.sub(r"\s+", " ", sql)
    sql = re.sub(r"SELECT .*? FROM", "SELECT … FROM", sql, count=1) if sql.startswith("SELECT") else sql
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def format_profile(profile: cProfile.Profile) -> str:
    """Top 15 by cumulative time overall, top 25 within our own code (apps/), top 15 by own time."""
    ours = str(BASE_DIR / "apps") + os.sep
    out = io.StringIO()
    out.write("  by cumulative time:\n")
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("cumulative").print_stats(15)
    out.write("  our code (apps/) by cumulative time:\n")
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(re.escape(ours), 25)
    out.write("  by own time:\n")
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
    # pstats' banners (totals, "Ordered by", "List reduced") repeat themselves; keep the table rows.
    banners = ("Ordered by", "List reduced")
    lines = out.getvalue().replace(ours, "").splitlines()
    return "\n".join(
        line for line in lines if line.strip() and not line.strip().startswith(banners) and "function calls" not in line
    )


@contextmanager
def bench_django(
    *, postgres: str | None, db_name: str, prefix: str, redis_url: str = "redis://127.0.0.1:6379/15"
) -> Iterator[str]:
    """Django set up in this process for a benchmark: SQLite in memory, or the fresh PostgreSQL database
    `db_name` on `postgres` (dropped afterwards), with a temporary var dir; yields the backend's label."""
    import django

    with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as tmp:
        if postgres is None:
            database_url, backend = "sqlite://:memory:", "SQLite in memory"
        else:
            database_url = recreate_postgres_database(postgres, db_name)
            backend = f"PostgreSQL ({db_name})"
        os.environ.update(
            service_environment(database_url=database_url, var_dir=Path(tmp), redis_url=redis_url, prefix="bench")
        )
        django.setup()
        try:
            yield backend
        finally:
            if postgres is not None:
                from django.db import connection

                connection.close()
                drop_postgres_database(postgres, db_name)
