"""Thin views: validate the request with an input serializer, call one selector, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.badges import selectors
from apps.badges.data import BadgeStatus
from apps.core.api import IsSelfOrPrivileged, User, get_learner, request_user

from .serializers import (
    BadgeListInputSerializer,
    BadgeProgressInputSerializer,
    BadgeProgressOutputSerializer,
    LearnerBadgeOutputSerializer,
)


def _learner(request: Request, query: dict[str, Any]) -> User:
    # IsSelfOrPrivileged has already refused learners naming someone else.
    username = query.get("username")
    if username and username != request.user.username:
        return get_learner(username=username)
    return request_user(request)


class BadgeListView(APIView):
    """The learner's badges, awarded or revoked, newest first."""

    permission_classes = [IsAuthenticated, IsSelfOrPrivileged]

    @extend_schema(parameters=[BadgeListInputSerializer], responses=LearnerBadgeOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = BadgeListInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        status = query.validated_data.get("status")
        badges = selectors.list_learner_badges(
            user=_learner(request, query.validated_data),
            status=BadgeStatus(status) if status else None,
            template_uuid=query.validated_data.get("template"),
        )
        return Response(LearnerBadgeOutputSerializer(badges, many=True).data)


class BadgeProgressListView(APIView):
    """The learner's progress towards each badge template they have started, by template name."""

    permission_classes = [IsAuthenticated, IsSelfOrPrivileged]

    @extend_schema(parameters=[BadgeProgressInputSerializer], responses=BadgeProgressOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        query = BadgeProgressInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        progress = selectors.list_badge_progress(
            user=_learner(request, query.validated_data),
            template_uuid=query.validated_data.get("template"),
            in_progress=query.validated_data["in_progress"],
        )
        return Response(BadgeProgressOutputSerializer(progress, many=True).data)
