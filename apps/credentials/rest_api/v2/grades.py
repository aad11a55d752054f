"""POST /api/v2/grades/: the LMS's learner grades, recorded as openedx/credentials records them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog.api import CatalogNotFoundError
from apps.core.api import LearnerIdentity
from apps.credentials import services
from apps.credentials.data import GradeUpdate

from .grade_serializers import UserGradeInputSerializer, UserGradeOutputSerializer
from .permissions import IsPrivileged


class GradeView(APIView):
    """Create or update a learner's grade in a course run; 201 either way, as the original. A learner
    never seen before is created (the original takes any username); an unknown course run is a 400. A
    grade older than the stored one (by `lms_last_updated_at`) changes nothing."""

    permission_classes = [IsAuthenticated, IsPrivileged]
    # The LMS posts a form (requests' data=), whatever the project's default parsers become.
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=UserGradeInputSerializer, responses={201: UserGradeOutputSerializer})
    def post(self, request: Request) -> Response:
        body = UserGradeInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        update = GradeUpdate(
            learner=LearnerIdentity(username=data["username"]),
            course_run_key=data["course_run"],
            percent_grade=data["percent_grade"],
            passed=None,
            # Absent keeps the stored letter; null clears it, as the original stores None as "".
            letter_grade=(data["letter_grade"] or "") if "letter_grade" in data else None,
            lms_last_updated_at=data.get("lms_last_updated_at"),
            verified=data.get("verified"),
        )
        try:
            [grade] = services.record_grades(updates=[update])
        except CatalogNotFoundError:
            # The original's words, which the LMS logs.
            raise ValidationError({"course_run": [f"No CourseRun exists for key [{data['course_run']}]"]}) from None
        return Response(UserGradeOutputSerializer(grade).data, status=status.HTTP_201_CREATED)
