"""Who may call the LMS-compatible API: the LMS's service user and staff write and read everyone's;
learners read only their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from apps.core.api import is_privileged, request_user

if TYPE_CHECKING:
    from rest_framework.views import APIView


class IsPrivileged(BasePermission):
    """Staff and the configured service users (CREDENTIALS_SERVICE_USERNAMES) only."""

    message = "Only staff and the LMS's service user may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_privileged(request_user(request))


class ReadOwnOrPrivileged(BasePermission):
    """Learners may read (their own data: the view narrows what they see); only privileged users write."""

    message = "Only staff and the LMS's service user may change credentials."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or is_privileged(request_user(request))
