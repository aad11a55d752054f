from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from apps.catalog.models import CourseRun
from apps.catalog.tests.factories import CourseRunFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import api as credentials_api
from apps.credentials.models import CourseCertificate, CredentialStatus, ProgramCertificate, UserCredential, UserGrade
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory
from apps.pdf_credentials import plugins
from apps.pdf_credentials.exceptions import PdfCredentialsErrorCode
from apps.pdf_credentials.plugins import ConfigurationData, EligibleLearner, PluginError
from apps.pdf_credentials.processors import awarded_credential, passing_grade, program_completed

pytestmark = pytest.mark.django_db

NumQueries = Callable[[int], AbstractContextManager[object]]

PASSING_GRADE = "apps.pdf_credentials.processors.passing_grade"
PROGRAM_COMPLETED = "apps.pdf_credentials.processors.program_completed"
AWARDED_CREDENTIAL = "apps.pdf_credentials.processors.awarded_credential"


def for_run(run: CourseRun) -> ConfigurationData:
    return ConfigurationData(id=1, course_run_key=run.key)


def for_program(program_uuid: uuid.UUID) -> ConfigurationData:
    return ConfigurationData(id=2, program_uuid=program_uuid)


def grade(user: User, run: CourseRun, percent: str, *, passed: bool) -> None:
    credentials_api.record_grade(user=user, course_run_key=run.key, percent_grade=Decimal(percent), passed=passed)


def ids(learners: list[EligibleLearner]) -> list[int]:
    return [learner.user_id for learner in learners]


# --- passing_grade -------------------------------------------------------------------------------


def test_passing_grade_finds_who_passed_the_run_not_who_failed_it_or_passed_another() -> None:
    # given
    run, other_run = CourseRunFactory(), CourseRunFactory()
    passed, failed, elsewhere = UserFactory(), UserFactory(), UserFactory()
    grade(passed, run, "0.70", passed=True)
    grade(failed, run, "0.95", passed=False)
    grade(elsewhere, other_run, "0.90", passed=True)
    # when
    learners = passing_grade(for_run(run), {})
    # then
    assert ids(learners) == [passed.pk]


def test_a_grade_that_stopped_passing_no_longer_counts() -> None:
    # given
    run, learner = CourseRunFactory(), UserFactory()
    grade(learner, run, "0.80", passed=True)
    grade(learner, run, "0.30", passed=False)
    # when
    learners = passing_grade(for_run(run), {})
    # then
    assert learners == []


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.9, ["at", "above"]),
        (Decimal("0.9"), ["at", "above"]),
        (1, []),
        (0, ["below", "at", "above"]),
        # As a float 0.1 is a hair above 0.1; read as written, a grade of exactly 0.1 still reaches it.
        (0.1, ["below", "at", "above"]),
    ],
)
def test_a_threshold_also_needs_the_percent_grade(threshold: Any, expected: list[str]) -> None:
    # given
    run = CourseRunFactory()
    learners = {name: UserFactory(username=name) for name in ("below", "at", "above", "failed")}
    grade(learners["below"], run, "0.1000", passed=True)
    grade(learners["at"], run, "0.9000", passed=True)
    grade(learners["above"], run, "0.9500", passed=True)
    grade(learners["failed"], run, "0.9900", passed=False)  # a failing grade never counts
    # when
    found = passing_grade(for_run(run), {"threshold": threshold})
    # then
    assert ids(found) == [learners[name].pk for name in expected]


def test_passing_grade_names_learners_by_full_name_else_username_in_user_id_order() -> None:
    # given
    run = CourseRunFactory()
    first = UserFactory(username="zed", full_name="Zoë Ωmega")
    second = UserFactory(username="amy", full_name="")
    third = UserFactory(username="bo", full_name="李小龍")
    for user in (third, first, second):  # graded out of order
        grade(user, run, "0.8", passed=True)
    # when
    learners = passing_grade(for_run(run), {})
    # then
    assert learners == [
        EligibleLearner(user_id=first.pk, name="Zoë Ωmega"),
        EligibleLearner(user_id=second.pk, name="amy"),
        EligibleLearner(user_id=third.pk, name="李小龍"),
    ]


def test_passing_grade_needs_a_configuration_naming_a_course_run() -> None:
    # given
    configuration = for_program(uuid.uuid4())
    # when
    with pytest.raises(PluginError) as raised:
        passing_grade(configuration, {})
    # then
    assert raised.value.field == "course_run_key"
    assert raised.value.code == PdfCredentialsErrorCode.BAD_OPTIONS


