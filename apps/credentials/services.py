"""Writes: awarding, revoking, grades and certificate configurations. Each service owns its transaction."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from apps.catalog.api import get_course_run, get_program
from apps.core.api import User

from .exceptions import CredentialsError, CredentialsErrorCode
from .lock_objects import lock_user_credential
from .models import CourseCertificate, CredentialStatus, ProgramCertificate, UserCredential, UserGrade


def award_credential(
    *,
    user: User,
    configuration: Model,
    download_url: str = "",
    visible_date: datetime.datetime | None = None,
) -> UserCredential:
    """Award the credential of `configuration` to `user`, re-awarding a revoked one. Idempotent: an
    awarded credential keeps its uuid and award time; only a changed url or visible date is saved."""
    now = timezone.now()
    with transaction.atomic():
        credential, created = _lock_or_create(
            user=user,
            configuration=configuration,
            status=CredentialStatus.AWARDED,
            download_url=download_url,
            visible_date=visible_date,
            awarded_at=now,
        )
        if created:
            return credential
        updates: dict[str, object] = {}
        if credential.status != CredentialStatus.AWARDED:
            updates.update(status=CredentialStatus.AWARDED, awarded_at=now, revoked_at=None)
        if download_url and credential.download_url != download_url:
            updates["download_url"] = download_url
        if visible_date is not None and credential.visible_date != visible_date:
            updates["visible_date"] = visible_date
        return _apply(credential, updates)


def revoke_credential(*, user: User, configuration: Model) -> UserCredential:
    """Revoke the learner's credential of `configuration`. Idempotent. A credential never seen before
    is recorded as revoked, so the issuer's word is kept even when the award was missed."""
    now = timezone.now()
    with transaction.atomic():
        credential, created = _lock_or_create(
            user=user, configuration=configuration, status=CredentialStatus.REVOKED, revoked_at=now
        )
        if created or credential.status == CredentialStatus.REVOKED:
            return credential
        return _apply(credential, {"status": CredentialStatus.REVOKED, "revoked_at": now})


def _lock_or_create(*, user: User, configuration: Model, **fields: object) -> tuple[UserCredential, bool]:
    """The learner's credential for `configuration`, locked; created with `fields` when missing."""
    credential = lock_user_credential(user_id=user.pk, configuration=configuration)
    if credential is not None:
        return credential, False
    try:
        with transaction.atomic():
            created = UserCredential.objects.create(
                user=user,
                credential_content_type=ContentType.objects.get_for_model(configuration),
                credential_id=configuration.pk,
                **fields,
            )
            return created, True
    except IntegrityError:
        # Another transaction created it between our lock attempt and insert: lock theirs.
        credential = lock_user_credential(user_id=user.pk, configuration=configuration)
        assert credential is not None
        return credential, False


def _apply(credential: UserCredential, updates: dict[str, object]) -> UserCredential:
    if updates:
        for name, value in updates.items():
            setattr(credential, name, value)
        credential.save(update_fields=[*updates, "modified"])
    return credential


# --- course and program certificates by their public keys -------------------------------------


def get_course_certificate_configuration(*, course_run_key: str, mode: str) -> CourseCertificate:
    """The course run's certificate configuration in `mode`; raises CredentialsError when missing."""
    run = get_course_run(key=course_run_key)
    try:
        return CourseCertificate.objects.get(course_run_id=run.id, certificate_type=mode)
    except CourseCertificate.DoesNotExist:
        raise CredentialsError(
            f"No {mode!r} certificate is configured for {course_run_key}.",
            code=CredentialsErrorCode.NO_CONFIGURATION,
            field="mode",
        ) from None


def get_program_certificate_configuration(*, program_uuid: uuid.UUID) -> ProgramCertificate:
    """The program's certificate configuration; raises CredentialsError when missing."""
    try:
        return ProgramCertificate.objects.get(program__uuid=program_uuid)
    except ProgramCertificate.DoesNotExist:
        raise CredentialsError(
            f"No certificate is configured for program {program_uuid}.",
            code=CredentialsErrorCode.NO_CONFIGURATION,
            field="program_uuid",
        ) from None


