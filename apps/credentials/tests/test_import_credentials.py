"""import_credentials against a real HTTP server shaped as openedx/credentials (source_service.py)."""

from __future__ import annotations

import datetime
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.catalog.models import CourseRun, Program
from apps.catalog.tests.factories import CourseFactory, CourseRunFactory, ProgramFactory
from apps.core.api import LearnerIdentity
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import services as credential_services
from apps.credentials.data import CredentialAttributeData
from apps.credentials.importer import services
from apps.credentials.importer.client import SourceClient
from apps.credentials.importer.exceptions import CredentialImportError
from apps.credentials.models import (
    CourseCertificate,
    CredentialImport,
    CredentialImportSkip,
    ProgramCertificate,
    UserCredential,
    UserCredentialAttribute,
    UserGrade,
)
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory
from apps.credentials.tests.source_service import (
    FakeCredentialsService,
    course_run_credential,
    program_credential,
    source_time,
)
from apps.eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db

TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VydmljZS11c2Vy.Zm9yLXRoZS1pbXBvcnQ"
CLIENT_ID = "credentials-import"
CLIENT_SECRET = "lms-client-s3cret-7f3a9c"
NOW = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=datetime.UTC)
UNKNOWN_PROGRAM = uuid.UUID("00000000-0000-4000-8000-00000000dead")
KEPT = "kept (changed here since)"
WARNING = "Finished with a warning (exit status 0)"


def day(n: int) -> datetime.datetime:
    return NOW - datetime.timedelta(days=n)


def later(minutes: int = 1) -> datetime.datetime:
    """A time after anything written so far (the source's times are whole seconds)."""
    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)).replace(microsecond=0)


@dataclass
class Catalog:
    run_a: CourseRun  # in program one, its verified certificate configured
    run_b: CourseRun  # in program one, no certificate configuration yet
    new_run_key: str  # a run of a course in the catalog, the run itself not
    program_one: Program  # its certificate configured
    program_two: Program  # no certificate configuration yet


@dataclass
class Source:
    rows: list[dict[str, Any]]  # every row, in the source's order
    good: list[dict[str, Any]]  # the 40 importable ones
    bad: list[dict[str, Any]]  # the 5 skipped ones


@pytest.fixture
def source() -> Iterator[FakeCredentialsService]:
    with FakeCredentialsService(tokens=[TOKEN], oauth_clients={CLIENT_ID: CLIENT_SECRET}) as server:
        yield server


@pytest.fixture
def catalog() -> Catalog:
    program_one = ProgramFactory(course_count=2)
    runs = [pc.course.course_runs.get() for pc in program_one.program_courses.order_by("position")]
    ProgramCertificateFactory(program=program_one)
    CourseCertificateFactory(course_run=runs[0], certificate_type="verified")
    return Catalog(
        run_a=runs[0],
        run_b=runs[1],
        new_run_key=f"course-v1:{CourseFactory().key}+2024_NEW",
        program_one=program_one,
        program_two=ProgramFactory(course_count=1),
    )


def fill(source: FakeCredentialsService, catalog: Catalog) -> Source:
    """45 credentials: 20 course-run ones (in two runs; some revoked, some with attributes and date
    overrides), 10 of a configured program, 5 of a program without a configuration yet, 5 in a run
    the catalog lacks (its course known), and 5 that cannot be imported, spread over the 3 pages."""
    good = []
    for i in range(20):
        attributes = [("visible_date", source_time(day(100 - i))), ("whitelist_reason", f"reason {i}")]
        good.append(
            course_run_credential(
                username=f"learner{i:02}",
                course_run_key=(catalog.run_a if i % 2 else catalog.run_b).key,
                status="revoked" if i % 5 == 0 else "awarded",
                attributes=attributes if i % 3 == 0 else (),
                date_override=day(50) if i % 4 == 0 else None,
                created=day(200 - i),
                modified=day(150 - i),
            )
        )
    for i in range(10):
        good.append(
            program_credential(
                username=f"learner{i:02}",
                program_uuid=catalog.program_one.uuid,
                status="revoked" if i % 4 == 1 else "awarded",
                created=day(120 - i),
                modified=day(60 - i),
            )
        )
    for i in range(5):
        good.append(
            program_credential(username=f"learner{10 + i:02}", program_uuid=catalog.program_two.uuid, created=day(90))
        )
    for i in range(5):
        good.append(
            course_run_credential(
                username=f"learner{15 + i:02}", course_run_key=catalog.new_run_key, mode="professional", created=day(80)
            )
        )
    bad = [
        course_run_credential(username="learner90", course_run_key="course-v1:Nowhere+N1+2024", created=day(5)),
        program_credential(username="learner91", program_uuid=UNKNOWN_PROGRAM, created=day(5)),
        course_run_credential(username="learner92", course_run_key=catalog.run_a.key, mode="gold", created=day(5)),
        {
            **course_run_credential(username="learner93", course_run_key=catalog.run_a.key, created=day(5)),
            "status": "?",
        },
        {**program_credential(username="learner94", program_uuid=catalog.program_one.uuid, created=day(5)), "uuid": ""},
    ]
    rows = list(good)
    for position, row in zip((3, 17, 25, 38, 44), bad, strict=True):
        rows.insert(position, row)
    source.credentials = rows
    return Source(rows=rows, good=good, bad=bad)


