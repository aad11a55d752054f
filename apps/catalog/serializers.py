"""Input validation for catalog files in the shape of course-discovery's /api/v1/programs/."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import PacingType, ProgramStatus, validate_course_run_key


class OrganizationInputSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField()
    key = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=255)
    certificate_logo_image_url = serializers.URLField(max_length=500, required=False, allow_blank=True, allow_null=True)


class CourseRunInputSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField(required=False, allow_null=True)
    key = serializers.CharField(max_length=255, validators=[validate_course_run_key])
    title = serializers.CharField(max_length=255, required=False, allow_blank=True)
    start = serializers.DateTimeField(required=False, allow_null=True)
    end = serializers.DateTimeField(required=False, allow_null=True)
    pacing_type = serializers.ChoiceField(choices=PacingType.choices, required=False, allow_null=True)
    certificate_available_date = serializers.DateTimeField(required=False, allow_null=True)


class CourseInputSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField()
    key = serializers.CharField(max_length=255)
    title = serializers.CharField(max_length=255)
    owners = OrganizationInputSerializer(many=True, required=False)
    course_runs = CourseRunInputSerializer(many=True, required=False)


class ProgramTypeAttrsSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField(max_length=64)


class ProgramInputSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField()
    title = serializers.CharField(max_length=255)
    type = serializers.CharField(max_length=64)
    type_attrs = ProgramTypeAttrsSerializer(required=False)
    status = serializers.ChoiceField(choices=ProgramStatus.choices, required=False)
    authoring_organizations = OrganizationInputSerializer(many=True, required=False)
    courses = CourseInputSerializer(many=True)
