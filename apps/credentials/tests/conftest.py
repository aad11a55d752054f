from __future__ import annotations

import pytest

from apps.core.models import User
from apps.core.tests.factories import UserFactory
from apps.credentials import services
from apps.credentials.models import UserCredential
from apps.credentials.tests.factories import CourseCertificateFactory, ProgramCertificateFactory


@pytest.fixture
def learner() -> User:
    return UserFactory(username="alice")


@pytest.fixture
def other_learner() -> User:
    return UserFactory(username="bob")


@pytest.fixture
def awarded(learner: User, other_learner: User) -> dict[str, UserCredential]:
    """Alice: one course certificate and one program certificate (revoked); Bob: one course certificate."""
    course = CourseCertificateFactory()
    program = ProgramCertificateFactory()
    services.award_program_certificate(user=learner, program_uuid=program.program.uuid)
    return {
        "alice_course": services.award_course_certificate(
            user=learner, course_run_key=course.course_run.key, mode="verified"
        ),
        "alice_program": services.revoke_program_certificate(user=learner, program_uuid=program.program.uuid),
        "bob_course": services.award_course_certificate(
            user=other_learner, course_run_key=course.course_run.key, mode="verified"
        ),
    }
