"""A learner's two records merged (core's identity resolution): their credentials and grades end on
the record with the LMS id, one of each configuration and run; and the LMS's calls that used to fail
on the two records (the learner's JWT, the program award) now succeed."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from openedx_events.learning.signals import PERSISTENT_GRADE_SUMMARY_CHANGED, PROGRAM_CERTIFICATE_AWARDED
from rest_framework.test import APIClient

from apps.catalog.models import CourseRun
from apps.catalog.tests.factories import CourseRunFactory, ProgramFactory
from apps.core.api import User, get_or_create_learner
from apps.credentials.models import (
    CredentialStatus,
    ProgramCertificate,
    UserCredential,
    UserCredentialAttribute,
    UserGrade,
)
from apps.credentials.tests.factories import (
    CourseCertificateFactory,
    PersistentCourseGradeDataFactory,
    ProgramCertificateFactory,
    UserGradeFactory,
    course_data,
)
from apps.credentials.tests.rest_api.test_v2_credentials import (
    SERVICE_USER,
    course_certificate_body,
    program_award_body,
)
from apps.eventbus.consumer import process_messages
from apps.eventbus.models import OutboxEvent
from apps.eventbus.tests.factories import incoming_message

pytestmark = pytest.mark.django_db

URL = "/api/v2/credentials/"
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)
EARLIER = NOW - datetime.timedelta(days=30)


@pytest.fixture
def by_id() -> User:
    """LMS user 77, as a grade event leaves them: no username."""
    return get_or_create_learner(lms_user_id=77)


@pytest.fixture
def by_name() -> User:
    """ "ada", as the LMS's REST calls leave her: no LMS id."""
    return get_or_create_learner(username="ada", email="ada@example.com")


def credential(
    user: User,
    configuration: Model,
    *,
    status: str = CredentialStatus.AWARDED,
    awarded_at: datetime.datetime | None = NOW,
    revoked_at: datetime.datetime | None = None,
    attributes: dict[str, str] | None = None,
) -> UserCredential:
    row = UserCredential.objects.create(
        user=user,
        credential_content_type=ContentType.objects.get_for_model(configuration),
        credential_id=configuration.pk,
        status=status,
        awarded_at=awarded_at,
        revoked_at=revoked_at,
    )
    for name, value in (attributes or {}).items():
        UserCredentialAttribute.objects.create(user_credential=row, name=name, value=value)
    return row


def merge() -> User:
    """An identity naming both records: the merge."""
    return get_or_create_learner(lms_user_id=77, username="ada")


def holdings(user: User) -> list[tuple[object, ...]]:
    return sorted(UserCredential.objects.filter(user=user).values_list("uuid", "credential_id", "status"), key=str)


def attributes_of(row: UserCredential) -> dict[str, str]:
    return dict(UserCredentialAttribute.objects.filter(user_credential=row).values_list("name", "value"))


# --- rows move ------------------------------------------------------------------------------------


def test_credentials_and_grades_of_both_records_end_on_the_id_record(by_id: User, by_name: User) -> None:
    # given: a grade (event) on the id's record; a grade and a certificate (REST) on the username's
    first, second = CourseCertificateFactory(), CourseCertificateFactory()
    event_grade = UserGradeFactory(user=by_id, course_run=first.course_run)
    rest_grade = UserGradeFactory(user=by_name, course_run=second.course_run)
    certificate = credential(by_name, second, attributes={"visible_date": "2026-06-01T00:00:00Z"})
    kept_before = credential(by_id, first)
    # when
    user = merge()
    # then
    assert user.pk == by_id.pk
    assert not User.objects.filter(pk=by_name.pk).exists()
    assert holdings(user) == sorted(
        [
            (kept_before.uuid, first.pk, CredentialStatus.AWARDED),
            (certificate.uuid, second.pk, CredentialStatus.AWARDED),
        ],
        key=str,
    )
    assert attributes_of(certificate) == {"visible_date": "2026-06-01T00:00:00Z"}
    assert set(UserGrade.objects.filter(user=user).values_list("pk", flat=True)) == {event_grade.pk, rest_grade.pk}


