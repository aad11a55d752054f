from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog.data import ProgramData
from apps.catalog.models import Program
from apps.core.api import NotFoundError
from apps.core.models import User
from apps.credentials import api as credentials_api
from apps.records import selectors, services
from apps.records.data import RecordCertificateStatus
from apps.records.exceptions import RecordsErrorCode

from .conftest import ALICE_EMAIL

pytestmark = pytest.mark.django_db


def test_program_record_shows_each_course_in_program_order(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given
    program = make_program(course_count=3)
    first, second, third = program.courses
    earn(learner, first.runs[0].key, "0.91", letter="A")
    earn(learner, second.runs[0].key, "0.55", letter="D", passed=False, certificate=False)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.program.uuid == program.uuid
    assert record.program.title == program.title
    assert [c.course_key for c in record.courses] == [first.key, second.key, third.key]
    assert [c.title for c in record.courses] == [first.title, second.title, third.title]

    done, failing, untouched = record.courses
    assert done.best_grade is not None
    assert (done.best_grade.percent_grade, done.best_grade.letter_grade, done.best_grade.passed) == (
        Decimal("0.91"),
        "A",
        True,
    )
    assert done.certificate.status == RecordCertificateStatus.AWARDED
    assert done.certificate.mode == "verified"
    assert done.certificate.issued_date is not None
    assert done.completed is True

    assert failing.best_grade is not None and failing.best_grade.passed is False
    assert failing.certificate.status == RecordCertificateStatus.NONE
    assert failing.completed is False

    assert untouched.best_grade is None
    assert untouched.certificate.status == RecordCertificateStatus.NONE


def test_best_grade_is_the_highest_across_runs_and_names_its_run(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given: three attempts at one course; the second is the best
    program = make_program(course_count=1, runs_per_course=3)
    runs = program.courses[0].runs
    earn(learner, runs[0].key, "0.60", letter="C", certificate=False)
    earn(learner, runs[1].key, "0.93", letter="A", certificate=False)
    earn(learner, runs[2].key, "0.71", letter="B", certificate=False)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    best = record.courses[0].best_grade
    assert best is not None
    assert best.course_run_key == runs[1].key
    assert best.percent_grade == Decimal("0.93")
    assert best.letter_grade == "A"


def test_course_is_completed_by_a_certificate_in_any_run(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given: the certificate came in the first run, the better grade in the second
    program = make_program(course_count=1, runs_per_course=2)
    first_run, second_run = program.courses[0].runs
    earn(learner, first_run.key, "0.70")
    earn(learner, second_run.key, "0.95", certificate=False)
    # when
    course = selectors.get_program_record(user=learner, program_uuid=program.uuid).courses[0]
    # then
    assert course.completed is True
    assert course.certificate.course_run_key == first_run.key
    assert course.best_grade is not None and course.best_grade.course_run_key == second_run.key


def test_revoked_course_certificate_does_not_complete_the_course(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given
    program = make_program(course_count=2)
    run_key = program.courses[0].runs[0].key
    earn(learner, run_key)
    credentials_api.revoke_course_certificate(user=learner, course_run_key=run_key, mode="verified")
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.courses[0].certificate.status == RecordCertificateStatus.REVOKED
    assert record.courses[0].certificate.issued_date is None
    assert record.courses[0].completed is False
    assert record.completion_percent == 0.0


def test_certificate_not_yet_visible_counts_as_not_earned(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given: awarded, but the run's certificates become visible next week
    program = make_program(course_count=1)
    earn(learner, program.courses[0].runs[0].key, visible_date=timezone.now() + datetime.timedelta(days=7))
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.courses[0].certificate.status == RecordCertificateStatus.NONE
    assert record.courses[0].completed is False


@pytest.mark.parametrize(("completed", "percent"), [(0, 0.0), (1, 33.33), (2, 66.67), (3, 100.0)])
def test_completion_percent_is_completed_courses_over_courses(
    learner: User,
    make_program: Callable[..., ProgramData],
    earn: Callable[..., None],
    completed: int,
    percent: float,
) -> None:
    # given
    program = make_program(course_count=3)
    for course in program.courses[:completed]:
        earn(learner, course.runs[0].key)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert (record.completed_courses, record.total_courses) == (completed, 3)
    assert record.completion_percent == percent


def test_completion_percent_is_zero_for_a_program_without_courses(
    learner: User, make_program: Callable[..., ProgramData]
) -> None:
    # given
    program = make_program(course_count=0)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.courses == ()
    assert record.completion_percent == 0.0
    assert record.last_updated is None


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], RecordCertificateStatus.NONE),
        (["award"], RecordCertificateStatus.AWARDED),
        (["award", "revoke"], RecordCertificateStatus.REVOKED),
    ],
)
def test_program_certificate_status_follows_the_credential(
    learner: User,
    make_program: Callable[..., ProgramData],
    history: list[str],
    expected: RecordCertificateStatus,
) -> None:
    # given
    program = make_program(course_count=1)
    actions = {
        "award": credentials_api.award_program_certificate,
        "revoke": credentials_api.revoke_program_certificate,
    }
    for step in history:
        actions[step](user=learner, program_uuid=program.uuid)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.certificate_status == expected
    assert (record.certificate_issued_date is not None) is (expected == RecordCertificateStatus.AWARDED)


def test_record_holds_only_the_given_learners_grades(
    learner: User, other_learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given: only Bob has done anything
    program = make_program(course_count=2)
    for course in program.courses:
        earn(other_learner, course.runs[0].key, "0.99")
    credentials_api.award_program_certificate(user=other_learner, program_uuid=program.uuid)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.learner.username == "alice"
    assert all(c.best_grade is None and not c.completed for c in record.courses)
    assert record.certificate_status == RecordCertificateStatus.NONE


def test_record_names_the_learner_without_their_email(learner: User, make_program: Callable[..., ProgramData]) -> None:
    # given
    program = make_program(course_count=1)
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert (record.learner.username, record.learner.full_name) == ("alice", "Alice Liddell")
    assert ALICE_EMAIL not in repr(record)
    assert "424242" not in repr(record)


def test_last_updated_is_the_latest_grade_or_award(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given
    program = make_program(course_count=2)
    earn(learner, program.courses[0].runs[0].key)
    latest = credentials_api.record_grade(
        user=learner, course_run_key=program.courses[1].runs[0].key, percent_grade=Decimal("0.5"), passed=False
    )
    # when
    record = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    # then
    assert record.last_updated == latest.modified


def test_unknown_program_raises_not_found(learner: User) -> None:
    with pytest.raises(NotFoundError) as excinfo:
        selectors.get_program_record(user=learner, program_uuid=uuid.uuid4())
    assert excinfo.value.code is RecordsErrorCode.PROGRAM_NOT_FOUND
    assert excinfo.value.field == "program_uuid"


def test_deleted_program_raises_not_found(learner: User, make_program: Callable[..., ProgramData]) -> None:
    # given
    program = make_program(course_count=1)
    Program.objects.filter(uuid=program.uuid).update(status="deleted")
    # when / then
    with pytest.raises(NotFoundError):
        selectors.get_program_record(user=learner, program_uuid=program.uuid)


def _count_queries(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as context:
        call()
    return len(context.captured_queries)


def test_program_record_query_count_does_not_grow_with_courses(
    learner: User,
    complete_program: Callable[..., ProgramData],
    django_assert_max_num_queries: Callable[..., object],
) -> None:
    # given: every course graded and certified, in a 5-course and a 50-course program
    small = complete_program(learner, course_count=5)
    large = complete_program(learner, course_count=50)
    credentials_api.award_program_certificate(user=learner, program_uuid=large.uuid)
    selectors.get_program_record(user=learner, program_uuid=small.uuid)  # warm the content-type cache
    # when
    small_count = _count_queries(lambda: selectors.get_program_record(user=learner, program_uuid=small.uuid))
    large_count = _count_queries(lambda: selectors.get_program_record(user=learner, program_uuid=large.uuid))
    # then: program, organizations, courses with runs; grades; course certificates; program certificate
    assert small_count == large_count == 6
    with django_assert_max_num_queries(10):
        record = selectors.get_program_record(user=learner, program_uuid=large.uuid)
    assert record.completed_courses == 50
    assert record.certificate_status == RecordCertificateStatus.AWARDED


def test_list_program_records_covers_programs_with_the_learners_activity(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given: a grade in one program, a certificate only in another, nothing in a third
    graded = make_program(course_count=2, title="B graded")
    certified = make_program(course_count=4, title="A certified")
    make_program(course_count=1, title="C untouched")
    earn(learner, graded.courses[0].runs[0].key, certificate=False)
    credentials_api.award_course_certificate(
        user=learner, course_run_key=certified.courses[0].runs[0].key, mode="verified"
    )
    credentials_api.award_program_certificate(user=learner, program_uuid=certified.uuid)
    # when
    summaries = selectors.list_program_records(user=learner)
    # then: by title
    assert [s.uuid for s in summaries] == [certified.uuid, graded.uuid]
    first, second = summaries
    assert (first.completed_courses, first.total_courses, first.completion_percent) == (1, 4, 25.0)
    assert first.certificate_status == RecordCertificateStatus.AWARDED
    assert first.last_updated is not None
    assert (second.completed_courses, second.total_courses, second.completion_percent) == (0, 2, 0.0)
    assert second.certificate_status == RecordCertificateStatus.NONE


def test_list_program_records_is_empty_without_activity(
    learner: User, other_learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given
    program = make_program(course_count=1)
    earn(other_learner, program.courses[0].runs[0].key)
    # when / then
    assert selectors.list_program_records(user=learner) == []


def test_list_program_records_leaves_out_deleted_programs(
    learner: User, make_program: Callable[..., ProgramData], earn: Callable[..., None]
) -> None:
    # given
    program = make_program(course_count=1)
    earn(learner, program.courses[0].runs[0].key)
    Program.objects.filter(uuid=program.uuid).update(status="deleted")
    # when / then
    assert selectors.list_program_records(user=learner) == []


def test_list_query_count_does_not_grow_with_programs(
    learner: User, complete_program: Callable[..., ProgramData]
) -> None:
    # given
    for _ in range(2):
        complete_program(learner, course_count=3)
    selectors.list_program_records(user=learner)  # warm the content-type cache
    few = _count_queries(lambda: selectors.list_program_records(user=learner))
    for _ in range(10):
        program = complete_program(learner, course_count=5)
        credentials_api.award_program_certificate(user=learner, program_uuid=program.uuid)
    # when
    with CaptureQueriesContext(connection) as many:
        summaries = selectors.list_program_records(user=learner)
    # then
    assert len(summaries) == 12
    assert len(many.captured_queries) == few == 8


def test_shared_record_is_the_owners_record(learner: User, complete_program: Callable[..., ProgramData]) -> None:
    # given
    program = complete_program(learner, course_count=2)
    share, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    # when
    shared = selectors.get_shared_program_record(share_uuid=share.uuid)
    # then
    own = selectors.get_program_record(user=learner, program_uuid=program.uuid)
    assert shared == own


def test_revoked_or_unknown_share_raises_not_found(learner: User, make_program: Callable[..., ProgramData]) -> None:
    # given
    program = make_program(course_count=1)
    share, _ = services.create_program_record_share(user=learner, program_uuid=program.uuid)
    services.revoke_program_record_share(user=learner, share_uuid=share.uuid)
    # when / then
    for share_uuid in (share.uuid, uuid.uuid4()):
        with pytest.raises(NotFoundError) as excinfo:
            selectors.get_shared_program_record(share_uuid=share_uuid)
        assert excinfo.value.code is RecordsErrorCode.SHARE_NOT_FOUND
