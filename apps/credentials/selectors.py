"""Reads: credentials and grades, scoped to who is asking. Query counts are pinned by tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import Q, QuerySet

from apps.core.api import User, is_privileged

from .data import CourseCertificateData, GradeData, ProgramCertificateStatusData
from .exceptions import CredentialsErrorCode, CredentialsNotFoundError
from .models import CourseCertificate, ProgramCertificate, UserCredential, UserGrade

# The public names of credential kinds, as the LMS's API spells them.
COURSE_RUN = "course-run"
PROGRAM = "program"
CREDENTIAL_KINDS = {COURSE_RUN: CourseCertificate, PROGRAM: ProgramCertificate}


def credential_kind(credential: UserCredential) -> str:
    """The public kind name of a credential ('course-run', 'program', or the model's name)."""
    model = credential.credential_content_type.model_class()
    for name, kind_model in CREDENTIAL_KINDS.items():
        if model is kind_model:
            return name
    return credential.credential_content_type.model


def _with_related(queryset: QuerySet[UserCredential]) -> QuerySet[UserCredential]:
    # One query per credential kind for the configurations, each with what the API shows of it.
    return queryset.select_related("user", "credential_content_type").prefetch_related(
        GenericPrefetch(
            "credential",
            [
                CourseCertificate.objects.select_related("course_run__course"),
                ProgramCertificate.objects.select_related("program"),
            ],
        )
    )


def list_credentials(
    *,
    requester: User,
    username: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    program_uuid: uuid.UUID | None = None,
    course_run_key: str | None = None,
) -> QuerySet[UserCredential]:
    """Credentials the requester may see, filtered. Learners see only their own; staff and service
    users see everyone's. Three queries for a page whatever its size."""
    credentials = UserCredential.objects.all()
    if not is_privileged(requester):
        credentials = credentials.filter(user=requester)
    if username:
        credentials = credentials.filter(user__username=username)
    if status:
        credentials = credentials.filter(status=status)
    if kind:
        model = CREDENTIAL_KINDS.get(kind)
        credentials = (
            credentials.filter(credential_content_type=ContentType.objects.get_for_model(model))
            if model
            else credentials.none()
        )
    if program_uuid:
        credentials = credentials.filter(
            credential_content_type=ContentType.objects.get_for_model(ProgramCertificate),
            credential_id__in=ProgramCertificate.objects.filter(program__uuid=program_uuid).values("pk"),
        )
    if course_run_key:
        credentials = credentials.filter(
            credential_content_type=ContentType.objects.get_for_model(CourseCertificate),
            credential_id__in=CourseCertificate.objects.filter(course_run__key=course_run_key).values("pk"),
        )
    return _with_related(credentials).order_by("-created", "-pk")


def get_credential(*, requester: User, credential_uuid: uuid.UUID) -> UserCredential:
    """One credential the requester may see; someone else's is as absent as a missing one (404)."""
    try:
        return list_credentials(requester=requester).get(uuid=credential_uuid)
    except UserCredential.DoesNotExist:
        raise CredentialsNotFoundError(
            f"No credential {credential_uuid}.", code=CredentialsErrorCode.CREDENTIAL_NOT_FOUND
        ) from None


def list_course_grades(*, user: User, course_run_ids: Iterable[int]) -> list[GradeData]:
    """The learner's grades in these runs, in one query."""
    return [
        GradeData(
            course_run_id=g.course_run_id,
            letter_grade=g.letter_grade,
            percent_grade=g.percent_grade,
            passed=g.passed,
            passed_timestamp=g.passed_timestamp,
            modified=g.modified,
        )
        for g in UserGrade.objects.filter(user=user, course_run_id__in=list(course_run_ids))
    ]


def list_course_certificates(*, user: User, course_run_ids: Iterable[int]) -> list[CourseCertificateData]:
    """The learner's course certificates (any status) in these runs, in one query."""
    configurations = {
        c.pk: c
        for c in CourseCertificate.objects.filter(course_run_id__in=list(course_run_ids)).only(
            "pk", "course_run_id", "certificate_type"
        )
    }
    if not configurations:
        return []
    credentials = UserCredential.objects.filter(
        user=user,
        credential_content_type=ContentType.objects.get_for_model(CourseCertificate),
        credential_id__in=list(configurations),
    )
    return [
        CourseCertificateData(
            uuid=c.uuid,
            course_run_id=configurations[c.credential_id].course_run_id,
            mode=configurations[c.credential_id].certificate_type,
            status=c.status,
            download_url=c.download_url,
            visible_date=c.visible_date,
            awarded_at=c.awarded_at,
        )
        for c in credentials
    ]


def get_program_certificate_status(*, user: User, program_id: int) -> ProgramCertificateStatusData | None:
    """The learner's program certificate, or None when they never had one."""
    credential = UserCredential.objects.filter(
        Q(credential_content_type=ContentType.objects.get_for_model(ProgramCertificate)),
        Q(credential_id__in=ProgramCertificate.objects.filter(program_id=program_id).values("pk")),
        user=user,
    ).first()
    if credential is None:
        return None
    return ProgramCertificateStatusData(
        uuid=credential.uuid,
        status=credential.status,
        visible_date=credential.visible_date,
        awarded_at=credential.awarded_at,
    )


def list_learner_course_run_ids(*, user: User) -> list[int]:
    """Course runs the learner has a grade or a course certificate in, in one query each."""
    graded = set(UserGrade.objects.filter(user=user).values_list("course_run_id", flat=True))
    certified = set(
        CourseCertificate.objects.filter(
            pk__in=UserCredential.objects.filter(
                user=user, credential_content_type=ContentType.objects.get_for_model(CourseCertificate)
            ).values("credential_id")
        ).values_list("course_run_id", flat=True)
    )
    return sorted(graded | certified)
