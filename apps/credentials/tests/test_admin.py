from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED, PROGRAM_CERTIFICATE_REVOKED

from apps.catalog.tests.factories import CourseRunFactory, ProgramFactory
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.models import (
    CourseCertificate,
    CredentialStatus,
    ProgramCertificate,
    ProgramTypeConfiguration,
    UserCredential,
    UserGrade,
)
from apps.credentials.tests.factories import (
    CourseCertificateFactory,
    ProgramCertificateFactory,
    SignatoryFactory,
    UserGradeFactory,
)
from apps.eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db

MaxQueries = Callable[[int], AbstractContextManager[object]]
MODELS = ("signatory", "coursecertificate", "programcertificate", "usercredential", "usergrade")
CREDENTIALS = reverse("admin:credentials_usercredential_changelist")


def _award_both_kinds(username: str) -> tuple[UserCredential, UserCredential]:
    user = UserFactory(username=username)
    course = services.award_credential(user=user, configuration=CourseCertificateFactory())
    program = services.award_credential(user=user, configuration=ProgramCertificateFactory())
    return course, program


def _listed(response: object) -> set[str]:
    return {str(c.uuid) for c in response.context["cl"].result_list}  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_pages_render(admin_client: Client, model: str) -> None:
    # given
    _award_both_kinds("ada")
    SignatoryFactory()
    UserGradeFactory()
    # when
    response = admin_client.get(reverse(f"admin:credentials_{model}_changelist"))
    # then
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize("model", ("signatory", "coursecertificate", "programcertificate", "usergrade"))
def test_add_pages_render(admin_client: Client, model: str) -> None:
    # when
    response = admin_client.get(reverse(f"admin:credentials_{model}_add"))
    # then
    assert response.status_code == 200


def test_credentials_are_not_added_or_deleted_in_the_admin(admin_client: Client) -> None:
    # given
    credential, _ = _award_both_kinds("ada")
    # when
    add = admin_client.get(reverse("admin:credentials_usercredential_add"))
    delete = admin_client.get(reverse("admin:credentials_usercredential_delete", args=[credential.pk]))
    # then
    assert add.status_code == 403
    assert delete.status_code == 403


def test_deleting_a_configuration_with_credentials_is_refused(admin_client: Client) -> None:
    # given
    credential, _ = _award_both_kinds("ada")
    url = reverse("admin:credentials_coursecertificate_delete", args=[credential.credential_id])
    # when
    response = admin_client.post(url, {"post": "yes"})
    # then
    assert response.status_code == 403
    assert UserCredential.objects.filter(pk=credential.pk).exists()


def test_credential_changelist_shows_kind_and_configuration(admin_client: Client) -> None:
    # given
    course, program = _award_both_kinds("ada")
    # when
    response = admin_client.get(CREDENTIALS)
    # then
    page = response.content.decode()
    assert "course-run" in page and "program" in page
    assert str(course.credential) in page
    assert reverse("admin:credentials_programcertificate_change", args=[program.credential_id]) in page


def test_credential_search_by_username_email_and_uuid(admin_client: Client) -> None:
    # given
    ada_course, ada_program = _award_both_kinds("ada")
    grace_course, _ = _award_both_kinds("grace")
    # when
    by_username = _listed(admin_client.get(CREDENTIALS, {"q": "ada"}))
    by_email = _listed(admin_client.get(CREDENTIALS, {"q": "grace@example.com"}))
    by_uuid = _listed(admin_client.get(CREDENTIALS, {"q": str(ada_program.uuid)}))
    # then
    assert by_username == {str(ada_course.uuid), str(ada_program.uuid)}
    assert str(grace_course.uuid) in by_email and str(ada_course.uuid) not in by_email
    assert by_uuid == {str(ada_program.uuid)}


def test_credential_filters_by_status_and_kind(admin_client: Client) -> None:
    # given
    course, program = _award_both_kinds("ada")
    services.revoke_credential(user=course.user, configuration=course.credential)
    # when
    revoked = _listed(admin_client.get(CREDENTIALS, {"status__exact": "revoked"}))
    programs = _listed(admin_client.get(CREDENTIALS, {"kind": "program"}))
    # then
    assert revoked == {str(course.uuid)}
    assert programs == {str(program.uuid)}


def test_credential_changelist_queries_do_not_grow_with_rows(
    admin_client: Client, django_assert_max_num_queries: MaxQueries
) -> None:
    # given
    _award_both_kinds("learner0")
    with CaptureQueriesContext(connection) as few_rows:
        admin_client.get(CREDENTIALS)
    for n in range(1, 11):
        _award_both_kinds(f"learner{n}")
    # when
    with django_assert_max_num_queries(len(few_rows)):
        response = admin_client.get(CREDENTIALS)
    # then
    assert response.context["cl"].result_count == 22


