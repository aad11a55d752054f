"""Reads: credentials and grades, scoped to who is asking. Query counts are pinned by tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import CharField, F, Model, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf, Trim
from django.utils import timezone

from apps.catalog.api import CatalogNotFoundError, get_program
from apps.core.api import User, is_privileged

from .data import (
    CourseCertificateConfigurationData,
    CourseCertificateData,
    CourseCertificateStatusData,
    GradeData,
    LearnerCertStatusData,
    LearnerCertStatusQuery,
    LearnerGradeStatusData,
    LearnerNameData,
    ProgramCertificateStatusData,
    PublicCertificateData,
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


def _seen_by(
    credentials: QuerySet[UserCredential], *, requester: User, username: str | None, status: str | None
) -> QuerySet[UserCredential]:
    """The credentials the requester may see (learners their own, staff and service users everyone's),
    of `username` and in `status` when given."""
    if not is_privileged(requester):
        credentials = credentials.filter(user=requester)
    if username:
        credentials = credentials.filter(user__username=username)
    if status:
        credentials = credentials.filter(status=status)
    return credentials


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
    credentials = _seen_by(UserCredential.objects.all(), requester=requester, username=username, status=status)
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


def list_lms_credentials(
    *,
    requester: User,
    username: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    program_uuid: uuid.UUID | None = None,
    only_visible: bool = False,
) -> QuerySet[UserCredential]:
    """Course and program certificates as the LMS's GET /api/v2/credentials/ filters them. Learners see
    only their own; staff and service users everyone's. `kind` is "program" or "course-run" (anything
    else filters nothing, as the original); `program_uuid` gives the program's certificates AND the
    course certificates of its runs (the original's rule); `only_visible` drops those whose visible date
    is ahead. Oldest first, so pages stay stable while credentials are added. Four queries for a page
    whatever its size."""
    types = ContentType.objects.get_for_models(CourseCertificate, ProgramCertificate)
    credentials = _seen_by(
        UserCredential.objects.filter(credential_content_type__in=list(types.values())),
        requester=requester,
        username=username,
        status=status,
    )
    if kind in CREDENTIAL_KINDS:
        credentials = credentials.filter(credential_content_type=types[CREDENTIAL_KINDS[kind]])
    if program_uuid:
        try:
            program = get_program(program_uuid=program_uuid)
        except CatalogNotFoundError:
            return credentials.none()
        credentials = credentials.filter(
            Q(
                credential_content_type=types[ProgramCertificate],
                credential_id__in=ProgramCertificate.objects.filter(program_id=program.id).values("pk"),
            )
            | Q(
                credential_content_type=types[CourseCertificate],
                credential_id__in=CourseCertificate.objects.filter(course_run_id__in=program.course_run_ids).values(
                    "pk"
                ),
            )
        )
    if only_visible:
        credentials = credentials.filter(Q(visible_date__isnull=True) | Q(visible_date__lte=timezone.now()))
    return _with_related(credentials).prefetch_related("attributes").order_by("pk")


def get_lms_credential(*, requester: User, credential_uuid: uuid.UUID) -> UserCredential:
    """One course or program certificate the requester may see; someone else's is as absent as a
    missing one (404)."""
    try:
        return list_lms_credentials(requester=requester).get(uuid=credential_uuid)
    except UserCredential.DoesNotExist:
        raise CredentialsNotFoundError(
            f"No credential {credential_uuid}.", code=CredentialsErrorCode.CREDENTIAL_NOT_FOUND
        ) from None


def get_public_certificate(*, credential_uuid: uuid.UUID) -> PublicCertificateData:
    """The public page's facts of a course or program certificate: who earned what, from whom, when,
    and whether it still stands. Raises CredentialsNotFoundError for anything else."""
    credential = (
        _with_related(UserCredential.objects.filter(uuid=credential_uuid))
        .filter(
            credential_content_type__in=list(
                ContentType.objects.get_for_models(CourseCertificate, ProgramCertificate).values()
            )
        )
        .first()
    )
    if credential is None:
        raise CredentialsNotFoundError(
            f"No certificate {credential_uuid}.", code=CredentialsErrorCode.CREDENTIAL_NOT_FOUND
        )
    configuration = credential.credential
    if isinstance(configuration, CourseCertificate):
        title = configuration.title or configuration.course_run.display_title
        course = configuration.course_run.course
        issuers: tuple[str, ...] = tuple(owner.name for owner in course.owners.all()) or (course.key.split("+")[0],)
    else:
        assert isinstance(configuration, ProgramCertificate)
        program = get_program(program_uuid=configuration.program.uuid)
        title = configuration.title_override or program.title
        issuers = tuple(organization.name for organization in program.organizations)
    user = credential.user
    issued_on = credential.date_override or credential.visible_date or credential.awarded_at or credential.created
    return PublicCertificateData(
        uuid=credential.uuid,
        kind=credential_kind(credential),
        learner_name=user.full_name or user.username or "",
        title=title,
        issuers=issuers,
        issued_on=issued_on,
        status=credential.status,
        is_visible=credential.visible_date is None or credential.visible_date <= timezone.now(),
    )


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


def list_program_certificate_holders(*, program_uuid: uuid.UUID, visible_only: bool = False) -> list[LearnerNameData]:
    """Learners holding an awarded certificate of the program; by user id, each once. Revoked ones never
    count, nor, with `visible_only`, ones whose visible date is still ahead; an unknown program gives
    []. One query."""
    certificates = ProgramCertificate.objects.filter(program__uuid=program_uuid).values("pk")
    awarded = _awarded(ProgramCertificate, certificates)
    if visible_only:
        awarded = awarded.filter(Q(visible_date__isnull=True) | Q(visible_date__lte=timezone.now()))
    return _read_learner_names(awarded)


# --- the LMS's certificate configuration and available date (v2 API) ---


def list_course_certificate_configurations(
    *, course_run_key: str, mode: str | None = None
) -> list[CourseCertificateConfigurationData]:
    """The run's certificate configurations, in `mode` or in every mode (by mode), each with the run's
    certificate available date, in one query. An unknown run has none."""
    configurations = CourseCertificate.objects.filter(course_run__key=course_run_key)
    if mode is not None:
        configurations = configurations.filter(certificate_type=mode)
    return [
        CourseCertificateConfigurationData(
            id=pk, course_run_key=key, mode=mode_, is_active=is_active, certificate_available_date=available
        )
        for pk, key, mode_, is_active, available in configurations.order_by("certificate_type").values_list(
            "pk", "course_run__key", "certificate_type", "is_active", "course_run__certificate_available_date"
        )
    ]


# --- the LMS's learner certificate status look-up ---


def list_learner_cert_statuses(*, queries: Sequence[LearnerCertStatusQuery]) -> list[LearnerCertStatusData]:
    """Answer each look-up, in order: the learner (by LMS user id when given, else by username) and
    their course certificates, awarded or revoked, in the runs asked about (by key or uuid) and in
    every run of the courses asked about, by run key and mode, each with their grade in its run (None
    without one). An unknown learner is answered as asked, with no certificates. At most three queries
    whatever the number of look-ups."""
    usernames = {query.username for query in queries if query.username}
    lms_user_ids = {query.lms_user_id for query in queries if query.lms_user_id is not None}
    learners = (
        list(
            User.objects.filter(Q(username__in=usernames) | Q(lms_user_id__in=lms_user_ids)).values_list(
                "pk", "username", "lms_user_id"
            )
        )
        if usernames or lms_user_ids
        else []
    )
    by_name = {username: (pk, username, lms_id) for pk, username, lms_id in learners if username is not None}
    by_lms_id = {lms_id: (pk, username, lms_id) for pk, username, lms_id in learners if lms_id is not None}
    found = [
        by_lms_id.get(query.lms_user_id) if query.lms_user_id is not None else by_name.get(query.username or "")
        for query in queries
    ]
    certificates = _read_learner_course_certificates(
        user_ids={learner[0] for learner in found if learner is not None}, queries=queries
    )
    answers = []
    for query, learner in zip(queries, found, strict=True):
        if learner is None:
            answers.append(
                LearnerCertStatusData(lms_user_id=query.lms_user_id, username=query.username, certificates=())
            )
            continue
        pk, username, lms_id = learner
        run_keys, run_uuids = _split_course_run_references(query.course_runs)
        answers.append(
            LearnerCertStatusData(
                lms_user_id=lms_id,
                username=username,
                certificates=tuple(
                    certificate
                    for certificate in certificates.get(pk, ())
                    if certificate.course_run_key in run_keys
                    or certificate.course_run_uuid in run_uuids
                    or certificate.course_uuid in query.course_uuids
                ),
            )
        )
    return answers


def _split_course_run_references(references: Iterable[str]) -> tuple[set[str], set[uuid.UUID]]:
    # A course run is named by its key or its uuid; no run key parses as a uuid.
    keys, uuids = set(), set()
    for reference in references:
        try:
            uuids.add(uuid.UUID(reference))
        except ValueError:
            keys.add(reference)
    return keys, uuids


def _read_learner_course_certificates(
    *, user_ids: set[int], queries: Sequence[LearnerCertStatusQuery]
) -> dict[int, list[CourseCertificateStatusData]]:
    """These learners' course certificates (any status) in any run or course some look-up asks about,
    with their grades, keyed by user id, in two queries; each look-up then keeps its own."""
    run_keys, run_uuids = _split_course_run_references(run for query in queries for run in query.course_runs)
    course_uuids = {course for query in queries for course in query.course_uuids}
    if not user_ids or not (run_keys or run_uuids or course_uuids):
        return {}
    rows = list(
        CourseCertificate.objects.filter(
            Q(course_run__key__in=run_keys)
            | Q(course_run__uuid__in=run_uuids)
            | Q(course_run__course__uuid__in=course_uuids),
            user_credentials__user_id__in=user_ids,
        )
        .order_by("course_run__key", "certificate_type")
        .values_list(
            "user_credentials__user_id",
            "course_run_id",
            "course_run__key",
            "course_run__uuid",
            "course_run__course__uuid",
            "course_run__certificate_available_date",
            "certificate_type",
            "user_credentials__status",
        )
    )
    if not rows:
        return {}
    grades = {
        (user_id, run_id): LearnerGradeStatusData(letter_grade=letter, percent_grade=percent, verified=verified)
        for user_id, run_id, letter, percent, verified in UserGrade.objects.filter(
            user_id__in=user_ids, course_run_id__in={row[1] for row in rows}
        ).values_list("user_id", "course_run_id", "letter_grade", "percent_grade", "verified")
    }
    by_learner: dict[int, list[CourseCertificateStatusData]] = {}
    for user_id, run_id, run_key, run_uuid, course_uuid, available, mode, status in rows:
        by_learner.setdefault(user_id, []).append(
            CourseCertificateStatusData(
                course_uuid=course_uuid,
                course_run_uuid=run_uuid,
                course_run_key=run_key,
                mode=mode,
                status=status,
                certificate_available_date=available,
                grade=grades.get((user_id, run_id)),
            )
        )
    return by_learner
