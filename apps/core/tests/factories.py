from __future__ import annotations

import factory

from apps.core.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"learner{n}")
    lms_user_id = factory.Sequence(lambda n: 1000 + n)
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("password")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