def test_revoke_action_revokes_through_the_service(admin_client: Client) -> None:
    # given
    course, program = _award_both_kinds("ada")
    untouched, _ = _award_both_kinds("grace")
    # when
    response = admin_client.post(
        CREDENTIALS, {"action": "revoke_selected", "_selected_action": [course.pk, program.pk]}, follow=True
    )
    # then
    for credential in (course, program):
        credential.refresh_from_db()
        assert credential.status == CredentialStatus.REVOKED
        assert credential.revoked_at is not None
    untouched.refresh_from_db()
    assert untouched.status == CredentialStatus.AWARDED
    assert "Revoked 2 credential(s); 0 already revoked." in [str(m) for m in get_messages(response.wsgi_request)]


def test_award_action_re_awards_only_revoked_credentials(admin_client: Client) -> None:
    # given
    course, program = _award_both_kinds("ada")
    services.revoke_credential(user=course.user, configuration=course.credential)
    # when
    response = admin_client.post(
        CREDENTIALS, {"action": "award_selected", "_selected_action": [course.pk, program.pk]}, follow=True
    )
    # then
    course.refresh_from_db()
    assert course.status == CredentialStatus.AWARDED
    assert course.revoked_at is None
    assert "Re-awarded 1 credential(s); 1 already awarded." in [str(m) for m in get_messages(response.wsgi_request)]


def _credential_form(credential: UserCredential, **changes: str) -> dict[str, str]:
    return {
        "status": credential.status,
        "download_url": credential.download_url,
        "visible_date_0": "",
        "visible_date_1": "",
        **changes,
    }


def test_changing_status_in_the_form_revokes_through_the_service(admin_client: Client) -> None:
    # given
    course, _ = _award_both_kinds("ada")
    url = reverse("admin:credentials_usercredential_change", args=[course.pk])
    # when
    page = admin_client.get(url)
    response = admin_client.post(url, _credential_form(course, status="revoked"))
    # then
    assert page.status_code == 200
    assert "user" not in page.context["adminform"].form.fields
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.status == CredentialStatus.REVOKED
    assert course.revoked_at is not None


def test_setting_a_download_url_in_the_form_goes_through_the_award_service(admin_client: Client) -> None:
    # given
    course, _ = _award_both_kinds("ada")
    url = reverse("admin:credentials_usercredential_change", args=[course.pk])
    # when
    response = admin_client.post(url, _credential_form(course, download_url="https://lms.test/cert/1"))
    # then
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.download_url == "https://lms.test/cert/1"
    assert course.status == CredentialStatus.AWARDED


def test_clearing_a_download_url_is_a_form_error(admin_client: Client) -> None:
    # given
    user = UserFactory()
    course = services.award_credential(
        user=user, configuration=CourseCertificateFactory(), download_url="https://lms.test/cert/1"
    )
    url = reverse("admin:credentials_usercredential_change", args=[course.pk])
    # when
    response = admin_client.post(url, _credential_form(course, download_url=""))
    # then
    assert response.status_code == 200
    assert "download_url" in response.context["adminform"].form.errors
    course.refresh_from_db()
    assert course.download_url == "https://lms.test/cert/1"


def test_revoking_while_changing_the_url_is_a_form_error(admin_client: Client) -> None:
    # given
    course, _ = _award_both_kinds("ada")
    url = reverse("admin:credentials_usercredential_change", args=[course.pk])
    # when
    response = admin_client.post(url, _credential_form(course, status="revoked", download_url="https://lms.test/c"))
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    course.refresh_from_db()
    assert (course.status, course.download_url) == (CredentialStatus.AWARDED, "")


def test_course_certificate_search_and_filters(admin_client: Client) -> None:
    # given
    verified = CourseCertificateFactory(course_run=CourseRunFactory(key="course-v1:HarvardX+DS101+2025_T1"))
    CourseCertificateFactory(course_run=verified.course_run, certificate_type="honor", is_active=False)
    CourseCertificateFactory(course_run=CourseRunFactory(key="course-v1:MITx+6.002x+2025_T1"))
    url = reverse("admin:credentials_coursecertificate_changelist")
    # when
    by_key = admin_client.get(url, {"q": "DS101"})
    inactive_honor = admin_client.get(url, {"certificate_type__exact": "honor", "is_active__exact": "0"})
    # then
    assert [str(c) for c in by_key.context["cl"].result_list] == [
        "course-v1:HarvardX+DS101+2025_T1 (honor)",
        "course-v1:HarvardX+DS101+2025_T1 (verified)",
    ]
    assert [str(c) for c in inactive_honor.context["cl"].result_list] == ["course-v1:HarvardX+DS101+2025_T1 (honor)"]


