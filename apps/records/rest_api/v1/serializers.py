"""Input serializers validate what a request names; output serializers describe the records' JSON.

Output never has an email address or an LMS user id: the same shape is served on public share links.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.urls import reverse
from rest_framework import serializers

from apps.catalog.data import OrganizationData
from apps.records.data import (
    CourseCertificateRecordData,
    CourseRecordData,
    GradeRecordData,
    LearnerData,
    ProgramInfoData,
    ProgramRecordData,
    RecordCertificateStatus,
)
from apps.records.models import ProgramRecordShare

# Plain strings rather than ChoiceFields: credentials' `status` enum (awarded/revoked) would collide
# with this one in the schema's enum components; settings' ENUM_NAME_OVERRIDES is not ours to edit.
_STATUS_HELP = "One of: " + ", ".join(status.value for status in RecordCertificateStatus) + "."


# --- input ---------------------------------------------------------------------------------------


class LearnerQueryInputSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(
        required=False,
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Whose records; staff and service users only. Defaults to the requester.",
    )


class ProgramUuidInputSerializer(serializers.Serializer[Any]):
    program_uuid = serializers.UUIDField()


class ShareUuidInputSerializer(serializers.Serializer[Any]):
    share_uuid = serializers.UUIDField()


# --- output --------------------------------------------------------------------------------------


class OrganizationOutputSerializer(serializers.Serializer[OrganizationData]):
    key = serializers.CharField()
    name = serializers.CharField()


class ProgramInfoOutputSerializer(serializers.Serializer[ProgramInfoData]):
    uuid = serializers.UUIDField()
    title = serializers.CharField()
    type = serializers.CharField()
    organizations = OrganizationOutputSerializer(many=True)


class LearnerOutputSerializer(serializers.Serializer[LearnerData]):
    username = serializers.CharField()
    full_name = serializers.CharField()


class GradeOutputSerializer(serializers.Serializer[GradeRecordData]):
    course_run_key = serializers.CharField(help_text="The run the best grade was earned in.")
    letter_grade = serializers.CharField()
    percent_grade = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False, help_text="0 to 1."
    )
    passed = serializers.BooleanField()


class CourseCertificateOutputSerializer(serializers.Serializer[CourseCertificateRecordData]):
    status = serializers.CharField(help_text=_STATUS_HELP)
    mode = serializers.CharField(allow_null=True)
    course_run_key = serializers.CharField(allow_null=True)
    visible_date = serializers.DateTimeField(allow_null=True)
    issued_date = serializers.DateTimeField(allow_null=True)


class CourseRecordOutputSerializer(serializers.Serializer[CourseRecordData]):
    course_key = serializers.CharField()
    title = serializers.CharField()
    best_grade = GradeOutputSerializer(allow_null=True, help_text="The highest grade across the course's runs.")
    certificate = CourseCertificateOutputSerializer()
    completed = serializers.BooleanField(help_text="True once a course certificate is awarded in any run.")


class ProgramRecordOutputSerializer(serializers.Serializer[ProgramRecordData]):
    program = ProgramInfoOutputSerializer()
    learner = LearnerOutputSerializer()
    courses = CourseRecordOutputSerializer(many=True)
    completed_courses = serializers.IntegerField()
    total_courses = serializers.IntegerField()
    completion_percent = serializers.FloatField(help_text="Completed courses over courses, 0 to 100.")
    certificate_status = serializers.CharField(help_text=f"The program certificate's status. {_STATUS_HELP}")
    certificate_issued_date = serializers.DateTimeField(allow_null=True)
    last_updated = serializers.DateTimeField(allow_null=True)


# Any, not ProgramRecordSummaryData: it renders lists (many=True), and the stubs type a plain
# Serializer's instance as one object.
class ProgramRecordSummaryOutputSerializer(serializers.Serializer[Any]):
    uuid = serializers.UUIDField()
    title = serializers.CharField()
    type = serializers.CharField()
    completed_courses = serializers.IntegerField()
    total_courses = serializers.IntegerField()
    completion_percent = serializers.FloatField()
    certificate_status = serializers.CharField(help_text=_STATUS_HELP)
    last_updated = serializers.DateTimeField(allow_null=True)


class ProgramRecordShareOutputSerializer(serializers.Serializer[ProgramRecordShare]):
    uuid = serializers.UUIDField()
    url = serializers.SerializerMethodField()
    created = serializers.DateTimeField()

    def get_url(self, share: ProgramRecordShare) -> str:
        """The public page anyone with the link may open."""
        request: Any = self.context["request"]
        return str(request.build_absolute_uri(reverse("records-shared-page", kwargs={"share_uuid": share.uuid})))