def test_passing_grade_of_an_unknown_run_finds_nobody() -> None:
    # when
    learners = passing_grade(ConfigurationData(id=1, course_run_key="course-v1:Nobody+Nothing+Never"), {})
    # then
    assert learners == []


@pytest.mark.parametrize("threshold", [-0.01, 1.01, 2, "0.5", True, [], float("nan"), float("inf")])
def test_passing_grade_refuses_a_threshold_that_is_not_a_number_from_0_to_1(threshold: Any) -> None:
    # given
    options = {"threshold": threshold}
    # when
    with pytest.raises(PluginError) as raised:
        plugins.validate(PASSING_GRADE, options, kind="processor")
    # then
    assert raised.value.field == "threshold"
    assert raised.value.code == PdfCredentialsErrorCode.BAD_OPTIONS


def test_passing_grade_refuses_a_bad_threshold_at_run_time_too() -> None:
    # given
    run = CourseRunFactory()
    # when
    with pytest.raises(PluginError) as raised:
        passing_grade(for_run(run), {"threshold": 3})
    # then
    assert raised.value.field == "threshold"


@pytest.mark.parametrize("options", [{}, {"threshold": None}, {"threshold": 0}, {"threshold": 1}, {"threshold": 0.5}])
def test_passing_grade_accepts_no_threshold_or_one_from_0_to_1(options: dict[str, Any]) -> None:
    # when
    plugins.validate(PASSING_GRADE, {**options, "font_size": 12}, kind="processor")  # others' keys are ignored
    # then nothing is raised


# --- program_completed ---------------------------------------------------------------------------


def test_program_completed_finds_holders_of_the_programs_awarded_certificate() -> None:
    # given
    program, other = ProgramCertificateFactory().program, ProgramCertificateFactory().program
    holder, revoked, elsewhere = UserFactory(), UserFactory(), UserFactory()
    credentials_api.award_program_certificate(user=holder, program_uuid=program.uuid)
    credentials_api.award_program_certificate(user=revoked, program_uuid=program.uuid)
    credentials_api.revoke_program_certificate(user=revoked, program_uuid=program.uuid)
    credentials_api.award_program_certificate(user=elsewhere, program_uuid=other.uuid)
    # when
    learners = program_completed(for_program(program.uuid), {})
    # then
    assert learners == [EligibleLearner(user_id=holder.pk, name=holder.full_name)]


def test_program_completed_waits_for_the_program_certificate_to_be_visible() -> None:
    # given: two holders; one's certificate is visible only next week
    program = ProgramCertificateFactory().program
    now_visible, later = UserFactory(), UserFactory()
    credentials_api.award_program_certificate(user=now_visible, program_uuid=program.uuid)
    credentials_api.award_program_certificate(
        user=later, program_uuid=program.uuid, visible_date=timezone.now() + datetime.timedelta(days=7)
    )
    # when
    learners = program_completed(for_program(program.uuid), {})
    # then
    assert learners == [EligibleLearner(user_id=now_visible.pk, name=now_visible.full_name)]


def test_program_completed_needs_a_configuration_naming_a_program() -> None:
    # given
    configuration = for_run(CourseRunFactory())
    # when
    with pytest.raises(PluginError) as raised:
        program_completed(configuration, {})
    # then
    assert raised.value.field == "program_uuid"


def test_program_completed_of_an_unknown_program_finds_nobody() -> None:
    # when
    learners = program_completed(for_program(uuid.uuid4()), {})
    # then
    assert learners == []


# --- awarded_credential --------------------------------------------------------------------------


@pytest.fixture
def course_holders() -> dict[str, Any]:
    """A run with verified and honor certificates: one learner in each mode, one in both, one revoked,
    and one holding a certificate of another run."""
    run, other_run = CourseRunFactory(), CourseRunFactory()
    CourseCertificateFactory(course_run=run, certificate_type="verified")
    CourseCertificateFactory(course_run=run, certificate_type="honor")
    CourseCertificateFactory(course_run=other_run, certificate_type="verified")
    users = {name: UserFactory(username=name) for name in ("verified", "honor", "both", "revoked", "elsewhere")}
    award = credentials_api.award_course_certificate
    award(user=users["verified"], course_run_key=run.key, mode="verified")
    award(user=users["honor"], course_run_key=run.key, mode="honor")
    award(user=users["both"], course_run_key=run.key, mode="honor")
    award(user=users["both"], course_run_key=run.key, mode="verified")
    award(user=users["revoked"], course_run_key=run.key, mode="verified")
    credentials_api.revoke_course_certificate(user=users["revoked"], course_run_key=run.key, mode="verified")
    award(user=users["elsewhere"], course_run_key=other_run.key, mode="verified")
    return {"run": run, "other_run": other_run, **users}


