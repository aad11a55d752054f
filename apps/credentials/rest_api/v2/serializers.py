"""Bodies of /api/v2/credentials/ as openedx/credentials reads and writes them (field names, nesting,
time format), so the LMS's calls and its reading of the answers work unchanged."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.credentials import services
from apps.credentials.models import CourseCertificate, CredentialStatus, ProgramCertificate, UserCredential
from apps.credentials.selectors import COURSE_RUN, PROGRAM

from .fields import LmsDateTimeField


class V2CredentialListInputSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(required=False, max_length=255)
    status = serializers.ChoiceField(required=False, choices=CredentialStatus.choices)
    # "program" or "course-run"; any other value filters nothing, as the original's filter does.
    type = serializers.CharField(required=False, max_length=32)
    program_uuid = serializers.UUIDField(required=False)
    only_visible = serializers.BooleanField(required=False, default=False)
    page = serializers.IntegerField(required=False, min_value=1)


class V2AttributeSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=255)
    value = serializers.CharField(max_length=255, allow_blank=True)


class V2DateOverrideSerializer(serializers.Serializer[Any]):
    date = LmsDateTimeField()


class V2CredentialInputSerializer(serializers.Serializer[Any]):
    """What names the credential: a program, or a course run in a mode. The LMS also sends `type`."""

    type = serializers.CharField(required=False, max_length=32)
    program_uuid = serializers.UUIDField(required=False)
    course_run_key = serializers.CharField(required=False, max_length=255)
    mode = serializers.CharField(required=False, max_length=32)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "program_uuid" not in attrs and "course_run_key" not in attrs:
            raise serializers.ValidationError("Credential identifier is missing: send program_uuid or course_run_key.")
        if "program_uuid" not in attrs and not attrs.get("mode"):
            raise serializers.ValidationError({"mode": "A course run's certificate needs its mode, e.g. verified."})
        return attrs


class V2UserCredentialCreateSerializer(serializers.Serializer[Any]):
    """POST /api/v2/credentials/ as the LMS sends it (programs/tasks.py): username and credential
    required; status (default awarded), attributes, date_override and lms_user_id optional."""

    username = serializers.CharField(max_length=150)
    lms_user_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    credential = V2CredentialInputSerializer()
    status = serializers.ChoiceField(choices=CredentialStatus.choices, default=CredentialStatus.AWARDED)
    attributes = V2AttributeSerializer(many=True, required=False, default=list)
    date_override = V2DateOverrideSerializer(required=False, allow_null=True, default=None)

    def validate_attributes(self, value: list[dict[str, str]]) -> list[dict[str, str]]:
        names = [attribute["name"] for attribute in value]
        if len(names) != len(set(names)):
            raise serializers.ValidationError("Attribute names cannot be duplicated.")
        return value


class V2UserCredentialUpdateSerializer(serializers.Serializer[Any]):
    """PATCH /api/v2/credentials/<uuid>/: the status only, as the original documents."""

    status = serializers.ChoiceField(choices=CredentialStatus.choices)


class V2CredentialPointerSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    credential_id = serializers.IntegerField()
    program_uuid = serializers.UUIDField(required=False)
    course_run_key = serializers.CharField(required=False)
    mode = serializers.CharField(required=False)


class V2UserCredentialSerializer(serializers.ModelSerializer[UserCredential]):
    """A credential as the original answers it, field for field and in its order."""

    username = serializers.CharField(source="user.username")
    credential = serializers.SerializerMethodField()
    attributes = serializers.SerializerMethodField()
    date_override = serializers.SerializerMethodField()
    created = LmsDateTimeField()
    modified = LmsDateTimeField()
    certificate_url = serializers.SerializerMethodField()

    class Meta:
        model = UserCredential
        fields = [
            "username",
            "credential",
            "status",
            "uuid",
            "attributes",
            "date_override",
            "created",
            "modified",
            "certificate_url",
        ]

    @extend_schema_field(V2CredentialPointerSerializer)
    def get_credential(self, obj: UserCredential) -> dict[str, Any]:
        configuration = obj.credential
        if isinstance(configuration, ProgramCertificate):
            return {"type": PROGRAM, "credential_id": configuration.pk, "program_uuid": str(configuration.program.uuid)}
        assert isinstance(configuration, CourseCertificate)  # the selectors list only these two kinds
        return {
            "type": COURSE_RUN,
            "credential_id": configuration.pk,
            "course_run_key": configuration.course_run.key,
            "mode": configuration.certificate_type,
        }

    @extend_schema_field(V2AttributeSerializer(many=True))
    def get_attributes(self, obj: UserCredential) -> list[dict[str, str]]:
        # .all(): the prefetched rows, in the model's order (by name).
        return [{"name": attribute.name, "value": attribute.value} for attribute in obj.attributes.all()]

    @extend_schema_field(V2DateOverrideSerializer(allow_null=True))
    def get_date_override(self, obj: UserCredential) -> dict[str, Any] | None:
        if obj.date_override is None:
            return None
        return {"date": LmsDateTimeField().to_representation(obj.date_override)}

    def get_certificate_url(self, obj: UserCredential) -> str:
        return services.certificate_url(credential_uuid=obj.uuid)
