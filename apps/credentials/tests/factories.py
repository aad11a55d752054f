from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import (
    CertificateData,
    CourseData,
    CoursePassingStatusData,
    PersistentCourseGradeData,
    UserData,
    UserPersonalData,
)

from apps.catalog.tests.factories import CourseRunFactory, ProgramFactory
from apps.core.tests.factories import UserFactory
from apps.credentials.models import CourseCertificate, ProgramCertificate, Signatory, UserGrade


class SignatoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signatory

    name = factory.Faker("name")
    title = "Professor"


class CourseCertificateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CourseCertificate

    course_run = factory.SubFactory(CourseRunFactory)
    certificate_type = "verified"


class ProgramCertificateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProgramCertificate

    program = factory.SubFactory(ProgramFactory)


class UserGradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserGrade

    user = factory.SubFactory(UserFactory)
    course_run = factory.SubFactory(CourseRunFactory)
    letter_grade = "B"
    percent_grade = Decimal("0.8200")
    passed = True


# --- LMS event payloads (openedx-events data classes) ---------------------------------------------


class UserPersonalDataFactory(factory.Factory):
    class Meta:
        model = UserPersonalData

    username = factory.Sequence(lambda n: f"lms_learner{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    name = factory.Faker("name")


class UserDataFactory(factory.Factory):
    """The LMS's UserData: `UserDataFactory(id=7, pii__username="ada")`."""

    class Meta:
        model = UserData

    id = factory.Sequence(lambda n: 70_000 + n)
    is_active = True
    pii = factory.SubFactory(UserPersonalDataFactory)


def course_data(run_key: str) -> CourseData:
    return CourseData(course_key=CourseKey.from_string(run_key))


class CertificateDataFactory(factory.Factory):
    """A certificate event's payload: `CertificateDataFactory(user=..., course=course_data(run.key))`."""

    class Meta:
        model = CertificateData

    user = factory.SubFactory(UserDataFactory)
    course = factory.LazyFunction(lambda: course_data("course-v1:OrgX+C0+R0"))
    mode = "verified"
    grade = "0.91"
    download_url = factory.Sequence(lambda n: f"https://lms.test/certificates/{n}")
    name = factory.LazyAttribute(lambda o: o.user.pii.name)
    current_status = "downloadable"
    previous_status = ""


class PersistentCourseGradeDataFactory(factory.Factory):
    class Meta:
        model = PersistentCourseGradeData

    user_id = factory.Sequence(lambda n: 80_000 + n)
    course = factory.LazyFunction(lambda: course_data("course-v1:OrgX+C0+R0"))
    course_edited_timestamp = factory.LazyFunction(timezone.now)
    course_version = "v1"
    grading_policy_hash = "hash"
    percent_grade = 0.82
    letter_grade = "B"
    passed_timestamp = factory.LazyFunction(timezone.now)


class CoursePassingStatusDataFactory(factory.Factory):
    class Meta:
        model = CoursePassingStatusData

    is_passing = True
    course = factory.LazyFunction(lambda: course_data("course-v1:OrgX+C0+R0"))
    user = factory.SubFactory(UserDataFactory)
