from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.credentials.models import CourseCertificate, CredentialStatus, ProgramCertificate, UserCredential
from apps.credentials.selectors import CREDENTIAL_KINDS, credential_kind


class CredentialListInputSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(required=False, max_length=150)
    status = serializers.ChoiceField(required=False, choices=CredentialStatus.choices)
    type = serializers.ChoiceField(required=False, choices=sorted(CREDENTIAL_KINDS))
    program_uuid = serializers.UUIDField(required=False)
    course_run_key = serializers.CharField(required=False, max_length=255)


class CredentialPointerSerializer(serializers.Serializer[dict[str, Any]]):
    """What the credential is: a course run certificate in a mode, or a program certificate."""

    type = serializers.CharField()
    title = serializers.CharField()
    course_run_key = serializers.CharField(required=False)
    mode = serializers.CharField(required=False)
    program_uuid = serializers.UUIDField(required=False)


class UserCredentialOutputSerializer(serializers.ModelSerializer[UserCredential]):
    username = serializers.CharField(source="user.username")
    credential = serializers.SerializerMethodField()

    class Meta:
        model = UserCredential
        fields = [
            "uuid",
            "username",
            "status",
            "credential",
            "download_url",
            "visible_date",
            "awarded_at",
            "revoked_at",
            "created",
            "modified",
        ]

    @extend_schema_field(CredentialPointerSerializer)
    def get_credential(self, obj: UserCredential) -> dict[str, Any]:
        configuration = obj.credential
        kind = credential_kind(obj)
        if isinstance(configuration, CourseCertificate):
            return {
                "type": kind,
                "title": configuration.title or configuration.course_run.display_title,
                "course_run_key": configuration.course_run.key,
                "mode": configuration.certificate_type,
            }
        if isinstance(configuration, ProgramCertificate):
            return {
                "type": kind,
                "title": configuration.title_override or configuration.program.title,
                "program_uuid": configuration.program.uuid,
            }
        return {"type": kind, "title": str(configuration)}
