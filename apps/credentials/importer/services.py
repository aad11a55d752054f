"""Writes of the credentials import: each page of the source's credentials in one transaction together
with the checkpoint's advance, and the source's grades.

An import is history, not news: it evaluates no program and publishes nothing. Credentials keep the
source's uuid (certificate links stay stable), status, dates and attributes. A credential the learner
already holds here under another uuid (made by events since the switch) is ours and is kept.

Latest change wins. A credential already here under the source row's uuid (an earlier import wrote it)
is updated from the row only when the row's `modified` is later than this service's last change of it:
the later of its own `modified` and its attributes' (when the import wrote it, or when it changed here
since: revoked, re-awarded, given a date override or attributes through the services or the v2 API).
Otherwise it is kept as it is, attributes included, and counted *kept* (or *unchanged* when the row
says nothing else). So running the import again, a finished import, `--restart` or a second pass
after the switch, never reverts what changed here, and still takes what changed at the source after
the last import. The two times come from two clocks (the source's and ours): a change made on one
side within the clocks' skew of a change on the other may be ordered wrongly; keep both on NTP.
"""

from __future__ import annotations

import datetime
import enum
import logging
import uuid
from collections.abc import Iterable, Sequence

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.catalog.api import CatalogError, CatalogNotFoundError, get_course_runs, get_or_create_course_run, get_program
from apps.core.api import LearnerIdentity, User, get_or_create_learners
from apps.credentials.data import GradeUpdate
from apps.credentials.models import (
    CertificateMode,
    CourseCertificate,
    CredentialImport,
    CredentialImportSkip,
    CredentialStatus,
    ProgramCertificate,
    UserCredential,
    UserCredentialAttribute,
)
from apps.credentials.services import record_grades

from . import selectors
from .data import COURSE_RUN, CredentialsPage, GradesResult, PageResult, SkipData, SourceCredential, SourceGrade
from .exceptions import CredentialImportError, ImportErrorCode

log = logging.getLogger(__name__)

_RESET = {
    "next_page": 1,
    "total": None,
    "created_count": 0,
    "updated_count": 0,
    "unchanged_count": 0,
    "skipped_count": 0,
    "grades_count": 0,
    "finished_at": None,
}


def starting_page(*, checkpoint: CredentialImport | None, restart: bool = False) -> int:
    """The page an import starts at: the first page not committed, or page 1 for a new, finished or
    restarted import."""
    if checkpoint is None or restart or checkpoint.finished_at is not None:
        return 1
    return checkpoint.next_page


def begin_import(*, source_url: str, restart: bool = False) -> CredentialImport:
    """The checkpoint of the import of `source_url`, created at page 1 the first time. A finished
    import, or any with `restart`, starts again at page 1 (`starting_page`) with its counts at zero:
    what was imported stays, and a second pass is idempotent. Clears the last error."""
    with transaction.atomic():
        checkpoint, created = CredentialImport.objects.select_for_update().get_or_create(source_url=source_url)
        if created:
            return checkpoint
        fields: dict[str, object] = {"last_error": ""}
        if starting_page(checkpoint=checkpoint, restart=restart) == 1:
            fields.update(_RESET)
        for name, value in fields.items():
            setattr(checkpoint, name, value)
        checkpoint.save(update_fields=[*fields, "modified"])
    return checkpoint


def record_import_error(*, source_url: str, error: str) -> None:
    """Note why the import of `source_url` stopped (shown in the admin); its checkpoint stays where the
    last committed page left it."""
    CredentialImport.objects.filter(source_url=source_url).update(last_error=error, modified=timezone.now())