def award_course_certificate(
    *,
    user: User,
    course_run_key: str,
    mode: str,
    download_url: str = "",
    visible_date: datetime.datetime | None = None,
) -> UserCredential:
    """Award the course run's certificate in `mode`. Idempotent; raises CredentialsError or
    CatalogNotFoundError when the run or its configuration is unknown."""
    configuration = get_course_certificate_configuration(course_run_key=course_run_key, mode=mode)
    return award_credential(
        user=user, configuration=configuration, download_url=download_url, visible_date=visible_date
    )


def revoke_course_certificate(*, user: User, course_run_key: str, mode: str) -> UserCredential:
    """Revoke the course run's certificate in `mode`. Idempotent."""
    configuration = get_course_certificate_configuration(course_run_key=course_run_key, mode=mode)
    return revoke_credential(user=user, configuration=configuration)


def award_program_certificate(
    *, user: User, program_uuid: uuid.UUID, visible_date: datetime.datetime | None = None
) -> UserCredential:
    """Award the program's certificate. Idempotent; raises CredentialsError when not configured."""
    configuration = get_program_certificate_configuration(program_uuid=program_uuid)
    return award_credential(user=user, configuration=configuration, visible_date=visible_date)


def revoke_program_certificate(*, user: User, program_uuid: uuid.UUID) -> UserCredential:
    """Revoke the program's certificate. Idempotent."""
    configuration = get_program_certificate_configuration(program_uuid=program_uuid)
    return revoke_credential(user=user, configuration=configuration)


# --- configurations ----------------------------------------------------------------------------


def configure_course_certificate(
    *, course_run_key: str, mode: str, title: str = "", is_active: bool = True
) -> CourseCertificate:
    """Create or update the course run's certificate configuration in `mode`. Idempotent."""
    run = get_course_run(key=course_run_key)
    configuration, _ = CourseCertificate.objects.update_or_create(
        course_run_id=run.id, certificate_type=mode, defaults={"title": title, "is_active": is_active}
    )
    return configuration


def configure_program_certificate(
    *, program_uuid: uuid.UUID, title_override: str = "", is_active: bool = True
) -> ProgramCertificate:
    """Create or update the program's certificate configuration. Idempotent."""
    program = get_program(program_uuid=program_uuid)
    configuration, _ = ProgramCertificate.objects.update_or_create(
        program_id=program.id, defaults={"title_override": title_override, "is_active": is_active}
    )
    return configuration


# --- grades ------------------------------------------------------------------------------------


def record_grade(
    *,
    user: User,
    course_run_key: str,
    percent_grade: Decimal,
    passed: bool,
    letter_grade: str = "",
    lms_last_updated_at: datetime.datetime | None = None,
) -> UserGrade:
    """Record the learner's grade in a course run. An update older than the stored one (by the LMS's
    timestamp) is ignored, so out-of-order delivery never rolls a grade back. Idempotent."""
    if not Decimal(0) <= Decimal(percent_grade) <= Decimal(1):
        raise CredentialsError(
            f"percent_grade must be between 0 and 1, got {percent_grade}.",
            code=CredentialsErrorCode.INVALID_GRADE,
            field="percent_grade",
        )
    run = get_course_run(key=course_run_key)
    now = timezone.now()
    with transaction.atomic():
        grade = UserGrade.objects.select_for_update().filter(user=user, course_run_id=run.id).first()
        if grade is None:
            try:
                with transaction.atomic():
                    return UserGrade.objects.create(
                        user=user,
                        course_run_id=run.id,
                        letter_grade=letter_grade,
                        percent_grade=percent_grade,
                        passed=passed,
                        passed_timestamp=now if passed else None,
                        lms_last_updated_at=lms_last_updated_at,
                    )
            except IntegrityError:
                grade = UserGrade.objects.select_for_update().get(user=user, course_run_id=run.id)
        if lms_last_updated_at and grade.lms_last_updated_at and lms_last_updated_at < grade.lms_last_updated_at:
            return grade
        grade.letter_grade = letter_grade
        grade.percent_grade = Decimal(percent_grade)
        if passed and not grade.passed:
            grade.passed_timestamp = now
        elif not passed:
            grade.passed_timestamp = None
        grade.passed = passed
        grade.lms_last_updated_at = lms_last_updated_at or grade.lms_last_updated_at
        grade.save()
        return grade