def test_awarded_course_certificate_in_a_mode(course_holders: dict[str, Any]) -> None:
    # when
    learners = awarded_credential(for_run(course_holders["run"]), {"kind": "course-run", "mode": "verified"})
    # then
    assert ids(learners) == [course_holders["verified"].pk, course_holders["both"].pk]


def test_awarded_course_certificate_in_any_mode_lists_each_learner_once(course_holders: dict[str, Any]) -> None:
    # when
    learners = awarded_credential(for_run(course_holders["run"]), {"kind": "course-run"})
    # then
    assert ids(learners) == [course_holders[name].pk for name in ("verified", "honor", "both")]


def test_awarded_course_certificate_of_a_run_named_in_the_options(course_holders: dict[str, Any]) -> None:
    # given: a program's configuration, asking for another run's certificate holders
    options = {"kind": "course-run", "course_run_key": course_holders["other_run"].key}
    # when
    learners = awarded_credential(for_program(uuid.uuid4()), options)
    # then
    assert ids(learners) == [course_holders["elsewhere"].pk]


def test_awarded_program_certificate_of_the_configurations_program_or_the_one_named() -> None:
    # given
    own, named = ProgramCertificateFactory().program, ProgramCertificateFactory().program
    own_holder, named_holder, revoked = UserFactory(), UserFactory(), UserFactory()
    credentials_api.award_program_certificate(user=own_holder, program_uuid=own.uuid)
    credentials_api.award_program_certificate(user=named_holder, program_uuid=named.uuid)
    credentials_api.award_program_certificate(user=revoked, program_uuid=named.uuid)
    credentials_api.revoke_program_certificate(user=revoked, program_uuid=named.uuid)
    # when
    of_own = awarded_credential(for_program(own.uuid), {"kind": "program"})
    of_named = awarded_credential(for_program(own.uuid), {"kind": "program", "program_uuid": str(named.uuid)})
    # then
    assert ids(of_own) == [own_holder.pk]
    assert ids(of_named) == [named_holder.pk]


@pytest.mark.parametrize(
    ("configuration", "options", "field"),
    [
        (ConfigurationData(id=3, program_uuid=uuid.uuid4()), {"kind": "course-run"}, "course_run_key"),
        (ConfigurationData(id=3, course_run_key="course-v1:OrgX+C1+R1"), {"kind": "program"}, "program_uuid"),
    ],
    ids=["run-of-a-program-configuration", "program-of-a-run-configuration"],
)
def test_awarded_credential_needs_the_run_or_program_from_options_or_configuration(
    configuration: ConfigurationData, options: dict[str, Any], field: str
) -> None:
    # when
    with pytest.raises(PluginError) as raised:
        awarded_credential(configuration, options)
    # then
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "kind"),
        ({"kind": "badge"}, "kind"),
        ({"kind": "course-run", "course_run_key": "not a key"}, "course_run_key"),
        ({"kind": "course-run", "course_run_key": 42}, "course_run_key"),
        ({"kind": "course-run", "mode": "verifed"}, "mode"),
        ({"kind": "course-run", "program_uuid": str(uuid.uuid4())}, "program_uuid"),
        ({"kind": "program", "program_uuid": "not-a-uuid"}, "program_uuid"),
        ({"kind": "program", "program_uuid": 12}, "program_uuid"),
        ({"kind": "program", "mode": "verified"}, "mode"),
        ({"kind": "program", "course_run_key": "course-v1:OrgX+C1+R1"}, "course_run_key"),
    ],
)
def test_awarded_credential_refuses_bad_options_naming_the_field(options: dict[str, Any], field: str) -> None:
    # when
    with pytest.raises(PluginError) as raised:
        plugins.validate(AWARDED_CREDENTIAL, options, kind="processor")
    # then
    assert raised.value.field == field
    assert raised.value.code == PdfCredentialsErrorCode.BAD_OPTIONS