def test_adding_a_course_certificate_goes_through_the_service(admin_client: Client) -> None:
    # given
    run = CourseRunFactory()
    signatory = SignatoryFactory()
    # when
    response = admin_client.post(
        reverse("admin:credentials_coursecertificate_add"),
        {
            "course_run": run.pk,
            "certificate_type": "verified",
            "title": "Verified certificate",
            "is_active": "on",
            "signatories": [signatory.pk],
        },
    )
    # then
    assert response.status_code == 302
    configuration = CourseCertificate.objects.get(course_run=run)
    assert (configuration.certificate_type, configuration.title) == ("verified", "Verified certificate")
    assert list(configuration.signatories.all()) == [signatory]


def test_duplicate_course_certificate_is_a_form_error(admin_client: Client) -> None:
    # given
    existing = CourseCertificateFactory(certificate_type="verified")
    # when
    response = admin_client.post(
        reverse("admin:credentials_coursecertificate_add"),
        {"course_run": existing.course_run.pk, "certificate_type": "verified", "title": "", "is_active": "on"},
    )
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert CourseCertificate.objects.count() == 1


def test_course_certificate_run_and_mode_are_fixed_once_created(admin_client: Client) -> None:
    # given
    configuration = CourseCertificateFactory(certificate_type="verified")
    url = reverse("admin:credentials_coursecertificate_change", args=[configuration.pk])
    # when
    response = admin_client.post(url, {"course_run": CourseRunFactory().pk, "certificate_type": "honor", "title": "X"})
    # then
    assert response.status_code == 302
    configuration.refresh_from_db()
    assert (configuration.certificate_type, configuration.title, configuration.is_active) == ("verified", "X", False)


def test_adding_a_program_certificate_goes_through_the_service(admin_client: Client) -> None:
    # given
    program = ProgramFactory(title="Circuits")
    # when
    response = admin_client.post(
        reverse("admin:credentials_programcertificate_add"),
        {"program": program.pk, "title_override": "Circuits MicroMasters", "is_active": "on"},
    )
    # then
    assert response.status_code == 302
    configuration = ProgramCertificate.objects.get(program=program)
    assert str(configuration) == "Circuits MicroMasters"


def test_grade_search_and_passed_filter(admin_client: Client) -> None:
    # given
    UserGradeFactory(user=UserFactory(username="ada"), course_run=CourseRunFactory(key="course-v1:X+DS1+R"))
    UserGradeFactory(user=UserFactory(username="grace"), passed=False, percent_grade=Decimal("0.3"))
    url = reverse("admin:credentials_usergrade_changelist")
    # when
    by_username = admin_client.get(url, {"q": "ada"})
    by_run = admin_client.get(url, {"q": "DS1"})
    failed = admin_client.get(url, {"passed__exact": "0"})
    # then
    assert [g.user.username for g in by_username.context["cl"].result_list] == ["ada"]
    assert [g.user.username for g in by_run.context["cl"].result_list] == ["ada"]
    assert [g.user.username for g in failed.context["cl"].result_list] == ["grace"]


def test_adding_a_grade_records_it_through_the_service(admin_client: Client) -> None:
    # given
    user = UserFactory()
    run = CourseRunFactory()
    # when
    response = admin_client.post(
        reverse("admin:credentials_usergrade_add"),
        {"user": user.pk, "course_run": run.pk, "percent_grade": "0.9", "letter_grade": "A", "passed": "on"},
    )
    # then
    assert response.status_code == 302
    grade = UserGrade.objects.get(user=user, course_run=run)
    assert (grade.percent_grade, grade.passed) == (Decimal("0.9"), True)
    assert grade.passed_timestamp is not None


def test_grade_out_of_range_is_a_form_error(admin_client: Client) -> None:
    # given
    user = UserFactory()
    run = CourseRunFactory()
    # when
    response = admin_client.post(
        reverse("admin:credentials_usergrade_add"),
        {"user": user.pk, "course_run": run.pk, "percent_grade": "1.5", "letter_grade": "A"},
    )
    # then
    assert response.status_code == 200
    assert "percent_grade" in response.context["adminform"].form.errors
    assert not UserGrade.objects.exists()


