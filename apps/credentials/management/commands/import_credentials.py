"""Import an existing openedx/credentials service's credentials (and grades) through its REST API."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apps.credentials.importer import selectors, services
from apps.credentials.importer.client import SourceClient, source_url_of
from apps.credentials.importer.data import CredentialsPage, LmsApplication, PageResult, SkipData
from apps.credentials.importer.exceptions import CredentialImportError, SourceError

if TYPE_CHECKING:
    from apps.credentials.models import CredentialImport

JWT_ENV = "IMPORT_CREDENTIALS_JWT"
SECRET_ENV = "IMPORT_CREDENTIALS_CLIENT_SECRET"
SKIP_REASONS_SHOWN = 5


class Command(BaseCommand):
    help = (
        "Import every credential of an existing openedx/credentials service through its REST API (GET "
        "/api/v2/credentials/, 20 a page): learners by username, course-run and program certificates (their "
        "configurations created when missing, for runs and programs in the catalog), keeping each one's uuid, "
        "status, dates, date override and attributes. Rows that cannot be imported are skipped and recorded "
        "(admin: Credential imports). Each page commits with the checkpoint, so an interrupted import "
        "resumes where it stopped; running it again is safe (idempotent), and never reverts what changed here "
        "since: the later change, here or at the source, wins. The summary warns when the source gained or lost "
        "rows while it was read (rows may then have been missed: run it again with --restart). The import is "
        "history, not news: it evaluates no program and publishes no event. For programs whose certificates the "
        "source lacked, run recompute_program_certificates --program <uuid> afterwards. The token: --jwt or "
        f"{JWT_ENV} (a staff or service user's JWT for the source, e.g. the LMS's JWT for "
        "credentials_service_user), or --lms-url, --client-id and --client-secret (or "
        f"{SECRET_ENV}) to get one from the LMS's OAuth token endpoint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source_url", help="The source service's root URL, e.g. https://credentials.example.com.")
        parser.add_argument("--jwt", help=f"The source's JWT (default: ${JWT_ENV}). Prefer the environment variable.")
        parser.add_argument("--lms-url", help="Get the JWT from this LMS (POST <lms>/oauth2/access_token).")
        parser.add_argument("--client-id", help="The LMS OAuth application's client id (with --lms-url).")
        parser.add_argument(
            "--client-secret", help=f"Its client secret (default: ${SECRET_ENV}). Prefer the environment variable."
        )
        parser.add_argument(
            "--restart", action="store_true", help="Start again from page 1 rather than resume (still idempotent)."
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read every page and report what would change; write nothing (the checkpoint neither).",
        )
        parser.add_argument(
            "--with-grades",
            action="store_true",
            help="Then import grades (POST bulk_learner_cert_status) of the learners holding course certificates here.",
        )
        parser.add_argument("--grades-batch", type=int, default=50, help="Learners per grades call (default 50).")
        parser.add_argument("--timeout", type=float, default=30.0, help="Seconds to wait for an answer (default 30).")
        parser.add_argument(
            "--retries", type=int, default=5, help="Retries of a call on 5xx, 429 or a lost connection (default 5)."
        )
        parser.add_argument(
            "--backoff", type=float, default=1.0, help="Seconds before the first retry, doubling after (default 1)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs and cron).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            source_url = source_url_of(options["source_url"])
        except ValueError as exc:
            raise CommandError(f"source_url: {exc}.") from None
        dry_run: bool = options["dry_run"]
        started = time.monotonic()
        # Only a dry run asks for the grades of what it read (it wrote nothing to ask about).
        totals = _Totals(keep_course_runs=dry_run and options["with_grades"])
        client = SourceClient(
            source_url,
            **self._token_options(options),
            timeout=options["timeout"],
            retries=options["retries"],
            backoff=options["backoff"],
        )
        with client:
            try:
                client.authenticate()
                self._import_pages(client, source_url=source_url, totals=totals, options=options)
                grades = self._import_grades(client, source_url=source_url, totals=totals, options=options)
            except (SourceError, CredentialImportError) as exc:
                raise CommandError(self._stopped(source_url, exc.message, totals=totals, options=options)) from None
            except KeyboardInterrupt:
                raise CommandError(self._stopped(source_url, "Interrupted", totals=totals, options=options)) from None
        self._summary(source_url, totals, grades=grades, seconds=time.monotonic() - started, dry_run=dry_run)

    def _token_options(self, options: dict[str, Any]) -> dict[str, Any]:
        lms_url, client_id = options["lms_url"], options["client_id"]
        secret = options["client_secret"] or os.environ.get(SECRET_ENV)
        if options["jwt"] and lms_url:
            raise CommandError("Give --jwt or --lms-url (with --client-id and --client-secret), not both.")
        if lms_url:
            if not (client_id and secret):
                raise CommandError(f"--lms-url needs --client-id and --client-secret (or {SECRET_ENV}).")
            return {"lms": LmsApplication(lms_url=lms_url, client_id=client_id, client_secret=secret)}
        token = options["jwt"] or os.environ.get(JWT_ENV)
        if not token:
            raise CommandError(
                f"No token: give --jwt (or {JWT_ENV}), or --lms-url, --client-id and --client-secret (or {SECRET_ENV})."
            )
        return {"jwt": token}

    def _import_pages(self, client: SourceClient, *, source_url: str, totals: _Totals, options: dict[str, Any]) -> None:
        dry_run = options["dry_run"]
        done = 0
        if dry_run:
            number = 1
            self.stdout.write(f"Dry run of the import of {source_url}: nothing will be written.")
            page = client.get_credentials_page(number)
        else:
            previous = selectors.get_import(source_url=source_url)
            number = services.starting_page(checkpoint=previous, restart=options["restart"])
            # The first page is read before the checkpoint is touched: a refused token writes nothing.
            page = client.get_credentials_page(number)
            checkpoint = services.begin_import(source_url=source_url, restart=options["restart"])
            if number > 1:
                done = checkpoint.created_count + checkpoint.updated_count + checkpoint.unchanged_count
                done += checkpoint.skipped_count
                self.stdout.write(f"Resuming the import of {source_url} at page {number} ({done} credentials done).")
            elif previous is not None and previous.finished_at is not None and not options["restart"]:
                self.stdout.write(f"The last import of {source_url} had finished; reading it again from page 1.")
        totals.first_page = number
        with tqdm(
            total=page.count,
            initial=min(done, page.count),
            unit="credential",
            desc="credentials",
            disable=options["no_progress"],
            file=self.stderr,
        ) as bar:
            while True:
                totals.add(services.import_credentials_page(source_url=source_url, page=page, dry_run=dry_run))
                totals.read(page)
                bar.update(len(page.credentials))
                if not page.has_next:
                    totals.finished = True
                    break
                page = client.get_credentials_page(page.number + 1)

    def _import_grades(
        self, client: SourceClient, *, source_url: str, totals: _Totals, options: dict[str, Any]
    ) -> int | None:
        if not options["with_grades"]:
            return None
        batch = max(1, options["grades_batch"])
        recorded = kept = 0
        with tqdm(unit="learner", desc="grades", disable=options["no_progress"], file=self.stderr) as bar:
            # A dry run wrote nothing to ask about: it asks about the learners and runs it read.
            read = totals.course_runs if options["dry_run"] else None
            for queries in selectors.iter_grade_queries(batch=batch, read=read):
                result = services.import_grades(
                    source_url=source_url, grades=client.get_grades(queries), dry_run=options["dry_run"]
                )
                recorded, kept = recorded + result.recorded, kept + result.kept
                totals.grade_problems.extend(result.reasons)
                bar.update(len(queries))
        totals.grades_kept = kept
        return recorded

    def _stopped(self, source_url: str, problem: str, *, totals: _Totals, options: dict[str, Any]) -> str:
        if options["dry_run"]:
            return f"{problem}. (A dry run: nothing was written.)"
        services.record_import_error(source_url=source_url, error=problem)
        checkpoint = selectors.get_import(source_url=source_url)
        if checkpoint is None:
            return f"{problem}. Nothing was written."
        if checkpoint.finished_at is not None and totals.finished:
            # This run imported the last page: what stopped came after the credentials (the grades).
            if options["with_grades"]:
                return (
                    f"{problem}. This run imported every page of credentials, but the grades were not all imported "
                    "(those recorded are kept); run the command again to retry: it reads the credentials again from "
                    "page 1 (writing only what changed), then the grades."
                )
            return f"{problem}. This run imported every page of credentials; nothing is left to retry."
        if checkpoint.finished_at is not None:
            # A new pass over a finished import failed before its first page was imported.
            return (
                f"{problem}. The previous import of this source had finished, so everything it read is kept; "
                "nothing was imported by this run. Run the command again to read the source again from page 1."
            )
        return (
            f"{problem}. Pages before {checkpoint.next_page} are imported; run the command again to resume at "
            f"page {checkpoint.next_page}."
        )

    def _summary(self, source_url: str, totals: _Totals, *, grades: int | None, seconds: float, dry_run: bool) -> None:
        pages = totals.last_page - totals.first_page + 1
        self.stdout.write(
            f"{'Dry run of' if dry_run else 'Imported'} {source_url}: pages {totals.first_page} to "
            f"{totals.last_page}, {totals.source_count} credentials at the source"
            f"{'; nothing was written' if dry_run else ''}."
        )
        verb = "would be " if dry_run else ""
        lines = [
            ("pages", pages),
            (f"{verb}created", totals.created),
            (f"{verb}updated", totals.updated),
            ("unchanged", totals.unchanged),
            ("kept (changed here since)", totals.kept),
            (f"{verb}skipped", totals.skipped),
        ]
        if grades is not None:
            lines.append((f"grades {verb}recorded", grades))
            lines.append(("grades kept (already here)", totals.grades_kept))
        width = max(len(name) for name, _ in lines)
        for name, value in lines:
            self.stdout.write(f"  {name:<{width}}  {value}")
        self.stdout.write(f"  {'seconds':<{width}}  {seconds:.1f}")
        checkpoint = None if dry_run else selectors.get_import(source_url=source_url)
        if checkpoint is not None and totals.first_page > 1:
            self.stdout.write(
                f"The whole import: {checkpoint.created_count} created, {checkpoint.updated_count} updated, "
                f"{checkpoint.unchanged_count} unchanged or kept, {checkpoint.skipped_count} skipped."
            )
        if totals.first_skips:
            where = "" if dry_run else " (all of them in the admin, under Credential imports)"
            self.stdout.write(f"First skip reasons{where}:")
            for skip in totals.first_skips:
                self.stdout.write(f"  {skip.source_uuid} ({skip.username}): {skip.reason}")
        for problem in totals.grade_problems[:SKIP_REASONS_SHOWN]:
            self.stdout.write(f"  grade skipped: {problem}")
        self.stdout.write(
            "No program was evaluated and nothing was published: for programs whose certificates the source "
            "lacked, run recompute_program_certificates --program <uuid>."
        )
        if warning := self._incomplete(totals, checkpoint=checkpoint, dry_run=dry_run):
            self.stdout.write(self.style.WARNING(warning))
            again = "run the dry run again" if dry_run else "run it again with --restart"
            self.stdout.write(
                self.style.WARNING(f"Finished with a warning (exit status 0): rows may have been missed; {again}.")
            )

    def _incomplete(self, totals: _Totals, *, checkpoint: CredentialImport | None, dry_run: bool) -> str:
        """A warning when the pass may not have read every row of the source, else "". The source pages
        by offset without an order: a row added or removed before a page not read yet shifts the others
        across the page boundaries, so that some are read twice and others never. The rows read over
        the whole pass (resumed runs included: the checkpoint's counts) are compared with the source's
        count when the pass began (the checkpoint's total) and at its last page. A reordering, or as
        many rows removed as added, leaves them equal: a second pass after the switch is still the sure
        way (README)."""
        if checkpoint is not None:
            read = checkpoint.created_count + checkpoint.updated_count + checkpoint.unchanged_count
            read += checkpoint.skipped_count
            began = checkpoint.total if checkpoint.total is not None else totals.first_count
        else:
            read, began = totals.rows, totals.first_count
        counts = {began, totals.source_count, *totals.counts}
        if counts == {read}:
            return ""
        difference = max(abs(count - read) for count in counts)
        again = (
            "Run the dry run again"
            if dry_run
            else "Run the command again with --restart: a second pass writes only what changed at the source, and "
            "keeps what changed here since"
        )
        return (
            "Warning: the source changed while it was read, and some of its credentials may not have been read. "
            f"It counted {began} credentials when this import began and {totals.source_count} at its last page, "
            f"and the import read {read} rows (a difference of {difference}): the source pages by offset without "
            "an order, so rows added or removed at the source shift the others across pages, some read twice and "
            f"others never. {again}."
        )


class _Totals:
    """What this run of the command did, page after page."""

    def __init__(self, *, keep_course_runs: bool) -> None:
        self.first_page = self.last_page = 1
        self.first_count = self.source_count = 0  # the source's count at this run's first and last page
        self.counts: set[int] = set()  # every count the source gave in this run
        self.finished = False  # whether this run imported the last page
        self.created = self.updated = self.unchanged = self.kept = self.skipped = 0
        self.first_skips: list[SkipData] = []
        self.keep_course_runs = keep_course_runs
        self.course_runs: list[tuple[str, str]] = []
        self.grades_kept = 0
        self.grade_problems: list[str] = []

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged + self.kept + self.skipped

    def read(self, page: CredentialsPage) -> None:
        if not self.counts:
            self.first_count = page.count
        self.counts.add(page.count)
        self.last_page, self.source_count = page.number, page.count

    def add(self, result: PageResult) -> None:
        self.created += result.created
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.kept += result.kept
        self.skipped += result.skipped
        self.first_skips.extend(result.skips[: SKIP_REASONS_SHOWN - len(self.first_skips)])
        if self.keep_course_runs:
            self.course_runs.extend(result.course_runs)
