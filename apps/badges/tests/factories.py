from __future__ import annotations

import factory
from django.db import transaction
from openedx_events.learning.signals import COURSE_PASSING_STATUS_UPDATED

from apps.badges.models import BadgePenalty, BadgeProgress, BadgeRequirement, BadgeTemplate, DataRule, Fulfillment
from apps.core.api import User, lock_learners
from apps.core.tests.factories import UserFactory
from apps.credentials.api import apply_credential_changes
from apps.credentials.data import CredentialChange, UserCredentialData

PASSING = COURSE_PASSING_STATUS_UPDATED.event_type


class BadgeTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BadgeTemplate

    name = factory.Sequence(lambda n: f"Badge {n}")


class BadgeRequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BadgeRequirement

    template = factory.SubFactory(BadgeTemplateFactory)
    event_type = PASSING
    description = "Pass the course"


class BadgePenaltyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BadgePenalty

    template = factory.SubFactory(BadgeTemplateFactory)
    event_type = PASSING
    description = "Fail the course"


class DataRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataRule

    requirement = factory.SubFactory(BadgeRequirementFactory)
    data_path = "course_passing_status.is_passing"
    operator = "eq"
    value = "true"


class BadgeProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BadgeProgress

    template = factory.SubFactory(BadgeTemplateFactory)
    user = factory.SubFactory(UserFactory)


class FulfillmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Fulfillment

    progress = factory.SubFactory(BadgeProgressFactory)
    requirement = factory.SubFactory(BadgeRequirementFactory, template=factory.SelfAttribute("..progress.template"))


def award_badge(*, user: User, template: BadgeTemplate, award: bool = True) -> UserCredentialData:
    """Award (or, with award=False, revoke) the learner's badge of the template through the credentials
    service, holding the learner's lock as its callers must."""
    with transaction.atomic():
        lock_learners(user_ids=[user.pk])
        (credential,) = apply_credential_changes(
            changes=[
                CredentialChange(
                    user_id=user.pk, configuration_model=BadgeTemplate, configuration_id=template.pk, award=award
                )
            ]
        )
    return credential