def import_credentials_page(*, source_url: str, page: CredentialsPage, dry_run: bool = False) -> PageResult:
    """Import one page of the source's credentials and advance the checkpoint past it, in one
    transaction: an interrupted import resumes at the first page not committed. Rows that cannot be
    imported (an unknown course run, mode or program; bad data; a credential held here under another
    uuid) are skipped and recorded with why, never fatal. Idempotent: a row imported before and
    unchanged at the source changes nothing; a credential changed here since the source's row last
    changed is kept (latest change wins, see the module's docstring).

    The checkpoint counts every row once (its unchanged count includes the kept ones) and keeps, as
    its total, the source's count when the pass began (page 1), so that the command can tell whether
    the source gained or lost rows while it was read.

    A fixed number of queries whatever the page holds, when its course runs are in the catalog and
    its programs have certificate configurations; else a few more for each of those it names (the
    configuration is created, active, on the first page that needs it). Locks the learners in pk
    order, then their credentials in pk order. A dry run does everything, reports it and rolls it back,
    checkpoint included, whatever page it reads. Raises CredentialImportError when the page is not
    the checkpoint's next one (another import of the source running)."""
    with transaction.atomic():
        if dry_run:
            checkpoint, _ = CredentialImport.objects.get_or_create(source_url=source_url)
        else:
            held = CredentialImport.objects.select_for_update().filter(source_url=source_url).first()
            if held is None or held.next_page != page.number:
                expected = held.next_page if held else "none (it never began)"
                raise CredentialImportError(
                    f"The import of {source_url} expects page {expected} next, not {page.number}: is another "
                    "import of this source running?",
                    code=ImportErrorCode.OUT_OF_ORDER,
                )
            checkpoint = held
        result = _import_rows(checkpoint=checkpoint, rows=page.credentials)
        if dry_run:
            transaction.set_rollback(True)
        else:
            CredentialImport.objects.filter(pk=checkpoint.pk).update(
                next_page=page.number + 1,
                # The count when the pass began: a later page's count may differ (see the docstring).
                total=page.count if page.number == 1 or checkpoint.total is None else checkpoint.total,
                created_count=F("created_count") + result.created,
                updated_count=F("updated_count") + result.updated,
                # The model has no column of its own for the kept ones: they changed nothing either.
                unchanged_count=F("unchanged_count") + result.unchanged + result.kept,
                skipped_count=F("skipped_count") + result.skipped,
                finished_at=None if page.has_next else timezone.now(),
                last_error="",
                modified=timezone.now(),
            )
    return result


def import_grades(*, source_url: str, grades: Sequence[SourceGrade], dry_run: bool = False) -> GradesResult:
    """Record the source's grades through `credentials.services.record_grades` (letter, percent and
    verified as the source has them; passing left unsaid) where this service has no grade for the
    learner and run yet, and count them on the checkpoint. A grade already here is kept: it came from
    the LMS's events, which are newer than the source's copy, and the source's grades carry no time
    to order them by. Idempotent. A dry run records nothing and reports what it would record."""
    readable = [grade for grade in grades if not grade.problem]
    reasons = tuple(f"{g.username} in {g.course_run_key}: {g.problem}" for g in grades if g.problem)
    pairs = [(grade.username, grade.course_run_key) for grade in readable]
    if dry_run:
        graded = selectors.list_graded(pairs=pairs)
        todo = [grade for grade in readable if (grade.username, grade.course_run_key) not in graded]
        return GradesResult(recorded=len(todo), kept=len(readable) - len(todo), skipped=len(reasons), reasons=reasons)
    if not readable:
        return GradesResult(skipped=len(reasons), reasons=reasons)
    with transaction.atomic():
        # The learners' locks first, as every grade update takes them: no event records a grade of
        # theirs between this read and the write.
        get_or_create_learners([LearnerIdentity(username=username) for username in dict.fromkeys(u for u, _ in pairs)])
        graded = selectors.list_graded(pairs=pairs)
        todo = [grade for grade in readable if (grade.username, grade.course_run_key) not in graded]
        record_grades(
            updates=[
                GradeUpdate(
                    learner=LearnerIdentity(username=grade.username),
                    course_run_key=grade.course_run_key,
                    percent_grade=grade.percent_grade,
                    passed=None,
                    letter_grade=grade.letter_grade,
                    verified=grade.verified,
                )
                for grade in todo
            ]
        )
        CredentialImport.objects.filter(source_url=source_url).update(
            grades_count=F("grades_count") + len(todo), modified=timezone.now()
        )
    return GradesResult(recorded=len(todo), kept=len(readable) - len(todo), skipped=len(reasons), reasons=reasons)


# --- one page ------------------------------------------------------------------------------------


