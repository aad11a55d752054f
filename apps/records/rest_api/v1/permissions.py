from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.core.api import is_privileged, request_user


class IsSelfOrPrivileged(BasePermission):
    """Learners read only their own records: naming another learner in `?username=` is a 403 unless
    the requester is staff or a service user."""

    message = "Learners may read only their own records."

    def has_permission(self, request: Request, view: APIView) -> bool:
        username = request.query_params.get("username")
        return bool(not username or username == request.user.username or is_privileged(request_user(request)))
