from __future__ import annotations

import factory
from openedx_events.learning.signals import COURSE_PASSING_STATUS_UPDATED

from apps.badges.models import BadgePenalty, BadgeProgress, BadgeRequirement, BadgeTemplate, DataRule, Fulfillment
from apps.core.tests.factories import UserFactory

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
