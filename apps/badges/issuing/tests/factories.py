"""Factories of the badge issuing app. An organization's API token is encrypted as the admin stores it:
`IssuerOrganizationFactory(api_token="tok")` calls `set_api_token`."""

from __future__ import annotations

import uuid
from typing import Any

import factory
from django.utils import timezone

from apps.badges.issuing.models import (
    ExternalBadge,
    ExternalTemplate,
    IssuerBackend,
    IssuerOrganization,
)
from apps.badges.models import TemplateState
from apps.badges.tests.factories import BadgeTemplateFactory
from apps.core.api import User


class LearnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"issuing_learner{n}")
    lms_user_id = factory.Sequence(lambda n: 50_000 + n)
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    full_name = factory.Faker("name")


class IssuerOrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IssuerOrganization

    backend = IssuerBackend.CREDLY
    external_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    name = factory.Sequence(lambda n: f"Organization {n}")
    api_token = factory.LazyFunction(lambda: f"tok-{uuid.uuid4().hex}")

    @classmethod
    def _build(cls, model_class: type[IssuerOrganization], *args: Any, **kwargs: Any) -> IssuerOrganization:
        token = kwargs.pop("api_token")
        organization = model_class(*args, **kwargs)
        organization.set_api_token(token)
        return organization

    @classmethod
    def _create(cls, model_class: type[IssuerOrganization], *args: Any, **kwargs: Any) -> IssuerOrganization:
        organization = cls._build(model_class, *args, **kwargs)
        organization.save()
        return organization


class ExternalTemplateFactory(factory.django.DjangoModelFactory):
    """A badge template of the organization's backend (origin credly or accredible), active, linked to
    the service's template `external_id`."""

    class Meta:
        model = ExternalTemplate

    organization = factory.SubFactory(IssuerOrganizationFactory)
    template = factory.SubFactory(
        BadgeTemplateFactory,
        origin=factory.SelfAttribute("..organization.backend"),
        state=TemplateState.ACTIVE,
    )
    external_id = factory.LazyFunction(lambda: str(uuid.uuid4()))


class ExternalBadgeFactory(factory.django.DjangoModelFactory):
    """A learner's badge waiting to be issued (queued), as record_badge_change leaves it."""

    class Meta:
        model = ExternalBadge

    class Params:
        link = factory.SubFactory(ExternalTemplateFactory)

    user = factory.SubFactory(LearnerFactory)
    template = factory.SelfAttribute("link.template")
    organization = factory.SelfAttribute("link.organization")
    credential_uuid = factory.LazyFunction(uuid.uuid4)
    issued_at = factory.LazyFunction(timezone.now)