def test_of_two_credentials_of_one_configuration_the_awarded_one_is_kept(by_id: User, by_name: User) -> None:
    # given: revoked on the id's record, awarded on the username's
    configuration = CourseCertificateFactory()
    revoked = credential(
        by_id,
        configuration,
        status=CredentialStatus.REVOKED,
        revoked_at=NOW,
        attributes={"whitelist_reason": "appeal", "visible_date": "2026-01-01T00:00:00Z"},
    )
    awarded = credential(by_name, configuration, attributes={"visible_date": "2026-06-01T00:00:00Z"})
    # when
    user = merge()
    # then: the awarded one, with its uuid, and the attributes it lacked from the other
    assert holdings(user) == [(awarded.uuid, configuration.pk, CredentialStatus.AWARDED)]
    assert not UserCredential.objects.filter(pk=revoked.pk).exists()
    assert attributes_of(awarded) == {"visible_date": "2026-06-01T00:00:00Z", "whitelist_reason": "appeal"}
    assert UserCredentialAttribute.objects.count() == 2


@pytest.mark.parametrize("earlier_on", ["id", "username"])
def test_of_two_awarded_credentials_the_earlier_awarded_is_kept(by_id: User, by_name: User, earlier_on: str) -> None:
    # given
    configuration = ProgramCertificateFactory()
    on_id = credential(by_id, configuration, awarded_at=EARLIER if earlier_on == "id" else NOW)
    on_name = credential(by_name, configuration, awarded_at=EARLIER if earlier_on == "username" else NOW)
    kept = on_id if earlier_on == "id" else on_name
    # when
    user = merge()
    # then
    assert holdings(user) == [(kept.uuid, configuration.pk, CredentialStatus.AWARDED)]
    assert UserCredential.objects.get().awarded_at == EARLIER


@pytest.mark.parametrize("later_on", ["id", "username"])
def test_of_two_revoked_credentials_the_later_revoked_is_kept(by_id: User, by_name: User, later_on: str) -> None:
    # given
    configuration = CourseCertificateFactory()
    revoked = {"status": CredentialStatus.REVOKED, "awarded_at": None}
    on_id = credential(by_id, configuration, revoked_at=NOW if later_on == "id" else EARLIER, **revoked)
    on_name = credential(by_name, configuration, revoked_at=NOW if later_on == "username" else EARLIER, **revoked)
    kept = on_id if later_on == "id" else on_name
    # when
    user = merge()
    # then
    assert holdings(user) == [(kept.uuid, configuration.pk, CredentialStatus.REVOKED)]
    assert UserCredential.objects.get().revoked_at == NOW


def test_of_two_grades_in_one_run_the_later_by_the_lms_time_is_kept(by_id: User, by_name: User) -> None:
    # given: the id's grade is the LMS's later word, though written here first
    run = CourseRunFactory()
    later = UserGradeFactory(user=by_id, course_run=run, percent_grade=Decimal("0.9"), lms_last_updated_at=NOW)
    UserGradeFactory(user=by_name, course_run=run, percent_grade=Decimal("0.5"), lms_last_updated_at=EARLIER)
    # when
    user = merge()
    # then
    grade = UserGrade.objects.get()
    assert (grade.pk, grade.user_id, grade.percent_grade) == (later.pk, user.pk, Decimal("0.9000"))


def test_of_two_grades_without_both_lms_times_the_one_written_last_is_kept(by_id: User, by_name: User) -> None:
    # given: the REST grade carried no LMS time and was written after the event's
    run = CourseRunFactory()
    UserGradeFactory(user=by_id, course_run=run, percent_grade=Decimal("0.5"), lms_last_updated_at=NOW)
    last = UserGradeFactory(user=by_name, course_run=run, percent_grade=Decimal("0.9"), lms_last_updated_at=None)
    # when
    user = merge()
    # then
    grade = UserGrade.objects.get()
    assert (grade.pk, grade.user_id, grade.percent_grade) == (last.pk, user.pk, Decimal("0.9000"))


