"""Bodies of /api/v2/course_certificates/, as the LMS posts them and openedx/credentials answers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.credentials.data import CourseCertificateConfigurationData
from apps.credentials.models import CertificateMode

from .fields import LmsDateTimeField


class CertificateAvailableDateField(LmsDateTimeField):
    """Also reads the literal "None" as null: the LMS sends str(course_overview.end), which is "None"
    for a run without an end."""

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        return super().validate_empty_values(None if data == "None" else data)


class CourseCertificateConfigurationInputSerializer(serializers.Serializer[Any]):
    """The LMS's post_course_certificate_configuration. Every field is required: it always sends all
    four, and an absent date is not the same as no date."""

    course_id = serializers.CharField(max_length=255)
    certificate_type = serializers.ChoiceField(choices=CertificateMode.choices)
    certificate_available_date = CertificateAvailableDateField(allow_null=True)
    is_active = serializers.BooleanField()


class CourseCertificateConfigurationQuerySerializer(serializers.Serializer[Any]):
    certificate_type = serializers.ChoiceField(choices=CertificateMode.choices, required=False)


class CourseCertificateConfigurationOutputSerializer(serializers.Serializer[CourseCertificateConfigurationData]):
    id = serializers.IntegerField()
    course_id = serializers.CharField(source="course_run_key")
    # The original's course_run is null for a run outside its catalog; here every configuration has one.
    course_run = serializers.CharField(source="course_run_key")
    certificate_type = serializers.CharField(source="mode")
    certificate_available_date = LmsDateTimeField(allow_null=True)
    is_active = serializers.BooleanField()
