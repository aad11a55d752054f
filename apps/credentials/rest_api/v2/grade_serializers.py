"""Bodies of /api/v2/grades/, as the LMS posts them (form-encoded) and openedx/credentials answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.credentials.models import UserGrade

from .fields import LmsDateTimeField


class UserGradeInputSerializer(serializers.Serializer[Any]):
    """The LMS's send_grade_to_credentials: `verified` arrives as "True", `percent_grade` as str(float),
    and `letter_grade` and `lms_last_updated_at` may be absent (requests drops None values)."""

    username = serializers.CharField(max_length=150)
    course_run = serializers.CharField(max_length=255)
    letter_grade = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    # Any number of places: the service rounds to the four it stores (a float's str may carry more).
    percent_grade = serializers.DecimalField(
        max_digits=None, decimal_places=None, min_value=Decimal(0), max_value=Decimal(1)
    )
    # allow_null: an absent value keeps the stored one (a new grade starts verified), also in a form
    # body, where DRF would otherwise read an absent boolean as False.
    verified = serializers.BooleanField(required=False, allow_null=True)
    lms_last_updated_at = LmsDateTimeField(required=False, allow_null=True)


class UserGradeOutputSerializer(serializers.Serializer[UserGrade]):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    course_run = serializers.CharField(source="course_run.key")
    letter_grade = serializers.CharField()
    percent_grade = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=True)
    verified = serializers.BooleanField()
    lms_last_updated_at = LmsDateTimeField()
    created = LmsDateTimeField()
    modified = LmsDateTimeField()
