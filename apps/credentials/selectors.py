"""Reads: credentials and grades, scoped to who is asking. Query counts are pinned by tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import CharField, F, Model, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf, Trim

from apps.core.api import User, is_privileged

from .data import (
    CourseCertificateData,
    GradeData,
    LearnerNameData,
    ProgramCertificateStatusData,
    UserCredentialData,
)
from .exceptions import CredentialsErrorCode, CredentialsNotFoundError
from .models import (
    CourseCertificate,
    CredentialStatus,
    ProgramCertificate,
    ProgramTypeConfiguration,
    UserCredential,
    UserGrade,
)

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


def get_program_certificate_status(*, user: User, program_id: int) -> ProgramCertificateStatusData | None:
    """The learner's program certificate, or None when they never had one."""
    return list_program_certificate_statuses(user=user, program_ids=[program_id]).get(program_id)


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


def list_program_certificate_statuses(
    *, user: User, program_ids: Iterable[int]
) -> dict[int, ProgramCertificateStatusData]:
    """The learner's program certificates (any status) for these programs, keyed by program id, in
    one query whatever the number of programs. Programs they never had one for are absent."""
    rows = ProgramCertificate.objects.filter(program_id__in=list(program_ids), user_credentials__user=user).values_list(
        "program_id",
        "user_credentials__uuid",
        "user_credentials__status",
        "user_credentials__visible_date",
        "user_credentials__awarded_at",
    )
    return {
        program_id: ProgramCertificateStatusData(
            uuid=credential_uuid, status=status, visible_date=visible_date, awarded_at=awarded_at
        )
        for program_id, credential_uuid, status, visible_date, awarded_at in rows
    }


def list_course_results(
    *, user: User, course_run_ids: Iterable[int]
) -> tuple[list[GradeData], list[CourseCertificateData]]:
    """The learner's grades and course certificates (any status) in these runs, in two queries read
    as flat rows, since learner records call it on every request."""
    run_ids = list(course_run_ids)
    grade_rows = (
        UserGrade.objects.filter(user=user, course_run_id__in=run_ids)
        .order_by()
        .values_list("course_run_id", "letter_grade", "percent_grade", "passed", "passed_timestamp", "modified")
    )
    # Through the configuration's generic relation: one join instead of a second round trip.
    certificate_rows = (
        CourseCertificate.objects.filter(course_run_id__in=run_ids, user_credentials__user=user)
        .order_by()
        .values_list(
            "course_run_id",
            "certificate_type",
            "user_credentials__uuid",
            "user_credentials__status",
            "user_credentials__download_url",
            "user_credentials__visible_date",
            "user_credentials__awarded_at",
        )
    )
    grades = [
        GradeData(
            course_run_id=run_id,
            letter_grade=letter,
            percent_grade=percent,
            passed=passed,
            passed_timestamp=passed_at,
            modified=modified,
        )
        for run_id, letter, percent, passed, passed_at, modified in grade_rows
    ]
    certificates = [
        CourseCertificateData(
            uuid=credential_uuid,
            course_run_id=run_id,
            mode=mode,
            status=status,
            download_url=download_url,
            visible_date=visible_date,
            awarded_at=awarded_at,
        )
        for run_id, mode, credential_uuid, status, download_url, visible_date, awarded_at in certificate_rows
    ]
    return grades, certificates


# --- the program completion engine's reads -------------------------------------------------------


def list_awarded_course_certificates(*, user_id: int, course_run_ids: Iterable[int]) -> list[CourseCertificateData]:
    """The learner's awarded course certificates (every mode) in these runs, in one query."""
    return list_awarded_course_certificates_by_learner(user_ids=[user_id], course_run_ids=course_run_ids).get(
        user_id, []
    )


def list_awarded_course_certificates_by_learner(
    *, user_ids: Iterable[int], course_run_ids: Iterable[int]
) -> dict[int, list[CourseCertificateData]]:
    """These learners' awarded course certificates (every mode) in these runs, keyed by user id, in
    one query whatever the number of learners. Learners without any are absent."""
    rows = (
        CourseCertificate.objects.filter(
            course_run_id__in=list(course_run_ids),
            user_credentials__user_id__in=list(user_ids),
            user_credentials__status=CredentialStatus.AWARDED,
        )
        .order_by()
        .values_list(
            "user_credentials__user_id",
            "course_run_id",
            "certificate_type",
            "user_credentials__uuid",
            "user_credentials__download_url",
            "user_credentials__visible_date",
            "user_credentials__awarded_at",
        )
    )
    by_learner: dict[int, list[CourseCertificateData]] = {}
    for user_id, run_id, mode, credential_uuid, download_url, visible_date, awarded_at in rows:
        by_learner.setdefault(user_id, []).append(
            CourseCertificateData(
                uuid=credential_uuid,
                course_run_id=run_id,
                mode=mode,
                status=CredentialStatus.AWARDED,
                download_url=download_url,
                visible_date=visible_date,
                awarded_at=awarded_at,
            )
        )
    return by_learner


