from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from apps.catalog.models import Course, CourseRun, Organization, Program, ProgramCourse


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    key = factory.Sequence(lambda n: f"Org{n}X")
    name = factory.LazyAttribute(lambda o: f"{o.key} University")


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    key = factory.Sequence(lambda n: f"OrgX+C{n}")
    title = factory.Sequence(lambda n: f"Course {n}")


class CourseRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CourseRun

    course = factory.SubFactory(CourseFactory)
    key = factory.LazyAttributeSequence(lambda o, n: f"course-v1:{o.course.key}+R{n}")
    start = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=90))
    end = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=10))


class ProgramFactory(factory.django.DjangoModelFactory):
    """A program; `ProgramFactory(course_count=3)` also makes three courses with one run each."""

    class Meta:
        model = Program
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Program {n}")
    type = "MicroMasters"
    type_slug = "micromasters"

    @factory.post_generation
    def course_count(self, create: bool, extracted: int | None, **kwargs: object) -> None:
        for position in range(extracted or 0):
            run = CourseRunFactory()
            ProgramCourse.objects.create(program=self, course=run.course, position=position)
