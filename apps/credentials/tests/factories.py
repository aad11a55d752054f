from __future__ import annotations

from decimal import Decimal

import factory

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