def test_a_merge_awards_nothing_and_publishes_nothing_even_when_it_completes_a_program(
    by_id: User, by_name: User
) -> None:
    # given: a program of two courses; one course certificate on each record
    program = ProgramFactory(course_count=2)
    ProgramCertificateFactory(program=program)
    for user, program_course in zip((by_id, by_name), program.program_courses.order_by("position"), strict=True):
        run = program_course.course.course_runs.get()
        credential(user, CourseCertificateFactory(course_run=run))
    # when
    user = merge()
    # then: both course certificates are the learner's; the program waits for a change or a recompute
    assert UserCredential.objects.filter(user=user).count() == 2
    assert not UserCredential.objects.filter(
        credential_content_type=ContentType.objects.get_for_model(ProgramCertificate)
    ).exists()
    assert not OutboxEvent.objects.exists()


# --- the LMS's calls, end to end ------------------------------------------------------------------


def grade_event(lms_user_id: int, run: CourseRun) -> None:
    """PERSISTENT_GRADE_SUMMARY_CHANGED, through the event bus's consumer: it names only the LMS id."""
    grade = PersistentCourseGradeDataFactory(user_id=lms_user_id, course=course_data(run.key), percent_grade=0.91)
    result = process_messages([incoming_message(PERSISTENT_GRADE_SUMMARY_CHANGED, grade=grade)])
    assert (result.processed, result.parked) == (1, 0)


@pytest.fixture
def split_learner(jwt_client: Callable[..., APIClient]) -> dict[str, Any]:
    """Ada as two records: LMS user 77 from a grade event, "ada" from the LMS's course certificate POST
    (signed as its service user)."""
    run = CourseRunFactory()
    grade_event(77, run)
    response = jwt_client(SERVICE_USER, administrator=True, user_id=1).post(
        URL, course_certificate_body("ada", run.key), format="json"
    )
    assert response.status_code == 201, response.content
    assert sorted(User.objects.exclude(username=SERVICE_USER).values_list("lms_user_id", "username"), key=str) == [
        (77, None),
        (None, "ada"),
    ]
    return {"run": run, "certificate_uuid": response.json()["uuid"]}


def test_the_learners_own_jwt_merges_the_records_and_lists_her_certificate(
    jwt_client: Callable[..., APIClient], split_learner: dict[str, Any]
) -> None:
    # when: Ada's own JWT (the LMS's get_credentials)
    response = jwt_client("ada", user_id=77).get(URL, {"username": "ada"})
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(c["uuid"], c["username"], c["status"]) for c in body["results"]] == [
        (split_learner["certificate_uuid"], "ada", "awarded")
    ]
    ada = User.objects.get(username="ada")
    assert ada.lms_user_id == 77
    assert UserGrade.objects.get().user_id == ada.pk
    # when: then the LMS awards her a program
    program = ProgramCertificateFactory().program
    award = jwt_client(SERVICE_USER, administrator=True, user_id=1).post(
        URL, program_award_body("ada", 77, program.uuid), format="json"
    )
    # then
    assert award.status_code == 201, award.content
    assert award.json()["username"] == "ada"
    assert OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type).count() == 1


def test_the_lms_program_award_merges_the_records_and_is_recorded(
    jwt_client: Callable[..., APIClient], split_learner: dict[str, Any]
) -> None:
    # given
    program = ProgramCertificateFactory().program
    # when: the LMS's award_program_certificate names both (no JWT login before)
    response = jwt_client(SERVICE_USER, administrator=True, user_id=1).post(
        URL, program_award_body("ada", 77, program.uuid), format="json"
    )
    # then
    assert response.status_code == 201, response.content
    ada = User.objects.get(lms_user_id=77)
    assert ada.username == "ada"
    assert UserCredential.objects.filter(user=ada).count() == 2
    assert UserCredential.objects.filter(user=ada, uuid=split_learner["certificate_uuid"]).exists()
    assert UserGrade.objects.get().user_id == ada.pk
    assert OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type).count() == 1