def test_credential_whose_configuration_is_gone_is_listed_and_skipped_by_actions(admin_client: Client) -> None:
    # given: a row pointing at a configuration that no longer exists (data from before a cleanup)
    user = UserFactory(username="ada")
    dangling = UserCredential.objects.create(
        user=user, credential_content_type=ContentType.objects.get_for_model(CourseCertificate), credential_id=999_999
    )
    # when
    page = admin_client.get(CREDENTIALS)
    response = admin_client.post(
        CREDENTIALS, {"action": "revoke_selected", "_selected_action": [dangling.pk]}, follow=True
    )
    # then
    assert page.status_code == 200
    assert "missing coursecertificate 999999" in page.content.decode()
    dangling.refresh_from_db()
    assert dangling.status == CredentialStatus.AWARDED
    assert any("Skipped 1" in str(m) for m in get_messages(response.wsgi_request))


def test_program_certificate_revocation_can_be_enabled(admin_client: Client) -> None:
    # given
    configuration = ProgramCertificateFactory()
    url = reverse("admin:credentials_programcertificate_change", args=[configuration.pk])
    # when
    response = admin_client.post(url, {"title_override": "", "is_active": "on", "is_revocation_enabled": "on"})
    # then
    assert response.status_code == 302
    configuration.refresh_from_db()
    assert configuration.is_revocation_enabled is True


def test_adding_a_program_type_configuration_goes_through_the_service(admin_client: Client) -> None:
    # given
    url = reverse("admin:credentials_programtypeconfiguration_add")
    # when
    page = admin_client.get(url)
    response = admin_client.post(url, {"type_slug": "micromasters", "eligible_modes": ["verified", "honor"]})
    # then
    assert page.status_code == 200
    assert response.status_code == 302
    configuration = ProgramTypeConfiguration.objects.get()
    assert (configuration.type_slug, configuration.eligible_modes) == ("micromasters", ["honor", "verified"])
    changelist = admin_client.get(reverse("admin:credentials_programtypeconfiguration_changelist"))
    assert "honor, verified" in changelist.content.decode()


def test_changing_a_program_type_configuration_keeps_its_slug(admin_client: Client) -> None:
    # given
    configuration = services.configure_program_type(type_slug="micromasters", eligible_modes=["verified"])
    url = reverse("admin:credentials_programtypeconfiguration_change", args=[configuration.pk])
    # when
    response = admin_client.post(url, {"type_slug": "other", "eligible_modes": ["professional"]})
    # then
    assert response.status_code == 302
    configuration.refresh_from_db()
    assert (configuration.type_slug, configuration.eligible_modes) == ("micromasters", ["professional"])
    assert ProgramTypeConfiguration.objects.count() == 1


@pytest.mark.parametrize("modes", [[], ["gold-star"]])
def test_a_program_type_configuration_needs_known_modes(admin_client: Client, modes: list[str]) -> None:
    # when
    response = admin_client.post(
        reverse("admin:credentials_programtypeconfiguration_add"),
        {"type_slug": "micromasters", "eligible_modes": modes},
    )
    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["eligible_modes"]
    assert not ProgramTypeConfiguration.objects.exists()


def test_revoking_a_program_certificate_in_the_admin_publishes_it(admin_client: Client) -> None:
    # given
    _, program = _award_both_kinds("ada")
    # when
    admin_client.post(CREDENTIALS, {"action": "revoke_selected", "_selected_action": [program.pk]})
    # then
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == [
        PROGRAM_CERTIFICATE_AWARDED.event_type,
        PROGRAM_CERTIFICATE_REVOKED.event_type,
    ]


def test_a_program_certificate_of_a_learner_without_lms_id_is_revoked_unannounced_and_not_reawarded(
    admin_client: Client,
) -> None:
    # given: a learner known only by username (an import, the LMS's REST calls) holds a program certificate
    _, program = _award_both_kinds("ada")
    type(program.user).objects.filter(pk=program.user_id).update(lms_user_id=None)
    OutboxEvent.objects.all().delete()
    url = reverse("admin:credentials_usercredential_change", args=[program.pk])
    # when: revoked through the form; then re-awarded through the form and the action
    admin_client.post(url, _credential_form(program, status="revoked"))
    program.refresh_from_db()
    revoked_status = program.status
    form = admin_client.post(url, _credential_form(program, status="awarded"))
    action = admin_client.post(CREDENTIALS, {"action": "award_selected", "_selected_action": [program.pk]}, follow=True)
    # then: the revocation is made without an event (none can name them); an award needs the LMS id
    assert revoked_status == CredentialStatus.REVOKED
    assert "no LMS user id" in str(form.context["adminform"].form.non_field_errors())
    assert any("no LMS user id" in str(m) for m in get_messages(action.wsgi_request))
    program.refresh_from_db()
    assert program.status == CredentialStatus.REVOKED
    assert not OutboxEvent.objects.exists()