def _import_rows(*, checkpoint: CredentialImport, rows: Sequence[SourceCredential]) -> PageResult:
    """Import these rows of one page. The caller holds the transaction."""
    skipped: dict[uuid.UUID, str] = {}
    seen: set[uuid.UUID] = set()
    repeated = 0
    candidates = []
    for row in rows:
        if row.uuid in seen:
            # The first copy decided (imported, kept or skipped, and recorded once under the uuid):
            # this one changes nothing, so it counts as unchanged, not as a skip nobody can find.
            log.warning("The source's uuid %s repeats on one page; only its first copy was read", row.uuid)
            repeated += 1
            continue
        seen.add(row.uuid)
        reason = row.problem or _mode_problem(row)
        if reason:
            skipped[row.uuid] = reason
        else:
            candidates.append(row)

    course_ids, course_reasons = _course_certificate_ids(
        {(row.course_run_key, row.mode) for row in candidates if row.kind == COURSE_RUN}
    )
    program_ids, program_reasons = _program_certificate_ids(
        {row.program_uuid for row in candidates if row.kind != COURSE_RUN and row.program_uuid}
    )
    types = ContentType.objects.get_for_models(CourseCertificate, ProgramCertificate)
    course_type, program_type = types[CourseCertificate].pk, types[ProgramCertificate].pk
    resolved: list[tuple[SourceCredential, int, int]] = []  # row, content type id, configuration id
    for row in candidates:
        if row.kind == COURSE_RUN:
            configuration_id = course_ids.get((row.course_run_key, row.mode))
            reason = course_reasons.get(row.course_run_key, "")
            content_type = course_type
        else:
            assert row.program_uuid is not None
            configuration_id = program_ids.get(row.program_uuid)
            reason = program_reasons.get(row.program_uuid, "")
            content_type = program_type
        if configuration_id is None:
            skipped[row.uuid] = reason or "no certificate configuration could be found or made"
        else:
            resolved.append((row, content_type, configuration_id))

    learners = _learners(row.username for row, _, _ in resolved)
    held = _lock_credentials(
        uuids=[row.uuid for row, _, _ in resolved],
        user_ids={user.pk for user in learners.values()},
        configurations=[(content_type, configuration_id) for _, content_type, configuration_id in resolved],
    )
    writes = _Writes(held=held, now=timezone.now())
    created = updated = kept = 0
    unchanged = repeated
    taken: list[uuid.UUID] = []
    course_runs: list[tuple[str, str]] = []
    for row, content_type, configuration_id in resolved:
        user = learners[row.username]
        key = (user.pk, content_type, configuration_id)
        credential = writes.by_uuid.get(row.uuid)
        if credential is None:
            ours = writes.by_key.get(key)
            if ours is not None:
                skipped[row.uuid] = (
                    f"{row.username} already holds this credential here as {ours.uuid} (made here since); kept that one"
                )
                continue
            writes.create(row, user_id=user.pk, content_type=content_type, configuration_id=configuration_id)
            created += 1
        elif (credential.user_id, credential.credential_content_type_id, credential.credential_id) != key:
            skipped[row.uuid] = (
                f"its uuid is another credential's here (learner id {credential.user_id}, credential type "
                f"{credential.credential_content_type_id} #{credential.credential_id}); kept that one"
            )
            continue
        else:
            outcome = writes.update(credential, row)
            if outcome is _Outcome.UPDATED:
                updated += 1
            elif outcome is _Outcome.KEPT:
                kept += 1
            else:
                unchanged += 1
        taken.append(row.uuid)
        if row.kind == COURSE_RUN:
            course_runs.append((row.username, row.course_run_key))
    writes.save()

    by_uuid = {row.uuid: row for row in rows}
    skips = [
        SkipData(source_uuid=source_uuid, username=by_uuid[source_uuid].username, reason=reason)
        for source_uuid, reason in skipped.items()
    ]
    order = {row.uuid: index for index, row in enumerate(rows)}
    skips.sort(key=lambda skip: order[skip.source_uuid])
    _record_skips(checkpoint=checkpoint, skips=skips, rows=by_uuid, taken=taken)
    return PageResult(
        created=created,
        updated=updated,
        unchanged=unchanged,
        kept=kept,
        skips=tuple(skips),
        course_runs=tuple(course_runs),
    )


def _mode_problem(row: SourceCredential) -> str:
    if row.kind == COURSE_RUN and row.mode not in CertificateMode.values:
        return f"an unknown certificate mode {row.mode!r}"
    return ""


