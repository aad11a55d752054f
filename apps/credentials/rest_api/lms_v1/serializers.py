"""Bodies of /api/credentials/v1/(bulk_)learner_cert_status/, as openedx/credentials takes and answers them."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.credentials.data import (
    CourseCertificateStatusData,
    LearnerCertStatusData,
    LearnerCertStatusQuery,
    LearnerGradeStatusData,
)
from apps.credentials.rest_api.v2.fields import LmsDateTimeField


class LearnerCertStatusInputSerializer(serializers.Serializer[Any]):
    """A learner (exactly one of `username` and `lms_user_id`) and what to report on: `courses` (course
    uuids) and/or `course_runs` (course run keys or uuids)."""

    username = serializers.CharField(max_length=150, required=False, allow_null=True)
    lms_user_id = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False, allow_null=True)
    courses = serializers.ListField(child=serializers.UUIDField(), required=False)
    course_runs = serializers.ListField(child=serializers.CharField(max_length=255), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The original answers both cases with an empty 400; say what is wrong.
        # null counts as absent, as in the original.
        if bool(attrs.get("username")) == (attrs.get("lms_user_id") is not None):
            raise serializers.ValidationError("Name the learner by exactly one of username and lms_user_id.")
        if not attrs.get("courses") and not attrs.get("course_runs"):
            raise serializers.ValidationError("Name at least one course (courses) or course run (course_runs).")
        return attrs


def to_query(data: dict[str, Any]) -> LearnerCertStatusQuery:
    """A validated `LearnerCertStatusInputSerializer` body as the selector's look-up."""
    return LearnerCertStatusQuery(
        username=data.get("username"),
        lms_user_id=data.get("lms_user_id"),
        course_uuids=frozenset(data.get("courses", ())),
        course_runs=frozenset(data.get("course_runs", ())),
    )


class GradeStatusOutputSerializer(serializers.Serializer[LearnerGradeStatusData]):
    letter_grade = serializers.CharField()
    # A JSON number (0.82), as the original's Decimal is rendered.
    percent_grade = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False)
    verified = serializers.BooleanField()


class CourseRunReferenceOutputSerializer(serializers.Serializer[CourseCertificateStatusData]):
    # null for a run the catalog knows no uuid of (the original writes "None").
    uuid = serializers.UUIDField(source="course_run_uuid", allow_null=True)
    key = serializers.CharField(source="course_run_key")


class CertificateStatusOutputSerializer(serializers.Serializer[CourseCertificateStatusData]):
    course_uuid = serializers.UUIDField()
    course_run = CourseRunReferenceOutputSerializer(source="*")
    status = serializers.CharField()
    type = serializers.CharField(source="mode")
    certificate_available_date = LmsDateTimeField(allow_null=True)
    grade = GradeStatusOutputSerializer(allow_null=True)


class LearnerCertStatusOutputSerializer(serializers.Serializer[LearnerCertStatusData]):
    lms_user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    status = CertificateStatusOutputSerializer(source="certificates", many=True)