def get_eligible_modes(*, program_type_slugs: Iterable[str]) -> dict[str, frozenset[str]]:
    """For each program type, the course certificate modes that count towards its program
    certificates: its ProgramTypeConfiguration, else the PROGRAM_CERTIFICATE_ELIGIBLE_MODES setting.
    One query whatever the number of types."""
    slugs = set(program_type_slugs)
    configured = dict(
        ProgramTypeConfiguration.objects.filter(type_slug__in=slugs).values_list("type_slug", "eligible_modes")
    )
    default = frozenset(settings.PROGRAM_CERTIFICATE_ELIGIBLE_MODES)
    return {slug: frozenset(configured[slug]) if slug in configured else default for slug in slugs}


def list_certified_learner_ids(*, course_run_ids: Iterable[int]) -> list[int]:
    """Users with an awarded course certificate in any of these runs, in pk order, in one query."""
    return list(
        UserCredential.objects.filter(
            credential_content_type=ContentType.objects.get_for_model(CourseCertificate),
            credential_id__in=CourseCertificate.objects.filter(course_run_id__in=list(course_run_ids)).values("pk"),
            status=CredentialStatus.AWARDED,
        )
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


def list_user_credentials(
    *,
    configuration_model: type[Model],
    user_ids: Iterable[int] | None = None,
    configuration_ids: Iterable[int] | None = None,
    status: str | None = None,
) -> list[UserCredentialData]:
    """Learners' credentials of `configuration_model`'s configurations (another app's: badge templates,
    PDF configurations), optionally only these learners', these configurations', in this status;
    newest first. One query."""
    credentials = UserCredential.objects.filter(
        credential_content_type=ContentType.objects.get_for_model(configuration_model)
    )
    if user_ids is not None:
        credentials = credentials.filter(user_id__in=list(user_ids))
    if configuration_ids is not None:
        credentials = credentials.filter(credential_id__in=list(configuration_ids))
    if status is not None:
        credentials = credentials.filter(status=status)
    return [
        UserCredentialData(
            uuid=uuid_,
            user_id=user_id,
            configuration_id=configuration_id,
            status=status_,
            awarded_at=awarded_at,
            revoked_at=revoked_at,
        )
        for uuid_, user_id, configuration_id, status_, awarded_at, revoked_at in credentials.order_by(
            "-created", "-pk"
        ).values_list("uuid", "user_id", "credential_id", "status", "awarded_at", "revoked_at")
    ]


# --- who holds what, for processors that pick learners (PDF credentials) ---------------------------


def _learner_name() -> Coalesce:
    # Chosen in SQL so each list stays one query: the full name, else the username, else "".
    return Coalesce(
        NullIf(Trim("user__full_name"), Value("")),
        NullIf(F("user__username"), Value("")),
        Value(""),
        output_field=CharField(),
    )


def _read_learner_names(rows: QuerySet[Any]) -> list[LearnerNameData]:
    # Rows of one learner each (or duplicates of the same learner and name, which DISTINCT folds),
    # in user id order.
    named = rows.order_by("user_id").values_list("user_id", _learner_name()).distinct()
    return [LearnerNameData(user_id=user_id, name=name) for user_id, name in named]


def _awarded(configuration_model: type[Model], configuration_ids: QuerySet[Any]) -> QuerySet[UserCredential]:
    # The content type is matched by name in the same query rather than by a cached id, so the count
    # stays one even on a cold ContentType cache.
    return UserCredential.objects.filter(
        credential_content_type__app_label=configuration_model._meta.app_label,
        credential_content_type__model=configuration_model._meta.model_name,
        credential_id__in=configuration_ids,
        status=CredentialStatus.AWARDED,
    )


def list_passing_learners(*, course_run_key: str, threshold: Decimal | None = None) -> list[LearnerNameData]:
    """Learners whose grade in the course run is passing and, with a threshold, at least that percent
    (0..1); by user id, each once. A failing grade never counts; an unknown run gives []. One query."""
    grades = UserGrade.objects.filter(course_run__key=course_run_key, passed=True)
    if threshold is not None:
        grades = grades.filter(percent_grade__gte=threshold)
    return _read_learner_names(grades)


def list_course_certificate_holders(*, course_run_key: str, mode: str | None = None) -> list[LearnerNameData]:
    """Learners holding an awarded course certificate of the run, in `mode` or in any mode; by user id,
    each once whatever their number of modes. Revoked ones never count; an unknown run gives []. One
    query."""
    certificates = CourseCertificate.objects.filter(course_run__key=course_run_key)
    if mode is not None:
        certificates = certificates.filter(certificate_type=mode)
    return _read_learner_names(_awarded(CourseCertificate, certificates.values("pk")))


def list_program_certificate_holders(*, program_uuid: uuid.UUID) -> list[LearnerNameData]:
    """Learners holding an awarded certificate of the program; by user id, each once. Revoked ones never
    count; an unknown program gives []. One query."""
    certificates = ProgramCertificate.objects.filter(program__uuid=program_uuid).values("pk")
    return _read_learner_names(_awarded(ProgramCertificate, certificates))