def _course_certificate_ids(
    wanted: set[tuple[str, str]],
) -> tuple[dict[tuple[str, str], int], dict[str, str]]:
    """The ids of the certificate configurations of these (course run key, mode), creating the missing
    ones of runs in the catalog (as `record_course_certificates` does: the source's certificates say
    which modes issue them); and why, for each run key that cannot have one."""
    if not wanted:
        return {}, {}
    keys = {key for key, _ in wanted}

    def read() -> dict[tuple[str, str], int]:
        rows = CourseCertificate.objects.filter(course_run__key__in=keys).values_list(
            "course_run__key", "certificate_type", "pk"
        )
        return {(key, mode): pk for key, mode, pk in rows}

    found = read()
    missing = wanted - found.keys()
    if not missing:
        return found, {}
    run_ids, reasons = _course_run_ids({key for key, _ in missing})
    if creatable := sorted((run_ids[key], mode) for key, mode in missing if key in run_ids):
        # Another writer may create the same ones meanwhile: keep theirs.
        CourseCertificate.objects.bulk_create(
            [CourseCertificate(course_run_id=run_id, certificate_type=mode) for run_id, mode in creatable],
            ignore_conflicts=True,
        )
        found = read()
    return found, reasons


def _course_run_ids(keys: set[str]) -> tuple[dict[str, int], dict[str, str]]:
    """The ids of these course runs, created when only their course is in the catalog (as the LMS's
    events create them); and why, for each key that has none."""
    try:
        return {key: run.id for key, run in get_course_runs(keys=sorted(keys)).items()}, {}
    except CatalogNotFoundError:
        pass
    # At least one is not in the catalog, and the catalog names only the first: one at a time.
    found, reasons = {}, {}
    for key in sorted(keys):
        try:
            found[key] = get_or_create_course_run(key=key).id
        except CatalogNotFoundError:
            reasons[key] = f"the course run {key} is not in the catalog, nor its course"
        except CatalogError:
            reasons[key] = f"{key!r} is not a course run key"
    return found, reasons


def _program_certificate_ids(wanted: set[uuid.UUID]) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, str]]:
    """The ids of these programs' certificate configurations, creating (active) the missing ones of
    programs in the catalog; and why, for each program that cannot have one."""
    if not wanted:
        return {}, {}

    def read() -> dict[uuid.UUID, int]:
        return dict(ProgramCertificate.objects.filter(program__uuid__in=wanted).values_list("program__uuid", "pk"))

    found = read()
    reasons: dict[uuid.UUID, str] = {}
    program_ids = []
    for program_uuid in sorted(wanted - found.keys()):
        try:
            program_ids.append(get_program(program_uuid=program_uuid).id)
        except CatalogNotFoundError:
            reasons[program_uuid] = f"the program {program_uuid} is not in the catalog"
    if program_ids:
        ProgramCertificate.objects.bulk_create(
            [ProgramCertificate(program_id=program_id, is_active=True) for program_id in program_ids],
            ignore_conflicts=True,
        )
        found = read()
    return found, reasons


def _learners(usernames: Iterable[str]) -> dict[str, User]:
    """The learners with these usernames, created when new, locked in pk order."""
    names = list(dict.fromkeys(usernames))
    if not names:
        return {}
    users = get_or_create_learners([LearnerIdentity(username=name) for name in names])
    return dict(zip(names, users, strict=True))


def _lock_credentials(
    *, uuids: Sequence[uuid.UUID], user_ids: set[int], configurations: Sequence[tuple[int, int]]
) -> list[UserCredential]:
    """Lock, in pk order, the credentials with these uuids and those the learners hold of these
    configurations (content type id, configuration id). One query."""
    if not uuids:
        return []
    by_type: dict[int, set[int]] = {}
    for content_type, configuration_id in configurations:
        by_type.setdefault(content_type, set()).add(configuration_id)
    wanted = Q(uuid__in=uuids)
    for content_type, configuration_ids in by_type.items():
        wanted |= Q(user_id__in=user_ids, credential_content_type_id=content_type, credential_id__in=configuration_ids)
    return list(UserCredential.objects.select_for_update().filter(wanted).order_by("pk"))


