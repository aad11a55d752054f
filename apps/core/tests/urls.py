"""A test-only URLconf: one authenticated endpoint that reports who the request resolved to."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class WhoAmIView(APIView):
    """Uses the project's default authentication and permission classes (IsAuthenticated)."""

    def get(self, request: Request) -> Response:
        user = request.user
        return Response(
            {"pk": user.pk, "username": user.username, "lms_user_id": user.lms_user_id, "is_staff": user.is_staff}
        )


urlpatterns = [path("whoami/", WhoAmIView.as_view(), name="whoami")]