def run_import(source: FakeCredentialsService, *args: str, token: str | None = TOKEN) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    options = ["--jwt", token] if token else []
    call_command("import_credentials", source.url, *options, "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def counts(output: str) -> dict[str, int]:
    """The summary's counts, by name ("created", "would be created", "grades recorded", ...)."""
    return {name: int(value) for name, value in re.findall(r"^  (\S.*?)\s{2,}(\d+)$", output, re.M)}


def attribute_rows() -> dict[tuple[uuid.UUID, str], tuple[str, datetime.datetime]]:
    return {
        (a.user_credential.uuid, a.name): (a.value, a.modified)
        for a in UserCredentialAttribute.objects.select_related("user_credential")
    }


def credential_uuids() -> set[str]:
    return {str(value) for value in UserCredential.objects.values_list("uuid", flat=True)}


def uuids_of(rows: list[dict[str, Any]]) -> set[str]:
    return {row["uuid"] for row in rows}


def parse(value: str) -> datetime.datetime:
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


# --- a full import ------------------------------------------------------------------------------------


def test_import_takes_every_credential_with_its_uuid_status_dates_and_attributes(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given
    data = fill(source, catalog)
    # when
    out, err = run_import(source)
    # then: every importable row, under its own uuid
    assert credential_uuids() == uuids_of(data.good)
    assert counts(out) == {"pages": 3, "created": 40, "updated": 0, "unchanged": 0, KEPT: 0, "skipped": 5}
    assert WARNING not in out
    for row in data.good:
        credential = UserCredential.objects.select_related("user").get(uuid=row["uuid"])
        assert credential.user.username == row["username"]
        assert credential.status == row["status"]
        if row["status"] == "awarded":
            assert (credential.awarded_at, credential.revoked_at) == (parse(row["created"]), None)
        else:
            assert (credential.awarded_at, credential.revoked_at) == (None, parse(row["modified"]))
        override = row["date_override"]
        assert credential.date_override == (parse(override["date"]) if override else None)
        attributes = {a["name"]: a["value"] for a in row["attributes"]}
        assert dict(credential.attributes.values_list("name", "value")) == attributes
        assert credential.visible_date == (parse(attributes["visible_date"]) if attributes else None)
    # the configurations it needed, and the catalog's missing run of a known course
    run_b_verified = CourseCertificate.objects.get(course_run=catalog.run_b, certificate_type="verified")
    assert run_b_verified.user_credentials.count() == 10
    new_run = CourseRun.objects.get(key=catalog.new_run_key)
    assert CourseCertificate.objects.get(course_run=new_run).certificate_type == "professional"
    assert ProgramCertificate.objects.get(program=catalog.program_two).is_active
    assert catalog.program_two.certificate.user_credentials.count() == 5
    # the skips, recorded with why and the row as sent
    skips = {str(skip.source_uuid): skip for skip in CredentialImportSkip.objects.all()}
    assert len(skips) == 5
    reasons = [skips[row["uuid"]].reason for row in data.bad[:4]]
    assert "course-v1:Nowhere+N1+2024 is not in the catalog" in reasons[0]
    assert f"program {UNKNOWN_PROGRAM} is not in the catalog" in reasons[1]
    assert "unknown certificate mode 'gold'" in reasons[2]
    assert "unknown status '?'" in reasons[3]
    assert any(skip.reason == "no valid uuid" and skip.username == "learner94" for skip in skips.values())
    assert skips[data.bad[0]["uuid"]].payload["credential"]["course_run_key"] == "course-v1:Nowhere+N1+2024"
    assert "course-v1:Nowhere+N1+2024 is not in the catalog" in out
    # the checkpoint; and history is not news: nothing published
    checkpoint = CredentialImport.objects.get(source_url=source.url)
    assert (checkpoint.next_page, checkpoint.total, checkpoint.created_count, checkpoint.skipped_count) == (
        4,
        45,
        40,
        5,
    )
    assert checkpoint.finished_at is not None
    assert not OutboxEvent.objects.exists()
    assert "recompute_program_certificates" in out
    assert TOKEN not in out + err


def test_a_second_import_changes_nothing(source: FakeCredentialsService, catalog: Catalog) -> None:
    # given
    fill(source, catalog)
    run_import(source)
    before = {c.uuid: (c.modified, c.status) for c in UserCredential.objects.all()}
    attributes = attribute_rows()
    skips = set(CredentialImportSkip.objects.values_list("pk", flat=True))
    users = User.objects.count()
    # when
    out, _ = run_import(source)
    # then
    assert "had finished; reading it again from page 1" in out
    assert counts(out) == {"pages": 3, "created": 0, "updated": 0, "unchanged": 40, KEPT: 0, "skipped": 5}
    assert {c.uuid: (c.modified, c.status) for c in UserCredential.objects.all()} == before
    assert attribute_rows() == attributes
    assert set(CredentialImportSkip.objects.values_list("pk", flat=True)) == skips
    assert User.objects.count() == users
    checkpoint = CredentialImport.objects.get(source_url=source.url)
    assert (checkpoint.created_count, checkpoint.unchanged_count, checkpoint.skipped_count) == (0, 40, 5)


def test_a_row_changed_at_the_source_is_updated_and_attributes_are_never_deleted(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: imported; then (after the import) the source revokes one, changes another's attributes,
    # moves a date override
    data = fill(source, catalog)
    run_import(source)
    revoked, retagged, moved = data.good[1], data.good[3], data.good[4]
    changed = later()
    revoked.update(status="revoked", modified=source_time(changed))
    retagged["attributes"] = [{"name": "whitelist_reason", "value": "changed"}, {"name": "grader", "value": "x"}]
    moved["date_override"] = {"date": source_time(day(2))}
    for row in (retagged, moved):
        row["modified"] = source_time(changed)
    # when
    out, _ = run_import(source)
    # then
    assert counts(out) == {"pages": 3, "created": 0, "updated": 3, "unchanged": 37, KEPT: 0, "skipped": 5}
    credential = UserCredential.objects.get(uuid=revoked["uuid"])
    assert (credential.status, credential.revoked_at) == ("revoked", changed)
    assert credential.awarded_at == parse(revoked["created"])  # when it was awarded stays known
    attributes = dict(UserCredential.objects.get(uuid=retagged["uuid"]).attributes.values_list("name", "value"))
    assert attributes == {
        "visible_date": source_time(day(97)),  # no longer sent, kept
        "whitelist_reason": "changed",
        "grader": "x",
    }
    assert UserCredential.objects.get(uuid=moved["uuid"]).date_override == day(2)


def test_a_second_pass_keeps_what_changed_here_since_and_takes_what_changed_at_the_source_later(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: imported; then, here, learner01's run A certificate and learner00's program one revoked
    data = fill(source, catalog)
    run_import(source)
    course_row, program_row, changed_there, changed_both = data.good[1], data.good[20], data.good[7], data.good[22]
    assert [row["status"] for row in (course_row, program_row, changed_there, changed_both)] == ["awarded"] * 4
    learners = {
        user.username: user for user in User.objects.filter(username__in=["learner00", "learner01", "learner02"])
    }
    credential_services.revoke_course_certificate(
        user=learners["learner01"], course_run_key=catalog.run_a.key, mode="verified"
    )
    credential_services.revoke_program_certificate(user=learners["learner00"], program_uuid=catalog.program_one.uuid)
    # and learner02's program certificate revoked here, then changed at the source after that (it wins);
    # learner07's revoked at the source after the import
    credential_services.revoke_program_certificate(user=learners["learner02"], program_uuid=catalog.program_one.uuid)
    changed = later()
    changed_there.update(status="revoked", modified=source_time(changed))
    changed_both["modified"] = source_time(changed)
    kept_uuids = [course_row["uuid"], program_row["uuid"]]
    revoked_here = {
        c.uuid: (c.status, c.revoked_at, c.modified) for c in UserCredential.objects.filter(uuid__in=kept_uuids)
    }
    assert {status for status, _, _ in revoked_here.values()} == {"revoked"}
    events = OutboxEvent.objects.count()
    # when: the import runs again (a finished import reads from page 1 again)
    out, _ = run_import(source)
    # then: what changed here since stays; what changed at the source later is taken; nothing published
    assert counts(out) == {"pages": 3, "created": 0, "updated": 2, "unchanged": 36, KEPT: 2, "skipped": 5}
    after = {c.uuid: (c.status, c.revoked_at, c.modified) for c in UserCredential.objects.filter(uuid__in=kept_uuids)}
    assert after == revoked_here
    there = UserCredential.objects.get(uuid=changed_there["uuid"])
    assert (there.status, there.revoked_at) == ("revoked", changed)
    both = UserCredential.objects.get(uuid=changed_both["uuid"])
    assert (both.status, both.awarded_at, both.revoked_at) == ("awarded", parse(changed_both["created"]), None)
    assert OutboxEvent.objects.count() == events
    assert CredentialImport.objects.get().unchanged_count == 38  # the kept ones included
    # when: once more, nothing is written
    before = {c.uuid: c.modified for c in UserCredential.objects.all()}
    out, _ = run_import(source)
    # then
    assert counts(out) == {"pages": 3, "created": 0, "updated": 0, "unchanged": 38, KEPT: 2, "skipped": 5}
    assert {c.uuid: c.modified for c in UserCredential.objects.all()} == before


def test_attributes_changed_here_are_kept_until_the_source_changes_the_row_later(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: imported; then the LMS (v2 API) changes an attribute of learner03's run A certificate here
    data = fill(source, catalog)
    run_import(source)
    row = data.good[3]
    assert {a["name"] for a in row["attributes"]} == {"visible_date", "whitelist_reason"}
    credential_services.record_lms_credential(
        learner=LearnerIdentity(username="learner03"),
        awarded=True,
        course_run_key=catalog.run_a.key,
        mode="verified",
        attributes=[CredentialAttributeData(name="whitelist_reason", value="changed here")],
    )
    # when
    out, _ = run_import(source)
    # then: the source's older row says "reason 3": ours is kept
    credential = UserCredential.objects.get(uuid=row["uuid"])
    assert dict(credential.attributes.values_list("name", "value"))["whitelist_reason"] == "changed here"
    assert counts(out)[KEPT] == 1 and counts(out)["updated"] == 0

    # when: the source changes the row after that
    row.update(
        attributes=[{"name": "whitelist_reason", "value": "changed there"}, {"name": "grader", "value": "x"}],
        modified=source_time(later()),
    )
    out, _ = run_import(source)
    # then
    attributes = dict(credential.attributes.values_list("name", "value"))
    assert (attributes["whitelist_reason"], attributes["grader"]) == ("changed there", "x")
    assert counts(out)[KEPT] == 0 and counts(out)["updated"] == 1


def test_a_credential_the_learner_already_holds_here_is_kept_and_the_row_skipped(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: learner01 earned run A's certificate here (events) before the import
    data = fill(source, catalog)
    learner = UserFactory(username="learner01")
    ours = credential_services.award_course_certificate(user=learner, course_run_key=catalog.run_a.key, mode="verified")
    # when
    out, _ = run_import(source)
    # then
    theirs = data.good[1]
    assert not UserCredential.objects.filter(uuid=theirs["uuid"]).exists()
    kept = UserCredential.objects.get(pk=ours.pk)
    assert (kept.uuid, kept.status, kept.awarded_at) == (ours.uuid, "awarded", ours.awarded_at)
    skip = CredentialImportSkip.objects.get(source_uuid=theirs["uuid"])
    assert f"learner01 already holds this credential here as {ours.uuid}" in skip.reason
    assert counts(out)["created"] == 39
    assert counts(out)["skipped"] == 6


def test_a_uuid_repeated_on_a_page_is_read_once_and_counted_unchanged(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: page 1 repeats a row that is imported and one that is skipped
    data = fill(source, catalog)
    assert data.rows[3] is data.bad[0]
    source.credentials.insert(1, dict(data.rows[0]))
    source.credentials.insert(6, dict(data.bad[0]))
    # when
    out, _ = run_import(source)
    # then: each row counted once; the skips counted are the skips recorded
    assert counts(out) == {"pages": 3, "created": 40, "updated": 0, "unchanged": 2, KEPT: 0, "skipped": 5}
    assert CredentialImportSkip.objects.count() == 5
    assert not CredentialImportSkip.objects.filter(source_uuid=data.rows[0]["uuid"]).exists()
    checkpoint = CredentialImport.objects.get()
    assert (checkpoint.unchanged_count, checkpoint.skipped_count) == (2, 5)
    assert WARNING not in out  # 47 rows read of 47


# --- the source changing while it is read --------------------------------------------------------


@pytest.mark.parametrize("change", ["a row added during the import", "a row removed between resumed runs"])
def test_rows_added_or_removed_at_the_source_while_it_is_read_are_warned_about(
    source: FakeCredentialsService, catalog: Catalog, change: str
) -> None:
    # given: the source pages by offset, so a change before a page not read yet shifts the rows
    data = fill(source, catalog)
    if change == "a row added during the import":
        added = course_run_credential(username="learner50", course_run_key=catalog.run_a.key, created=day(1))
        source.after_page(1, lambda: source.credentials.insert(0, added))
        missed = added  # at the front once page 1 was read
        numbers = "It counted 45 credentials when this import began and 46 at its last page, and the import read 46"
        # when
        out, _ = run_import(source)
    else:
        source.fail_page(2, status=503)
        with pytest.raises(CommandError):
            run_import(source, "--retries", "0")
        missed = data.rows[20]  # shifts onto page 1, which the resumed run does not read again
        source.credentials.remove(data.rows[0])  # read on page 1
        source.heal()
        numbers = "It counted 45 credentials when this import began and 44 at its last page, and the import read 44"
        # when
        out, _ = run_import(source)
    # then: a warning saying how many, and what to do; the exit stays 0
    assert f"{numbers} rows (a difference of 1)" in out
    assert "Run the command again with --restart" in out
    assert f"{WARNING}: rows may have been missed; run it again with --restart." in out
    assert missed["uuid"] not in credential_uuids()

    # when: a second pass
    out, _ = run_import(source, "--restart")
    # then: the row missed is read, and the counts agree
    assert missed["uuid"] in credential_uuids()
    assert counts(out)["created"] == 1
    assert WARNING not in out


# --- interruptions and resuming --------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "dropped connection"])
def test_an_interrupted_import_resumes_at_the_page_it_stopped_on(
    source: FakeCredentialsService, catalog: Catalog, fault: str
) -> None:
    # given: page 2 fails every time
    data = fill(source, catalog)
    if fault == "500":
        source.fail_page(2, status=500)
    else:
        source.drop_page(2)
    # when
    with pytest.raises(CommandError) as stopped:
        run_import(source, "--retries", "2", "--backoff", "0")
    # then: a clear error; page 1 committed with the checkpoint
    message = str(stopped.value)
    assert f"GET {source.url}/api/v2/credentials/?page=2 failed 3 times" in message
    assert ("answered 500" if fault == "500" else "the connection failed") in message
    assert "run the command again to resume at page 2" in message
    assert TOKEN not in message
    checkpoint = CredentialImport.objects.get(source_url=source.url)
    assert (checkpoint.next_page, checkpoint.finished_at, checkpoint.created_count) == (2, None, 18)
    assert "page=2 failed 3 times" in checkpoint.last_error
    assert credential_uuids() == uuids_of(data.rows[:20]) & uuids_of(data.good)
    assert source.page_requests() == [1, 2, 2, 2]

    # when: the source is back
    source.heal()
    out, _ = run_import(source)
    # then: resumed at page 2, page 1 not read again
    assert "Resuming the import" in out and "at page 2 (20 credentials done)" in out
    assert source.page_requests() == [1, 2, 2, 2, 2, 3]
    assert credential_uuids() == uuids_of(data.good)
    assert counts(out) == {"pages": 2, "created": 22, "updated": 0, "unchanged": 0, KEPT: 0, "skipped": 3}
    assert "The whole import: 40 created, 0 updated, 0 unchanged or kept, 5 skipped." in out
    assert WARNING not in out
    checkpoint.refresh_from_db()
    assert (checkpoint.next_page, checkpoint.last_error) == (4, "")
    assert checkpoint.finished_at is not None


def test_restart_reads_from_page_one_again(source: FakeCredentialsService, catalog: Catalog) -> None:
    # given: an import stopped at page 2
    fill(source, catalog)
    source.fail_page(2, status=502)
    with pytest.raises(CommandError):
        run_import(source, "--retries", "0")
    source.heal()
    # when
    out, _ = run_import(source, "--restart")
    # then
    assert source.page_requests() == [1, 2, 1, 2, 3]
    assert counts(out) == {"pages": 3, "created": 22, "updated": 0, "unchanged": 18, KEPT: 0, "skipped": 5}
    assert UserCredential.objects.count() == 40


def test_a_new_pass_over_a_finished_import_that_fails_at_its_start_says_nothing_was_imported(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: a finished import
    fill(source, catalog)
    run_import(source)
    # when: a new pass with an expired token
    with pytest.raises(CommandError) as refused:
        run_import(source, token="eyJ.expired.sig")
    # then
    message = str(refused.value)
    assert "page=1 answered 401" in message
    assert (
        "The previous import of this source had finished, so everything it read is kept; nothing was imported by "
        "this run. Run the command again to read the source again from page 1." in message
    )
    assert "every page" not in message
    checkpoint = CredentialImport.objects.get()
    assert checkpoint.finished_at is not None and checkpoint.created_count == 40
    assert "answered 401" in checkpoint.last_error


def test_a_grades_failure_after_every_page_says_the_credentials_are_imported(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: the source's grades call fails
    fill(source, catalog)
    source.fail_grades(status=503)
    # when
    with pytest.raises(CommandError) as stopped:
        run_import(source, "--with-grades", "--retries", "0")
    # then
    message = str(stopped.value)
    assert "bulk_learner_cert_status/ failed" in message and "answered 503" in message
    assert (
        "This run imported every page of credentials, but the grades were not all imported (those recorded are "
        "kept); run the command again to retry: it reads the credentials again from page 1 (writing only what "
        "changed), then the grades." in message
    )
    assert "The previous import" not in message
    assert UserCredential.objects.count() == 40


def test_passing_failures_are_retried_honouring_retry_after(source: FakeCredentialsService, catalog: Catalog) -> None:
    # given: page 2 is rate limited once (come back in 1 s), page 3's connection drops once
    fill(source, catalog)
    source.fail_page(2, status=429, times=1, retry_after="1")
    source.drop_page(3, times=1)
    started = time.monotonic()
    # when: no backoff of its own, so only Retry-After makes it wait
    out, _ = run_import(source, "--backoff", "0")
    # then
    assert time.monotonic() - started >= 1
    assert source.page_requests() == [1, 2, 2, 3, 3]
    assert counts(out)["created"] == 40


def test_a_page_that_is_not_the_checkpoints_next_is_refused(source: FakeCredentialsService, catalog: Catalog) -> None:
    # given: an import at page 1, and another process's page 2
    fill(source, catalog)
    services.begin_import(source_url=source.url)
    with SourceClient(source.url, jwt=TOKEN) as client:
        page = client.get_credentials_page(2)
    # when / then
    with pytest.raises(CredentialImportError, match="expects page 1 next, not 2"):
        services.import_credentials_page(source_url=source.url, page=page)
    assert not UserCredential.objects.exists()


# --- dry run -------------------------------------------------------------------------------------------


def test_dry_run_reports_what_would_change_and_writes_nothing(source: FakeCredentialsService, catalog: Catalog) -> None:
    # given
    fill(source, catalog)
    configurations = (CourseCertificate.objects.count(), ProgramCertificate.objects.count(), CourseRun.objects.count())
    # when
    out, _ = run_import(source, "--dry-run")
    # then
    assert counts(out) == {
        "pages": 3,
        "would be created": 40,
        "would be updated": 0,
        "unchanged": 0,
        KEPT: 0,
        "would be skipped": 5,
    }
    assert "nothing was written" in out
    assert "course-v1:Nowhere+N1+2024 is not in the catalog" in out
    assert not UserCredential.objects.exists()
    assert not User.objects.exists()
    assert not CredentialImport.objects.exists()
    assert not CredentialImportSkip.objects.exists()
    assert (CourseCertificate.objects.count(), ProgramCertificate.objects.count(), CourseRun.objects.count()) == (
        configurations
    )


def test_dry_run_after_an_import_sees_it_unchanged_and_leaves_the_checkpoint(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given: a finished import, then a change at the source
    data = fill(source, catalog)
    run_import(source)
    data.good[2].update(status="revoked", modified=source_time(later()))
    checkpoint = CredentialImport.objects.get()
    # when
    out, _ = run_import(source, "--dry-run")
    # then
    assert counts(out)["would be updated"] == 1 and counts(out)["unchanged"] == 39
    assert UserCredential.objects.get(uuid=data.good[2]["uuid"]).status == "awarded"
    after = CredentialImport.objects.get()
    assert (after.modified, after.next_page, after.unchanged_count) == (checkpoint.modified, 4, 0)


# --- grades --------------------------------------------------------------------------------------------


def test_with_grades_imports_the_learners_grades_in_batches(source: FakeCredentialsService, catalog: Catalog) -> None:
    # given: the source's grades of three learners; one of them already has a grade here (from events)
    fill(source, catalog)
    source.grades = {
        ("learner01", catalog.run_a.key): {"letter_grade": "A", "percent_grade": 0.91, "verified": True},
        ("learner02", catalog.run_b.key): {"letter_grade": "", "percent_grade": 0.5, "verified": False},
        ("learner16", catalog.new_run_key): {"letter_grade": "Pass", "percent_grade": 1, "verified": True},
        ("learner03", catalog.run_a.key): {"letter_grade": "B", "percent_grade": 0.8, "verified": True},
        ("learner05", catalog.run_a.key): {"letter_grade": "?", "percent_grade": 7, "verified": True},
    }
    learner03 = UserFactory(username="learner03")
    credential_services.record_grade(
        user=learner03, course_run_key=catalog.run_a.key, percent_grade=Decimal("0.95"), passed=True
    )
    # when
    out, err = run_import(source, "--with-grades", "--grades-batch", "7")
    # then
    grades = {
        (g.user.username, g.course_run.key): (g.letter_grade, g.percent_grade, g.verified, g.passed)
        for g in UserGrade.objects.select_related("user", "course_run")
    }
    assert grades == {
        ("learner01", catalog.run_a.key): ("A", Decimal("0.9100"), True, False),
        ("learner02", catalog.run_b.key): ("", Decimal("0.5000"), False, False),
        ("learner16", catalog.new_run_key): ("Pass", Decimal("1.0000"), True, False),
        ("learner03", catalog.run_a.key): ("", Decimal("0.9500"), True, True),  # ours, kept
    }
    assert counts(out)["grades recorded"] == 3
    assert "grades kept (already here)  1" in out
    assert "grade skipped: learner05 in" in out and "outside 0..1" in out
    # 20 learners hold course certificates here: three calls of at most 7
    calls = source.calls("/api/credentials/v1/bulk_learner_cert_status/")
    assert [c.status for c in calls] == [200, 200, 200]
    assert CredentialImport.objects.get().grades_count == 3
    assert TOKEN not in out + err


def test_dry_run_with_grades_counts_the_grades_it_would_record(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given
    fill(source, catalog)
    source.grades = {("learner01", catalog.run_a.key): {"letter_grade": "A", "percent_grade": 0.91, "verified": True}}
    # when
    out, _ = run_import(source, "--dry-run", "--with-grades")
    # then
    assert counts(out)["grades would be recorded"] == 1
    assert len(source.calls("/api/credentials/v1/bulk_learner_cert_status/")) == 1
    assert not UserGrade.objects.exists()
    assert not User.objects.exists()


# --- tokens --------------------------------------------------------------------------------------------


def test_the_token_comes_from_the_lms_oauth_endpoint_and_is_bought_again_when_it_expires(
    source: FakeCredentialsService, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the secret in the environment; each token bought lasts two requests
    fill(source, catalog)
    source.issued_token_uses = 2
    monkeypatch.setenv("IMPORT_CREDENTIALS_CLIENT_SECRET", CLIENT_SECRET)
    # when
    out, err = run_import(source, "--lms-url", source.url, "--client-id", CLIENT_ID, token=None)
    # then
    assert UserCredential.objects.count() == 40
    token_calls = source.calls("/oauth2/access_token")
    assert len(token_calls) == 2 and all(c.status == 200 for c in token_calls)
    assert all(c.authorization is None for c in token_calls)
    pages = source.calls("/api/v2/credentials/")
    assert [c.status for c in pages] == [200, 200, 401, 200]
    # the second token bought when the first expired, at page 2
    assert len({c.authorization for c in pages}) == 2
    assert all((c.authorization or "").startswith("JWT eyJ.lms-issued.") for c in pages)
    for secret in [CLIENT_SECRET, *source.issued_tokens]:
        assert secret not in out + err


def test_a_refused_client_secret_fails_clearly(source: FakeCredentialsService, catalog: Catalog) -> None:
    fill(source, catalog)
    with pytest.raises(CommandError) as refused:
        run_import(source, "--lms-url", source.url, "--client-id", CLIENT_ID, "--client-secret", "nope", token=None)
    message = str(refused.value)
    assert f"POST {source.url}/oauth2/access_token answered 401" in message
    assert "invalid_client" in message and "refused the client id and secret" in message
    assert "nope" not in message
    assert not CredentialImport.objects.exists()


def test_a_wrong_token_fails_naming_the_401_and_writes_nothing(
    source: FakeCredentialsService, catalog: Catalog
) -> None:
    # given
    fill(source, catalog)
    wrong = "eyJ.not-the-source-token.sig"
    # when
    with pytest.raises(CommandError) as refused:
        run_import(source, token=wrong)
    # then
    message = str(refused.value)
    assert f"GET {source.url}/api/v2/credentials/?page=1 answered 401 Unauthorized" in message
    assert "refused the token" in message and "Nothing was written" in message
    assert wrong not in message
    assert not UserCredential.objects.exists()
    assert not User.objects.exists()
    assert not CredentialImport.objects.exists()


def test_a_learners_token_is_refused_with_a_403_that_says_what_is_needed(
    source: FakeCredentialsService, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the token from the environment belongs to a learner
    fill(source, catalog)
    source.forbidden_tokens.add(TOKEN)
    monkeypatch.setenv("IMPORT_CREDENTIALS_JWT", TOKEN)
    # when
    with pytest.raises(CommandError) as refused:
        run_import(source, token=None)
    # then
    assert "answered 403 Forbidden" in str(refused.value)
    assert "credentials_service_user" in str(refused.value)


def test_no_token_is_a_usage_error(source: FakeCredentialsService, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPORT_CREDENTIALS_JWT", raising=False)
    with pytest.raises(CommandError, match="No token"):
        run_import(source, token=None)
    assert source.requests == []


def test_the_progress_bar_counts_credentials(source: FakeCredentialsService, catalog: Catalog) -> None:
    fill(source, catalog)
    out, err = StringIO(), StringIO()
    call_command("import_credentials", source.url, "--jwt", TOKEN, stdout=out, stderr=err)
    assert "45/45" in err.getvalue()
    assert TOKEN not in out.getvalue() + err.getvalue()


# --- the admin ----------------------------------------------------------------------------------------


def test_the_admin_shows_the_import_and_its_skips_read_only(
    source: FakeCredentialsService, catalog: Catalog, admin_client: Client
) -> None:
    # given
    fill(source, catalog)
    run_import(source)
    checkpoint = CredentialImport.objects.get()
    # when
    changelist = admin_client.get(reverse("admin:credentials_credentialimport_changelist"))
    change = admin_client.get(reverse("admin:credentials_credentialimport_change", args=[checkpoint.pk]))
    add = admin_client.get(reverse("admin:credentials_credentialimport_add"))
    # then
    assert changelist.status_code == 200 and source.url in changelist.content.decode()
    assert change.status_code == 200
    assert "course-v1:Nowhere+N1+2024 is not in the catalog" in change.content.decode()
    assert 'name="_save"' not in change.content.decode()
    assert add.status_code == 403


# --- queries and speed ---------------------------------------------------------------------------------


def many(source: FakeCredentialsService, *, count: int) -> list[CourseRun]:
    """`count` course-run credentials of distinct learners over ten runs, a third with attributes."""
    runs = [CourseRunFactory() for _ in range(10)]
    for run in runs[:5]:
        CourseCertificateFactory(course_run=run, certificate_type="verified")
    source.credentials = [
        course_run_credential(
            username=f"bulk{i:05}",
            course_run_key=runs[i % 10].key,
            attributes=[("whitelist_reason", f"r{i}")] if i % 3 == 0 else (),
            created=day(i % 300),
        )
        for i in range(count)
    ]
    return runs


def test_a_page_takes_a_fixed_number_of_queries(source: FakeCredentialsService, django_assert_num_queries: Any) -> None:
    # given: pages of new learners and credentials; the configurations were made by the first page
    many(source, count=100)
    services.begin_import(source_url=source.url)
    with SourceClient(source.url, jwt=TOKEN) as client:
        pages = [client.get_credentials_page(number) for number in range(1, 6)]
    services.import_credentials_page(source_url=source.url, page=pages[0])
    # when / then: new ones
    for page in pages[1:3]:
        with django_assert_num_queries(13):
            result = services.import_credentials_page(source_url=source.url, page=page)
        assert result.created == 20
    # when / then: unchanged ones, read again
    CredentialImport.objects.update(next_page=1)
    for page in pages[:2]:
        with django_assert_num_queries(9):
            result = services.import_credentials_page(source_url=source.url, page=page)
        assert result.unchanged == 20


@pytest.mark.django_db(transaction=True)  # each page really commits, as in production
def test_a_larger_import(source: FakeCredentialsService) -> None:
    """Timing: IMPORT_CREDENTIALS_BENCH_ROWS=2000 pytest ... -k larger -s prints rows/s and queries per
    page, of a first import and of a second (unchanged) pass."""
    # given
    rows = int(os.environ.get("IMPORT_CREDENTIALS_BENCH_ROWS", "200"))
    many(source, count=rows)
    pages = -(-rows // 20)
    for label, expected in (("first import", "created"), ("second pass", "unchanged")):
        # when
        started = time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            out, _ = run_import(source)
        seconds = time.monotonic() - started
        # then
        assert counts(out)[expected] == rows
        per_page = len(queries) / pages
        assert per_page < 16
        print(  # the bench's report (pytest -s)
            f"\nimport_credentials, {label}: {rows} rows, {pages} pages in {seconds:.2f} s = "
            f"{rows / seconds:.0f} rows/s; {len(queries)} queries = {per_page:.1f} per page ({connection.vendor})"
        )
