"""/api/v2/credentials/ as the LMS calls it: list with its filters and pages, create-or-update by
POST (201 every time, as the original), read, PATCH the status, DELETE to revoke."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from apps.catalog.api import CatalogNotFoundError
from apps.core.api import LearnerIdentity, LearnerIdentityError, is_privileged, request_user
from apps.credentials import selectors, services
from apps.credentials.data import CredentialAttributeData
from apps.credentials.exceptions import CredentialsError, CredentialsErrorCode
from apps.credentials.models import CredentialStatus, UserCredential

from .permissions import ReadOwnOrPrivileged
from .serializers import (
    V2CredentialListInputSerializer,
    V2UserCredentialCreateSerializer,
    V2UserCredentialSerializer,
    V2UserCredentialUpdateSerializer,
)


class CredentialListView(GenericAPIView[UserCredential]):
    """Learners list their own credentials (naming themselves or no one); staff and the LMS's service
    user list anyone's and award or revoke."""

    permission_classes = [ReadOwnOrPrivileged]
    serializer_class = V2UserCredentialSerializer
    filter_backends: list[type] = []

    @extend_schema(parameters=[V2CredentialListInputSerializer], responses=V2UserCredentialSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = V2CredentialListInputSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        requester = request_user(request)
        username = filters.validated_data.get("username")
        if username and username.lower() != (requester.username or "").lower() and not is_privileged(requester):
            raise PermissionDenied("Learners may list only their own credentials.")
        credentials = selectors.list_lms_credentials(
            requester=requester,
            username=username,
            status=filters.validated_data.get("status"),
            kind=filters.validated_data.get("type"),
            program_uuid=filters.validated_data.get("program_uuid"),
            only_visible=filters.validated_data["only_visible"],
        )
        page = self.paginate_queryset(credentials)
        return self.get_paginated_response(V2UserCredentialSerializer(page, many=True).data)

    @extend_schema(request=V2UserCredentialCreateSerializer, responses={201: V2UserCredentialSerializer})
    def post(self, request: Request) -> Response:
        body = V2UserCredentialCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        credential = data["credential"]
        with _as_field_errors():
            result = services.record_lms_credential(
                learner=LearnerIdentity(lms_user_id=data.get("lms_user_id"), username=data["username"]),
                awarded=data["status"] == CredentialStatus.AWARDED,
                course_run_key=credential.get("course_run_key", ""),
                mode=credential.get("mode", ""),
                program_uuid=credential.get("program_uuid"),
                attributes=[CredentialAttributeData(name=a["name"], value=a["value"]) for a in data["attributes"]],
                date_override=(data["date_override"] or {}).get("date"),
            )
        return Response(V2UserCredentialSerializer(result).data, status=status.HTTP_201_CREATED)


class CredentialDetailView(GenericAPIView[UserCredential]):
    """One credential: its owner or a privileged user reads it (another learner's is a 404); privileged
    users PATCH (or PUT) its status, and DELETE revokes it (nothing is ever deleted)."""

    permission_classes = [ReadOwnOrPrivileged]
    serializer_class = V2UserCredentialSerializer

    def get(self, request: Request, credential_uuid: uuid.UUID) -> Response:
        credential = selectors.get_lms_credential(requester=request_user(request), credential_uuid=credential_uuid)
        return Response(V2UserCredentialSerializer(credential).data)

    @extend_schema(request=V2UserCredentialUpdateSerializer, responses=V2UserCredentialSerializer)
    def patch(self, request: Request, credential_uuid: uuid.UUID) -> Response:
        body = V2UserCredentialUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._change(request, credential_uuid, awarded=body.validated_data["status"] == CredentialStatus.AWARDED)

    @extend_schema(request=V2UserCredentialUpdateSerializer, responses=V2UserCredentialSerializer)
    def put(self, request: Request, credential_uuid: uuid.UUID) -> Response:
        return self.patch(request, credential_uuid)

    @extend_schema(request=None, responses=V2UserCredentialSerializer)
    def delete(self, request: Request, credential_uuid: uuid.UUID) -> Response:
        return self._change(request, credential_uuid, awarded=False)

    def _change(self, request: Request, credential_uuid: uuid.UUID, *, awarded: bool) -> Response:
        # Only course and program certificates: the same 404 as a read for anything else.
        selectors.get_lms_credential(requester=request_user(request), credential_uuid=credential_uuid)
        with _as_field_errors():
            services.change_lms_credential_status(credential_uuid=credential_uuid, awarded=awarded)
        credential = selectors.get_lms_credential(requester=request_user(request), credential_uuid=credential_uuid)
        return Response(V2UserCredentialSerializer(credential).data)


@contextmanager
def _as_field_errors() -> Iterator[None]:
    """Domain errors about what the body names become 400s nested as the original nests them:
    {"credential": {"program_uuid": [...]}}, {"username": [...]} or {"status": [...]}."""
    try:
        yield
    except LearnerIdentityError as error:
        raise serializers.ValidationError({error.field or "username": [error.message]}) from error
    except CredentialsError as error:
        if error.field in ("program_uuid", "course_run_key", "mode"):
            raise serializers.ValidationError({"credential": {error.field: [error.message]}}) from error
        if error.code is CredentialsErrorCode.NO_LMS_USER_ID:
            raise serializers.ValidationError({"lms_user_id": [error.message]}) from error
        raise serializers.ValidationError({error.field or "non_field_errors": [error.message]}) from error
    except CatalogNotFoundError as error:
        # Only a course run can be missing here: a program's is a CredentialsError.
        raise serializers.ValidationError({"credential": {"course_run_key": [error.message]}}) from error
