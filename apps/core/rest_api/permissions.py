from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from ..api import is_privileged, request_user


class IsPrivileged(BasePermission):
    """Staff and configured service users only."""

    message = "Only staff and service users may do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and is_privileged(request_user(request)))


class IsOwnerOrPrivileged(BasePermission):
    """Learners reach only objects whose `user_id` is theirs; staff and service users reach all.

    Views also scope their querysets to the requester, so this is the second line, not the first.
    """

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        user = request_user(request)
        return bool(is_privileged(user) or getattr(obj, "user_id", None) == user.pk)
