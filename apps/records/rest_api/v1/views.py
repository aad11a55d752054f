"""Thin views: validate the request with an input serializer, call one selector or service, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from apps.core.api import IsSelfOrPrivileged, User, get_learner, request_user
from apps.records import selectors, services

from .serializers import (
    LearnerQueryInputSerializer,
    ProgramRecordOutputSerializer,
    ProgramRecordShareOutputSerializer,
    ProgramRecordSummaryOutputSerializer,
    ProgramUuidInputSerializer,
    ShareUuidInputSerializer,
)

PROGRAM_UUID = OpenApiParameter("program_uuid", OpenApiTypes.UUID, OpenApiParameter.PATH)
SHARE_UUID = OpenApiParameter("share_uuid", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _validated(serializer_class: type[Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _learner(request: Request) -> User:
    # IsSelfOrPrivileged has already refused learners naming someone else.
    username = _validated(LearnerQueryInputSerializer, request.query_params).get("username")
    if username and username != request.user.username:
        return get_learner(username=username)
    return request_user(request)


class ProgramRecordListView(APIView):
    """Summaries of the learner's program records: every program holding a course they have a grade
    or certificate in."""

    permission_classes = [IsAuthenticated, IsSelfOrPrivileged]

    @extend_schema(parameters=[LearnerQueryInputSerializer], responses=ProgramRecordSummaryOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        records = selectors.list_program_records(user=_learner(request))
        return Response(ProgramRecordSummaryOutputSerializer(records, many=True).data)


class ProgramRecordDetailView(APIView):
    """The learner's record in one program: best grade and certificate per course, and completion."""

    permission_classes = [IsAuthenticated, IsSelfOrPrivileged]

    @extend_schema(parameters=[PROGRAM_UUID, LearnerQueryInputSerializer], responses=ProgramRecordOutputSerializer)
    def get(self, request: Request, program_uuid: str) -> Response:
        path = _validated(ProgramUuidInputSerializer, {"program_uuid": program_uuid})
        record = selectors.get_program_record(user=_learner(request), program_uuid=path["program_uuid"])
        return Response(ProgramRecordOutputSerializer(record).data)


class ProgramRecordShareCreateView(APIView):
    """Create the requester's public link to their record in the program, or return the active one."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        parameters=[PROGRAM_UUID],
        responses={201: ProgramRecordShareOutputSerializer, 200: ProgramRecordShareOutputSerializer},
    )
    def post(self, request: Request, program_uuid: str) -> Response:
        path = _validated(ProgramUuidInputSerializer, {"program_uuid": program_uuid})
        share, created = services.create_program_record_share(
            user=request_user(request), program_uuid=path["program_uuid"]
        )
        return Response(
            ProgramRecordShareOutputSerializer(share, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ProgramRecordShareRevokeView(APIView):
    """Revoke one of the requester's links; anyone else's link is a 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, parameters=[SHARE_UUID], responses={204: None})
    def delete(self, request: Request, share_uuid: str) -> Response:
        path = _validated(ShareUuidInputSerializer, {"share_uuid": share_uuid})
        services.revoke_program_record_share(user=request_user(request), share_uuid=path["share_uuid"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class SharedProgramRecordDetailView(APIView):
    """The record behind a public share link, for anyone holding it; revoked or unknown links are 404s."""

    # The link is the credential: no login, and a stale session or token must not turn it into a 401.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(auth=[], parameters=[SHARE_UUID], responses=ProgramRecordOutputSerializer)
    def get(self, request: Request, share_uuid: str) -> Response:
        path = _validated(ShareUuidInputSerializer, {"share_uuid": share_uuid})
        record = selectors.get_shared_program_record(share_uuid=path["share_uuid"])
        response = Response(ProgramRecordOutputSerializer(record).data)
        response["Cache-Control"] = "no-store"
        return response
