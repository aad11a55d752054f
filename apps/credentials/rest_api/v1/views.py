from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api import is_privileged, request_user
from apps.credentials import selectors
from apps.credentials.models import UserCredential

from .serializers import CredentialListInputSerializer, UserCredentialOutputSerializer


class UserCredentialListView(GenericAPIView[UserCredential]):
    """Learners' credentials. Learners see only their own; staff and service users see everyone's."""

    permission_classes = [IsAuthenticated]
    serializer_class = UserCredentialOutputSerializer
    filter_backends: list[type] = []

    @extend_schema(parameters=[CredentialListInputSerializer], responses=UserCredentialOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = CredentialListInputSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        username = filters.validated_data.get("username")
        requester = request_user(request)
        if username and username != requester.username and not is_privileged(requester):
            raise PermissionDenied("Learners may list only their own credentials.")
        credentials = selectors.list_credentials(
            requester=requester,
            username=username,
            status=filters.validated_data.get("status"),
            kind=filters.validated_data.get("type"),
            program_uuid=filters.validated_data.get("program_uuid"),
            course_run_key=filters.validated_data.get("course_run_key"),
        )
        page = self.paginate_queryset(credentials)
        return self.get_paginated_response(UserCredentialOutputSerializer(page, many=True).data)


class UserCredentialDetailView(GenericAPIView[UserCredential]):
    """One credential; another learner's credential is a 404, as if it did not exist."""

    permission_classes = [IsAuthenticated]
    serializer_class = UserCredentialOutputSerializer

    def get(self, request: Request, credential_uuid: uuid.UUID) -> Response:
        credential = selectors.get_credential(requester=request_user(request), credential_uuid=credential_uuid)
        return Response(UserCredentialOutputSerializer(credential).data)
