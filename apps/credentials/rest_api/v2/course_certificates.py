"""/api/v2/course_certificates/: the LMS's certificate configuration of a course run, with the date its
certificates become available, as openedx/credentials takes and shows it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog.api import CatalogError, CatalogNotFoundError
from apps.credentials import selectors, services

from .course_certificate_serializers import (
    CourseCertificateConfigurationInputSerializer,
    CourseCertificateConfigurationOutputSerializer,
    CourseCertificateConfigurationQuerySerializer,
)
from .permissions import IsPrivileged


class CourseCertificateView(APIView):
    """Create or update the run's configuration in a mode and store the run's certificate available
    date; 201 either way, as the original (the LMS treats anything else as a failure)."""

    permission_classes = [IsAuthenticated, IsPrivileged]

    @extend_schema(
        request=CourseCertificateConfigurationInputSerializer,
        responses={201: CourseCertificateConfigurationOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        body = CourseCertificateConfigurationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        course_id = data["course_id"]
        try:
            configuration = services.record_course_certificate_availability(
                course_run_key=course_id,
                mode=data["certificate_type"],
                is_active=data["is_active"],
                certificate_available_date=data["certificate_available_date"],
            )
        except CatalogNotFoundError:
            # The original keeps a configuration without a run; ours hangs on the run, which needs its course.
            raise ValidationError(
                {"course_id": [f"Unknown course run {course_id}: its course is not in this service's catalog."]}
            ) from None
        except CatalogError as exc:
            raise ValidationError({"course_id": [exc.message]}) from None
        return Response(
            CourseCertificateConfigurationOutputSerializer(configuration).data, status=status.HTTP_201_CREATED
        )


class CourseCertificateDetailView(APIView):
    """The run's configuration; `?certificate_type=` picks one when the run has several modes."""

    permission_classes = [IsAuthenticated, IsPrivileged]

    @extend_schema(
        parameters=[CourseCertificateConfigurationQuerySerializer],
        responses=CourseCertificateConfigurationOutputSerializer,
    )
    def get(self, request: Request, course_id: str) -> Response:
        query = CourseCertificateConfigurationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        configurations = selectors.list_course_certificate_configurations(
            course_run_key=course_id, mode=query.validated_data.get("certificate_type")
        )
        if not configurations:
            raise NotFound(f"No certificate configuration for {course_id}.")
        if len(configurations) > 1:
            modes = ", ".join(configuration.mode for configuration in configurations)
            raise ValidationError(
                {"certificate_type": [f"{course_id} has certificates in several modes ({modes}): name one."]}
            )
        return Response(CourseCertificateConfigurationOutputSerializer(configurations[0]).data)
