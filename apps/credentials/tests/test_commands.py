from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED

from apps.catalog.models import Program
from apps.catalog.tests.factories import ProgramFactory
from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.models import CredentialStatus
from apps.credentials.tests.factories import ProgramCertificateFactory
from apps.eventbus.models import OutboxEvent

pytestmark = pytest.mark.django_db


def recompute(program: Program, *args: str) -> str:
    out = StringIO()
    call_command("recompute_program_certificates", "--program", str(program.uuid), *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def earn(user: User, program: Program, *, courses: int) -> None:
    for pc in program.program_courses.order_by("position")[:courses]:
        services.record_course_certificate(
            user=user,
            course_run_key=pc.course.course_runs.get().key,
            mode="verified",
            is_awarded=True,
        )


def test_recompute_awards_learners_who_completed_before_the_certificate_existed_and_is_idempotent() -> None:
    # given: two learners complete the program before it has a certificate, a third is halfway
    program = ProgramFactory(course_count=3)
    ada, grace, alan = UserFactory(), UserFactory(), UserFactory()
    earn(ada, program, courses=3)
    earn(grace, program, courses=3)
    earn(alan, program, courses=2)
    services.configure_program_certificate(program_uuid=program.uuid)
    assert not OutboxEvent.objects.exists()
    # when
    first = recompute(program, "--no-progress")
    second = recompute(program, "--no-progress")
    # then
    holders = program.certificate.user_credentials.filter(status=CredentialStatus.AWARDED)
    assert set(holders.values_list("user_id", flat=True)) == {ada.pk, grace.pk}
    assert OutboxEvent.objects.filter(event_type=PROGRAM_CERTIFICATE_AWARDED.event_type).count() == 2
    assert OutboxEvent.objects.count() == 2
    assert "3 learners with a course certificate, 2 completed the program, 2 newly awarded" in first
    assert "2 completed the program, 0 newly awarded" in second


def test_recompute_never_revokes() -> None:
    # given: a learner holds the certificate of a program that has since gained a fourth course
    program = ProgramFactory(course_count=3)
    ProgramCertificateFactory(program=program, is_revocation_enabled=True)
    user = UserFactory()
    earn(user, program, courses=3)
    extra = ProgramFactory(course_count=1).program_courses.get()
    program.program_courses.create(course=extra.course, position=3)
    # when
    output = recompute(program, "--no-progress")
    # then
    assert "0 completed the program, 0 newly awarded" in output
    assert program.certificate.user_credentials.get(user=user).status == CredentialStatus.AWARDED
    assert OutboxEvent.objects.count() == 1


def test_recompute_draws_a_progress_bar_unless_told_not_to() -> None:
    # given
    program = ProgramFactory(course_count=1)
    ProgramCertificateFactory(program=program)
    earn(UserFactory(), program, courses=1)
    err = StringIO()
    # when
    call_command("recompute_program_certificates", "--program", str(program.uuid), stdout=StringIO(), stderr=err)
    # then
    assert "1/1" in err.getvalue()


def test_recompute_refuses_an_unknown_program() -> None:
    with pytest.raises(CommandError, match="No program"):
        call_command("recompute_program_certificates", "--program", str(uuid.uuid4()), "--no-progress")


def test_recompute_refuses_a_program_without_a_certificate() -> None:
    with pytest.raises(CommandError, match="No certificate is configured"):
        recompute(ProgramFactory(course_count=1), "--no-progress")