@pytest.mark.parametrize(
    "options",
    [
        {"kind": "course-run"},
        {"kind": "course-run", "course_run_key": "course-v1:OrgX+C1+R1", "mode": "verified"},
        {"kind": "course-run", "mode": "honor", "template": "classic"},  # the generator's keys are ignored
        {"kind": "program"},
        {"kind": "program", "program_uuid": str(uuid.uuid4())},
    ],
)
def test_awarded_credential_accepts_good_options(options: dict[str, Any]) -> None:
    # when
    plugins.validate(AWARDED_CREDENTIAL, options, kind="processor")
    # then nothing is raised


def test_awarded_credential_refuses_bad_options_at_run_time_too() -> None:
    # given
    configuration = for_run(CourseRunFactory())
    # when
    with pytest.raises(PluginError) as raised:
        awarded_credential(configuration, {"kind": "course-run", "mode": "gold"})
    # then
    assert raised.value.field == "mode"


def test_program_completed_has_no_options_to_refuse() -> None:
    # when
    plugins.validate(PROGRAM_COMPLETED, {"anything": "the generator reads"}, kind="processor")
    # then nothing is raised


# --- one query whatever the cohort size ----------------------------------------------------------


def bulk_learners(count: int, *, prefix: str) -> list[User]:
    # bulk_create keeps 500 learners fast; the services' rules are covered by the tests above.
    return User.objects.bulk_create(
        User(username=f"{prefix}{n}", lms_user_id=500_000 + n, full_name=f"Learner {n}") for n in range(count)
    )


def bulk_credentials(users: list[User], configuration: CourseCertificate | ProgramCertificate, status: str) -> None:
    content_type = ContentType.objects.get_for_model(configuration)
    UserCredential.objects.bulk_create(
        UserCredential(user=user, credential_content_type=content_type, credential_id=configuration.pk, status=status)
        for user in users
    )


def passing_cohort(count: int) -> tuple[ConfigurationData, dict[str, Any]]:
    run = CourseRunFactory()
    users = bulk_learners(2 * count, prefix="graded")
    UserGrade.objects.bulk_create(
        UserGrade(user=user, course_run=run, percent_grade=Decimal("0.8"), passed=n < count)
        for n, user in enumerate(users)
    )
    return for_run(run), {"threshold": 0.5}


def program_cohort(count: int) -> tuple[ConfigurationData, dict[str, Any]]:
    certificate = ProgramCertificateFactory()
    users = bulk_learners(2 * count, prefix="graduate")
    bulk_credentials(users[:count], certificate, CredentialStatus.AWARDED)
    bulk_credentials(users[count:], certificate, CredentialStatus.REVOKED)
    return for_program(certificate.program.uuid), {}


def course_cohort(count: int) -> tuple[ConfigurationData, dict[str, Any]]:
    verified = CourseCertificateFactory(certificate_type="verified")
    honor = CourseCertificateFactory(course_run=verified.course_run, certificate_type="honor")
    users = bulk_learners(2 * count, prefix="certified")
    bulk_credentials(users[:count], verified, CredentialStatus.AWARDED)
    bulk_credentials(users[:count], honor, CredentialStatus.AWARDED)  # the same learners in a second mode
    bulk_credentials(users[count:], verified, CredentialStatus.REVOKED)
    return for_run(verified.course_run), {"kind": "course-run"}


@pytest.mark.parametrize("count", [5, 500])
@pytest.mark.parametrize(
    ("processor", "cohort"),
    [(passing_grade, passing_cohort), (program_completed, program_cohort), (awarded_credential, course_cohort)],
    ids=["passing_grade", "program_completed", "awarded_credential"],
)
def test_each_processor_is_one_query_whatever_the_cohort_size(
    processor: plugins.Processor,
    cohort: Callable[[int], tuple[ConfigurationData, dict[str, Any]]],
    count: int,
    django_assert_num_queries: NumQueries,
) -> None:
    # given: as many ineligible learners (failing, revoked) as eligible ones, and a cold cache
    configuration, options = cohort(count)
    ContentType.objects.clear_cache()
    # when
    with django_assert_num_queries(1):
        learners = processor(configuration, options)
    # then
    assert len(learners) == count
    assert ids(learners) == sorted(ids(learners))
    assert learners[0].name == "Learner 0"
