"""The learner certificate status look-ups the LMS (and its workers) make as the service user."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.credentials import selectors
from apps.credentials.rest_api.v2.permissions import IsPrivileged

from .serializers import LearnerCertStatusInputSerializer, LearnerCertStatusOutputSerializer, to_query


class LearnerCertStatusView(APIView):
    """One learner's course certificates (awarded or revoked) in the courses and runs asked about, each
    with their grade. An unknown learner gets 200 with an empty `status`."""

    permission_classes = [IsAuthenticated, IsPrivileged]

    @extend_schema(request=LearnerCertStatusInputSerializer, responses=LearnerCertStatusOutputSerializer)
    def post(self, request: Request) -> Response:
        body = LearnerCertStatusInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        [answer] = selectors.list_learner_cert_statuses(queries=[to_query(body.validated_data)])
        return Response(LearnerCertStatusOutputSerializer(answer).data)


class BulkLearnerCertStatusView(APIView):
    """A list of such look-ups, answered in order, in a fixed number of queries whatever their number."""

    permission_classes = [IsAuthenticated, IsPrivileged]

    @extend_schema(
        request=LearnerCertStatusInputSerializer(many=True), responses=LearnerCertStatusOutputSerializer(many=True)
    )
    def post(self, request: Request) -> Response:
        body = LearnerCertStatusInputSerializer(data=request.data, many=True)
        body.is_valid(raise_exception=True)
        answers = selectors.list_learner_cert_statuses(queries=[to_query(item) for item in body.validated_data])
        return Response([LearnerCertStatusOutputSerializer(answer).data for answer in answers])
