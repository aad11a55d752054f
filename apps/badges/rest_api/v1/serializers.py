"""Input serializers validate what a request names; output serializers describe the badges' JSON."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from apps.badges.data import BadgeStatus, BadgeTemplateData, RequirementProgressData
from apps.badges.models import TemplateOrigin, TemplateState

# Output enums are plain strings, as in records: a `status` enum component (awarded/revoked) would
# collide with credentials' own in the schema.
_STATUS_HELP = "One of: " + ", ".join(status.value for status in BadgeStatus) + "."
_ORIGIN_HELP = "One of: " + ", ".join(origin.value for origin in TemplateOrigin) + "."
_STATE_HELP = "The template's state: " + ", ".join(s.value for s in TemplateState if s != TemplateState.DRAFT) + "."


# --- input ---------------------------------------------------------------------------------------


class LearnerQueryInputSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(
        required=False,
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Whose badges; staff and service users only. Defaults to the requester.",
    )


class BadgeListInputSerializer(LearnerQueryInputSerializer):
    status = serializers.ChoiceField(
        choices=[status.value for status in BadgeStatus], required=False, help_text="Only badges in this status."
    )
    template = serializers.UUIDField(required=False, help_text="Only badges of this template (its uuid).")


class BadgeProgressInputSerializer(LearnerQueryInputSerializer):
    template = serializers.UUIDField(required=False, help_text="Only progress towards this template (its uuid).")
    in_progress = serializers.BooleanField(
        required=False, default=False, help_text="true: only templates whose badge is not awarded."
    )


# --- output --------------------------------------------------------------------------------------


class BadgeTemplateOutputSerializer(serializers.Serializer[BadgeTemplateData]):
    uuid = serializers.UUIDField()
    origin = serializers.CharField(help_text=_ORIGIN_HELP)
    name = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.CharField(allow_null=True, help_text="Absolute URL of the badge image; null without one.")


# Any, not the data class: it renders lists (many=True), and the stubs type a plain Serializer's
# instance as one object.
class LearnerBadgeOutputSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField(help_text="The badge credential's uuid.")
    status = serializers.CharField(help_text=_STATUS_HELP)
    awarded_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    template = BadgeTemplateOutputSerializer()


class RequirementProgressOutputSerializer(serializers.Serializer[RequirementProgressData]):
    id = serializers.IntegerField()
    description = serializers.CharField()
    event_type = serializers.CharField(help_text="The openedx-events event type that fulfils it.")
    group = serializers.CharField(help_text="Requirements sharing a group are alternatives; empty: a group of its own.")
    fulfilled = serializers.BooleanField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)


class BadgeProgressOutputSerializer(serializers.Serializer[Any]):
    template = BadgeTemplateOutputSerializer()
    state = serializers.CharField(help_text=_STATE_HELP)
    is_awarded = serializers.BooleanField(help_text="Whether the learner holds this badge, awarded.")
    groups_satisfied = serializers.IntegerField()
    groups_total = serializers.IntegerField()
    percent = serializers.FloatField(help_text="Groups satisfied over groups, 0 to 100.")
    requirements = RequirementProgressOutputSerializer(many=True)
    missing_groups = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="The requirement ids of each group not satisfied yet: fulfilling any one of a group satisfies it.",
    )