class _Outcome(enum.Enum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept"  # the source's row says something else, but this service changed it later


class _Writes:
    """The page's credentials and their attributes, changed in memory and written at the end in at
    most four statements. The caller holds the transaction and the locks."""

    def __init__(self, *, held: list[UserCredential], now: datetime.datetime) -> None:
        self.now = now
        self.by_uuid = {credential.uuid: credential for credential in held}
        self.by_key = {(c.user_id, c.credential_content_type_id, c.credential_id): c for c in held}
        self.attributes: dict[int, dict[str, UserCredentialAttribute]] = {}
        for attribute in UserCredentialAttribute.objects.filter(user_credential_id__in=[c.pk for c in held]):
            self.attributes.setdefault(attribute.user_credential_id, {})[attribute.name] = attribute
        self.new: list[UserCredential] = []
        self.changed: dict[int, UserCredential] = {}
        self.changed_fields: set[str] = set()
        self.new_attributes: list[UserCredentialAttribute] = []
        self.changed_attributes: list[UserCredentialAttribute] = []

    def create(self, row: SourceCredential, *, user_id: int, content_type: int, configuration_id: int) -> None:
        credential = UserCredential(
            uuid=row.uuid,
            user_id=user_id,
            credential_content_type_id=content_type,
            credential_id=configuration_id,
            **_source_fields(row),
        )
        self.new.append(credential)
        self.by_uuid[credential.uuid] = credential
        self.by_key[(user_id, content_type, configuration_id)] = credential
        self.new_attributes.extend(
            UserCredentialAttribute(user_credential=credential, name=attribute.name, value=attribute.value)
            for attribute in row.attributes
        )

    def update(self, credential: UserCredential, row: SourceCredential) -> _Outcome:
        """Make the credential (fields and attributes) say what the source's row says, when the row
        changed later than this service last changed the credential (latest change wins); else leave
        it as it is. Return UNCHANGED when the row says nothing else, KEPT when it does but is older."""
        fields = {name: value for name, value in _source_fields(row).items() if getattr(credential, name) != value}
        stored = self.attributes.get(credential.pk, {})
        added = [attribute for attribute in row.attributes if attribute.name not in stored]
        changed = [
            (stored[attribute.name], attribute.value)
            for attribute in row.attributes
            if attribute.name in stored and stored[attribute.name].value != attribute.value
        ]
        if not (fields or added or changed):
            return _Outcome.UNCHANGED
        # A row read passed its problem check, so it has a `modified`. Equal times keep ours: it was
        # written at or after the source's change.
        assert row.modified is not None
        changed_here = max([credential.modified, *(attribute.modified for attribute in stored.values())])
        if row.modified <= changed_here:
            return _Outcome.KEPT
        for name, value in fields.items():
            setattr(credential, name, value)
        self.new_attributes.extend(
            UserCredentialAttribute(user_credential=credential, name=attribute.name, value=attribute.value)
            for attribute in added
        )
        for held, value in changed:
            held.value, held.modified = value, self.now  # bulk_update leaves auto_now alone
            self.changed_attributes.append(held)
        # Its `modified` moves on even when only attributes changed: it is the time of the import's
        # write that the next pass compares the source's row with.
        self.changed[credential.pk] = credential
        self.changed_fields.update(fields)
        return _Outcome.UPDATED

    def save(self) -> None:
        UserCredential.objects.bulk_create(self.new)
        if self.changed:
            for credential in self.changed.values():
                credential.modified = self.now
            UserCredential.objects.bulk_update(list(self.changed.values()), [*sorted(self.changed_fields), "modified"])
        UserCredentialAttribute.objects.bulk_create(self.new_attributes)
        UserCredentialAttribute.objects.bulk_update(self.changed_attributes, ["value", "modified"])


def _source_fields(row: SourceCredential) -> dict[str, object]:
    """What the source's row says of the credential: status, dates, date override, visible date. An
    awarded one was awarded when the source created it; a revoked one was revoked when the source last
    changed it, and keeps any award time it had here. A visible date is taken only from a
    `visible_date` attribute; none leaves ours."""
    fields: dict[str, object] = {"status": row.status, "date_override": row.date_override}
    if row.status == CredentialStatus.AWARDED:
        fields.update(awarded_at=row.created, revoked_at=None)
    else:
        fields["revoked_at"] = row.modified
    if row.visible_date is not None:
        fields["visible_date"] = row.visible_date
    return fields


def _record_skips(
    *,
    checkpoint: CredentialImport,
    skips: Sequence[SkipData],
    rows: dict[uuid.UUID, SourceCredential],
    taken: Sequence[uuid.UUID],
) -> None:
    """Record (or re-record) the page's skips; forget earlier skips of rows now imported. Two queries."""
    CredentialImportSkip.objects.bulk_create(
        [
            CredentialImportSkip(
                credential_import=checkpoint,
                source_uuid=skip.source_uuid,
                username=skip.username[:255],
                reason=skip.reason,
                payload=dict(rows[skip.source_uuid].payload),
            )
            for skip in skips
        ],
        update_conflicts=True,
        unique_fields=["credential_import", "source_uuid"],
        update_fields=["username", "reason", "payload", "modified"],
    )
    if taken:
        CredentialImportSkip.objects.filter(credential_import=checkpoint, source_uuid__in=taken).delete()
