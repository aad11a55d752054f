"""Writes: awarding, revoking, grades, certificate configurations and the program completion engine.
Each service owns its transaction."""

from __future__ import annotations

import datetime
import enum
import functools
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from openedx_events.learning.data import ProgramCertificateData, UserData, UserPersonalData
from openedx_events.learning.data import ProgramData as EventProgramData
from openedx_events.learning.signals import PROGRAM_CERTIFICATE_AWARDED, PROGRAM_CERTIFICATE_REVOKED

from apps.catalog.api import (
    CatalogNotFoundError,
    get_course_run,
    get_course_runs,
    get_or_create_course_run,
    get_program,
    get_program_by_id,
    list_programs_with_courses,
    record_course_run,
    set_certificate_available_date,
)
from apps.catalog.data import CourseRunChangeData, CourseRunData, ProgramData
from apps.core.api import LearnerIdentity, User, get_or_create_learners
from apps.eventbus.api import OutgoingEvent, enqueue_events

from . import selectors
from .data import (
    CourseCertificateConfigurationData,
    CourseCertificateData,
    CourseCertificateUpdate,
    CredentialAttributeData,
    CredentialChange,
    GradeUpdate,
    ProgramCompletionData,
    SignatoryData,
    UserCredentialData,
    VisibleDatesData,
)
from .exceptions import CredentialsError, CredentialsErrorCode, CredentialsNotFoundError
from .lock_objects import (
    lock_course_certificate,
    lock_credentials,
    lock_learner_credentials,
    lock_learners_credentials,
    lock_user_credential,
)
from .models import (
    CertificateMode,
    CourseCertificate,
    CredentialStatus,
    ProgramCertificate,
    ProgramTypeConfiguration,
    Signatory,
    UserCredential,
    UserCredentialAttribute,
    UserGrade,
)

log = logging.getLogger(__name__)

# The catalog's pacing of runs whose certificates wait for the run's certificate available date.
INSTRUCTOR_PACED = "instructor_paced"


@dataclass(frozen=True)
class CredentialOutcome:
    """What an award or a revocation did. `status_changed` is true only when the credential went from
    not awarded to awarded, or from awarded to revoked: only then are programs re-evaluated and events
    published."""

    credential: UserCredential
    status_changed: bool


def award_credential(
    *,
    user: User,
    configuration: Model,
    download_url: str = "",
    visible_date: datetime.datetime | None = None,
) -> UserCredential:
    """Award the credential of `configuration` to `user`, re-awarding a revoked one. Idempotent: an
    awarded credential keeps its uuid and award time; only a changed url or visible date is saved.
    A real change to a program certificate enqueues PROGRAM_CERTIFICATE_AWARDED; one to a course
    certificate re-evaluates the learner's programs containing its course."""
    with transaction.atomic():
        lock_learner_credentials(user_id=user.pk)
        outcome = _change_credential(
            user=user, configuration=configuration, award=True, download_url=download_url, visible_date=visible_date
        )
        if outcome.status_changed:
            _follow_status_change(user=user, configuration=configuration, credential=outcome.credential)
        return outcome.credential


def revoke_credential(*, user: User, configuration: Model) -> UserCredential:
    """Revoke the learner's credential of `configuration`. Idempotent. A credential never seen before
    is recorded as revoked, so the issuer's word is kept even when the award was missed. Revoking an
    awarded program certificate enqueues PROGRAM_CERTIFICATE_REVOKED; revoking an awarded course
    certificate re-evaluates the learner's programs containing its course."""
    with transaction.atomic():
        lock_learner_credentials(user_id=user.pk)
        outcome = _change_credential(user=user, configuration=configuration, award=False)
        if outcome.status_changed:
            _follow_status_change(user=user, configuration=configuration, credential=outcome.credential)
        return outcome.credential


def _credential_changes(
    credential: UserCredential | None,
    *,
    award: bool,
    now: datetime.datetime,
    download_url: str = "",
    visible_date: datetime.datetime | None = None,
) -> tuple[dict[str, object], bool]:
    """The rules of awarding and revoking, for every path: the fields to set on the learner's
    credential (all of a new one's when `credential` is None) and whether its status changes.

    Awarding re-awards a revoked credential; an awarded one keeps its uuid and award time, and only a
    new url or visible date is taken. Revoking a credential never seen records it as revoked with no
    status change: nothing was awarded, so nothing was taken away.
    """
    if credential is None:
        if award:
            created = {"download_url": download_url, "visible_date": visible_date, "awarded_at": now}
            return {"status": CredentialStatus.AWARDED, **created}, True
        return {"status": CredentialStatus.REVOKED, "revoked_at": now}, False
    if not award:
        if credential.status == CredentialStatus.REVOKED:
            return {}, False
        return {"status": CredentialStatus.REVOKED, "revoked_at": now}, True
    updates: dict[str, object] = {}
    status_changed = credential.status != CredentialStatus.AWARDED
    if status_changed:
        updates.update(status=CredentialStatus.AWARDED, awarded_at=now, revoked_at=None)
    if download_url and credential.download_url != download_url:
        updates["download_url"] = download_url
    if visible_date is not None and credential.visible_date != visible_date:
        updates["visible_date"] = visible_date
    return updates, status_changed


def _change_credential(
    *,
    user: User,
    configuration: Model,
    award: bool,
    download_url: str = "",
    visible_date: datetime.datetime | None = None,
) -> CredentialOutcome:
    """Award or revoke one credential by `_credential_changes`. The caller holds a transaction and the
    learner's lock."""
    changes = functools.partial(
        _credential_changes, award=award, now=timezone.now(), download_url=download_url, visible_date=visible_date
    )
    credential = lock_user_credential(user_id=user.pk, configuration=configuration)
    if credential is None:
        fields, status_changed = changes(None)
        try:
            with transaction.atomic():
                created = UserCredential.objects.create(
                    user=user,
                    credential_content_type=ContentType.objects.get_for_model(configuration),
                    credential_id=configuration.pk,
                    **fields,
                )
                return CredentialOutcome(created, status_changed=status_changed)
        except IntegrityError:
            # Another transaction created it between our lock attempt and insert: lock theirs.
            credential = lock_user_credential(user_id=user.pk, configuration=configuration)
            assert credential is not None
    fields, status_changed = changes(credential)
    return CredentialOutcome(_apply(credential, fields), status_changed=status_changed)


def _follow_status_change(*, user: User, configuration: Model, credential: UserCredential) -> None:
    """What a real status change sets off, in the same transaction: a program certificate's is
    announced; a course certificate's re-evaluates the programs that contain its course."""
    if isinstance(configuration, ProgramCertificate):
        program = get_program_by_id(program_id=configuration.program_id)
        enqueue_events(_program_certificate_events(user=user, credential=credential, program=program))
    elif isinstance(configuration, CourseCertificate):
        _evaluate_programs(
            user=user,
            programs=list_programs_with_courses(course_run_ids=[configuration.course_run_id]),
            allow_revoke=credential.status == CredentialStatus.REVOKED,
        )


def _apply[M: Model](instance: M, updates: dict[str, object]) -> M:
    # `instance` is a TimeStampedModel: saving it also sets `modified`.
    if updates:
        for name, value in updates.items():
            setattr(instance, name, value)
        instance.save(update_fields=[*updates, "modified"])
    return instance


def apply_credential_changes(*, changes: Sequence[CredentialChange]) -> list[UserCredentialData]:
    """Award or revoke, in order, learners' credentials of configurations other apps own (badge
    templates, PDF credential configurations), by the same rules as every award and revocation; return
    each change's credential as it left it, `status_changed` telling whether its status really changed
    (what the owner announces: this service announces nothing). Idempotent. A fixed number of queries
    whatever the number of changes. Must run inside the caller's transaction, which holds the learners'
    locks (core.api.get_or_create_learners or lock_learners). Course and program certificates are
    refused (ValueError): theirs go through their own services, which evaluate programs."""
    if not changes:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("apply_credential_changes must run inside the transaction holding the learners' locks")
    by_model: dict[type[Model], set[int]] = {}
    for change in changes:
        if change.configuration_model in (CourseCertificate, ProgramCertificate):
            raise ValueError(f"{change.configuration_model.__name__} credentials change through their own services")
        by_model.setdefault(change.configuration_model, set()).add(change.configuration_id)
    user_ids = {change.user_id for change in changes}
    held = _HeldCredentials(
        credential
        for model, configuration_ids in by_model.items()
        for credential in lock_credentials(model=model, configuration_ids=configuration_ids, user_ids=user_ids)
    )
    content_types = ContentType.objects.get_for_models(*by_model)
    now = timezone.now()
    results = []
    for change in changes:
        credential, status_changed = held.change(
            user_id=change.user_id,
            content_type_id=content_types[change.configuration_model].pk,
            configuration_id=change.configuration_id,
            award=change.award,
            now=now,
        )
        # Taken now: a later change of the batch may change the same credential again.
        results.append(
            UserCredentialData(
                uuid=credential.uuid,
                user_id=credential.user_id,
                configuration_id=credential.credential_id,
                status=credential.status,
                awarded_at=credential.awarded_at,
                revoked_at=credential.revoked_at,
                status_changed=status_changed,
            )
        )
    held.save(now=now)
    return results


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


# --- the LMS's v2 API: credentials as it posts them ----------------------------------------------


def record_lms_credential(
    *,
    learner: LearnerIdentity,
    awarded: bool,
    course_run_key: str = "",
    mode: str = "",
    program_uuid: uuid.UUID | None = None,
    attributes: Sequence[CredentialAttributeData] = (),
    date_override: datetime.datetime | None = None,
) -> UserCredential:
    """The LMS's POST /api/v2/credentials/: award or revoke, for a learner found or created by LMS id
    and username, a course run's certificate in a mode (through `record_course_certificates`, as the
    certificate events) or a program's certificate (through `award_credential`/`revoke_credential`);
    then keep the attributes it sent (upserted by name, never deleted: the original's rule) and, for
    a course certificate, its date override (none sent removes it, as the original does). A program
    completed this way is awarded and announced once, exactly as through events. Idempotent.

    Raises CredentialsError (no course run or mode, unknown mode, a program without an active
    certificate to award), CatalogNotFoundError (a run outside the catalog), LearnerIdentityError."""
    with transaction.atomic():
        if program_uuid is not None:
            configuration = _program_certificate_for_lms(program_uuid=program_uuid, awarding=awarded)
            [user] = get_or_create_learners([learner])
            if awarded:
                visible_date = _lms_program_award_visible_date(user_id=user.pk, configuration=configuration)
                credential = award_credential(user=user, configuration=configuration, visible_date=visible_date)
            else:
                credential = revoke_credential(user=user, configuration=configuration)
        else:
            if not course_run_key or not mode:
                raise CredentialsError(
                    "Name the credential: a program_uuid, or a course_run_key and a mode.",
                    code=CredentialsErrorCode.NO_CONFIGURATION,
                    field="course_run_key" if not course_run_key else "mode",
                )
            update = CourseCertificateUpdate(
                learner=learner, course_run_key=course_run_key, mode=mode, is_awarded=awarded
            )
            credential = record_course_certificates(updates=[update])[0]
            if credential.date_override != date_override:
                credential = _apply(credential, {"date_override": date_override})
        _upsert_attributes(credential_id=credential.pk, attributes=attributes)
    return credential


def change_lms_credential_status(*, credential_uuid: uuid.UUID, awarded: bool) -> UserCredential:
    """The LMS's PATCH (and DELETE: revoke) of /api/v2/credentials/<uuid>/: award or revoke a course or
    program certificate by its uuid, by the same services as `record_lms_credential`. Idempotent.
    Raises CredentialsNotFoundError, or CredentialsError for a credential another app owns (a badge,
    a PDF credential: those change through their own rules)."""
    credential = (
        UserCredential.objects.select_related("user", "credential_content_type").filter(uuid=credential_uuid).first()
    )
    if credential is None:
        raise CredentialsNotFoundError(
            f"No credential {credential_uuid}.", code=CredentialsErrorCode.CREDENTIAL_NOT_FOUND
        )
    configuration = credential.credential
    if isinstance(configuration, CourseCertificate):
        user = credential.user
        update = CourseCertificateUpdate(
            learner=LearnerIdentity(lms_user_id=user.lms_user_id, username=user.username),
            course_run_key=configuration.course_run.key,
            mode=configuration.certificate_type,
            is_awarded=awarded,
        )
        return record_course_certificates(updates=[update])[0]
    if isinstance(configuration, ProgramCertificate):
        change = award_credential if awarded else revoke_credential
        return change(user=credential.user, configuration=configuration)
    raise CredentialsError(
        f"Credential {credential_uuid} is a {credential.credential_content_type.name}: it changes through its own "
        "rules, not this API.",
        code=CredentialsErrorCode.NO_CONFIGURATION,
        field="status",
    )


def _program_certificate_for_lms(*, program_uuid: uuid.UUID, awarding: bool) -> ProgramCertificate:
    # The original's rule: only an active certificate is awarded; any may be revoked.
    configuration = ProgramCertificate.objects.filter(program__uuid=program_uuid).first()
    if configuration is None or (awarding and not configuration.is_active):
        raise CredentialsError(
            f"No active ProgramCertificate exists for program [{program_uuid}].",
            code=CredentialsErrorCode.NO_CONFIGURATION,
            field="program_uuid",
        )
    return configuration


def _lms_program_award_visible_date(*, user_id: int, configuration: ProgramCertificate) -> datetime.datetime | None:
    """When a program certificate the LMS awards becomes visible: as the completion engine would date
    the learner's completion (their course certificates' visible dates, the configuration's available
    date); when their certificates here do not complete it (the LMS knows more), from the
    configuration's available date, else at once."""
    program = get_program_by_id(program_id=configuration.program_id)
    completed_from = _completion_visible_date(
        program=program,
        configuration=configuration,
        earned=selectors.list_awarded_course_certificates(user_id=user_id, course_run_ids=program.course_run_ids),
        eligible_modes=selectors.get_eligible_modes(program_type_slugs=[program.type_slug])[program.type_slug],
    )
    return completed_from or configuration.certificate_available_date


def _upsert_attributes(*, credential_id: int, attributes: Sequence[CredentialAttributeData]) -> None:
    """Set these attributes of the credential, by name, in at most three queries. The caller holds a
    transaction."""
    if not attributes:
        return
    wanted = {attribute.name: attribute.value for attribute in attributes}
    held = {
        row.name: row
        for row in UserCredentialAttribute.objects.select_for_update().filter(
            user_credential_id=credential_id, name__in=list(wanted)
        )
    }
    now = timezone.now()
    changed = []
    for name, value in wanted.items():
        row = held.get(name)
        if row is not None and row.value != value:
            row.value, row.modified = value, now
            changed.append(row)
    UserCredentialAttribute.objects.bulk_create(
        [
            UserCredentialAttribute(user_credential_id=credential_id, name=name, value=value)
            for name, value in wanted.items()
            if name not in held
        ]
    )
    UserCredentialAttribute.objects.bulk_update(changed, ["value", "modified"])


# --- the LMS's course certificates ---------------------------------------------------------------


def record_course_certificate(
    *, user: User, course_run_key: str, mode: str, is_awarded: bool, download_url: str = ""
) -> UserCredential:
    """`record_course_certificates` for one certificate of a known learner."""
    learner = LearnerIdentity(lms_user_id=user.lms_user_id, username=user.username)
    update = CourseCertificateUpdate(
        learner=learner, course_run_key=course_run_key, mode=mode, is_awarded=is_awarded, download_url=download_url
    )
    return record_course_certificates(updates=[update])[0]


def record_course_certificates(*, updates: Sequence[CourseCertificateUpdate]) -> list[UserCredential]:
    """Apply the LMS's word on learners' course certificates, in order: find or create each learner
    (`core.api.get_or_create_learners`), award the certificate (visible from the run's certificate
    available date when that is still ahead) or revoke it, and on a real change re-evaluate the
    learner's programs containing the course. A missing configuration for a run in a mode is created
    (the LMS decides which modes issue certificates); an existing one is left as it is. Idempotent.
    Returns each update's credential.

    A fixed number of queries whatever the number of updates; all or nothing: raises
    CatalogNotFoundError for an unknown run, CredentialsError for an unknown mode, LearnerIdentityError.
    Locks the learners in pk order, then their credentials in pk order.
    """
    for mode in dict.fromkeys(update.mode for update in updates):
        _check_mode(mode)
    runs = get_course_runs(keys=[update.course_run_key for update in updates])
    now = timezone.now()
    # Inside the caller's transaction no savepoint is needed: an error leaves through it.
    with transaction.atomic(savepoint=False):
        users = get_or_create_learners([update.learner for update in updates])
        configuration_ids = _get_or_create_course_certificates(
            keys={(runs[update.course_run_key].id, update.mode) for update in updates}
        )
        held = _HeldCredentials(
            lock_credentials(
                model=CourseCertificate, configuration_ids=configuration_ids.values(), user_ids={u.pk for u in users}
            )
        )
        course_type = ContentType.objects.get_for_model(CourseCertificate)
        credentials, steps = [], []
        for update, user in zip(updates, users, strict=True):
            run = runs[update.course_run_key]
            credential, status_changed = held.change(
                user_id=user.pk,
                content_type_id=course_type.pk,
                configuration_id=configuration_ids[(run.id, update.mode)],
                award=update.is_awarded,
                now=now,
                download_url=update.download_url,
                visible_date=_course_certificate_visible_date(run, awarded_at=now),
            )
            credentials.append(credential)
            steps.append(
                _CourseCertificateStep(
                    user=user,
                    certificate=_course_certificate_data(credential, course_run_id=run.id, mode=update.mode),
                    status_changed=status_changed,
                )
            )
        events = _evaluate_programs_after(steps, held=held, now=now)
        held.save(now=now)
        enqueue_events(events)
    return credentials


def _get_or_create_course_certificates(*, keys: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The ids of the course certificate configurations of these (course run id, mode), creating the
    missing ones. The caller holds a transaction."""

    def read() -> dict[tuple[int, str], int]:
        rows = CourseCertificate.objects.filter(course_run_id__in={run_id for run_id, _ in keys}).values_list(
            "course_run_id", "certificate_type", "pk"
        )
        return {(run_id, mode): pk for run_id, mode, pk in rows}

    found = read()
    if missing := keys - found.keys():
        # Another consumer may create the same ones meanwhile: keep theirs.
        CourseCertificate.objects.bulk_create(
            [CourseCertificate(course_run_id=run_id, certificate_type=mode) for run_id, mode in sorted(missing)],
            ignore_conflicts=True,
        )
        found = read()
    return found


class _HeldCredentials:
    """Learners' credentials, locked by the caller, changed in memory by `_credential_changes` and
    written at the end in two statements (new ones, changed ones). The caller holds a transaction
    and the learners' locks, so what it reads here stays true until it commits."""

    def __init__(self, credentials: Iterable[UserCredential]) -> None:
        self._by_key: dict[tuple[int, int, int], UserCredential] = {}
        self._new: list[UserCredential] = []
        self._changed: dict[int, UserCredential] = {}
        self._changed_fields: set[str] = set()
        self.add(credentials)

    def add(self, credentials: Iterable[UserCredential]) -> None:
        for credential in credentials:
            self._by_key[(credential.user_id, credential.credential_content_type_id, credential.credential_id)] = (
                credential
            )

    def get(self, *, user_id: int, content_type_id: int, configuration_id: int) -> UserCredential | None:
        return self._by_key.get((user_id, content_type_id, configuration_id))

    def change(
        self,
        *,
        user_id: int,
        content_type_id: int,
        configuration_id: int,
        award: bool,
        now: datetime.datetime,
        download_url: str = "",
        visible_date: datetime.datetime | None = None,
    ) -> tuple[UserCredential, bool]:
        """Award or revoke the learner's credential in memory; return it and whether its status changed."""
        credential = self.get(user_id=user_id, content_type_id=content_type_id, configuration_id=configuration_id)
        fields, status_changed = _credential_changes(
            credential, award=award, now=now, download_url=download_url, visible_date=visible_date
        )
        if credential is None:
            credential = UserCredential(
                user_id=user_id, credential_content_type_id=content_type_id, credential_id=configuration_id, **fields
            )
            self._new.append(credential)
            self.add([credential])
            return credential, status_changed
        for name, value in fields.items():
            setattr(credential, name, value)
        if fields and credential.pk is not None:
            self._changed[credential.pk] = credential
            self._changed_fields.update(fields)
        return credential, status_changed

    def save(self, *, now: datetime.datetime) -> None:
        UserCredential.objects.bulk_create(self._new)
        if self._changed:
            for credential in self._changed.values():
                credential.modified = now  # bulk_update leaves auto_now fields alone
            UserCredential.objects.bulk_update(
                list(self._changed.values()), [*sorted(self._changed_fields), "modified"]
            )


@dataclass(frozen=True)
class _CourseCertificateStep:
    """One update of a batch: the learner and their course certificate as the update left it."""

    user: User
    certificate: CourseCertificateData
    status_changed: bool


def _course_certificate_data(credential: UserCredential, *, course_run_id: int, mode: str) -> CourseCertificateData:
    return CourseCertificateData(
        uuid=credential.uuid,
        course_run_id=course_run_id,
        mode=mode,
        status=credential.status,
        download_url=credential.download_url,
        visible_date=credential.visible_date,
        awarded_at=credential.awarded_at,
    )


def _evaluate_programs_after(
    steps: Sequence[_CourseCertificateStep], *, held: _HeldCredentials, now: datetime.datetime
) -> list[OutgoingEvent]:
    """The program completion engine over a batch of course certificate changes not yet written:
    after each step that changed a certificate's status, in order, decide the learner's programs
    containing its course as `_evaluate_programs` does after one, changing their program
    certificates in `held`. Returns the events of the real changes, in order. A fixed number of
    queries; locks the program certificates of the learners concerned."""
    changed = [step for step in steps if step.status_changed]
    if not changed:
        return []
    programs = list_programs_with_courses(course_run_ids={step.certificate.course_run_id for step in changed})
    configurations = {
        c.program_id: c for c in ProgramCertificate.objects.filter(program_id__in=[p.id for p in programs])
    }
    programs = [p for p in programs if p.id in configurations]
    if not programs:
        return []
    user_ids = {step.user.pk for step in changed}
    # What they held before this batch; each step below then applies its own change, in order.
    earned = {
        user_id: {certificate.uuid: certificate for certificate in certificates}
        for user_id, certificates in selectors.list_awarded_course_certificates_by_learner(
            user_ids=user_ids, course_run_ids={run_id for p in programs for run_id in p.course_run_ids}
        ).items()
    }
    eligible_modes = selectors.get_eligible_modes(program_type_slugs={p.type_slug for p in programs})
    held.add(
        lock_credentials(
            model=ProgramCertificate, configuration_ids=[c.pk for c in configurations.values()], user_ids=user_ids
        )
    )
    program_type = ContentType.objects.get_for_model(ProgramCertificate)
    run_ids = {program.id: set(program.course_run_ids) for program in programs}
    events = []
    for step in steps:
        if step.user.pk not in user_ids:
            continue
        certificate = step.certificate
        learner_earned = earned.setdefault(step.user.pk, {})
        if certificate.status == CredentialStatus.AWARDED:
            learner_earned[certificate.uuid] = certificate
        else:
            learner_earned.pop(certificate.uuid, None)
        if not step.status_changed:
            continue
        for program in programs:
            if certificate.course_run_id not in run_ids[program.id]:
                continue
            configuration = configurations[program.id]
            current = held.get(user_id=step.user.pk, content_type_id=program_type.pk, configuration_id=configuration.pk)
            completed_from, action = _decide_program(
                program=program,
                configuration=configuration,
                earned=learner_earned.values(),
                eligible_modes=eligible_modes[program.type_slug],
                current_status=current.status if current else None,
                current_visible_date=current.visible_date if current else None,
                allow_revoke=certificate.status == CredentialStatus.REVOKED,
            )
            if action is _ProgramAction.KEEP or not _announceable(
                step.user, program=program, action=action, current_status=current.status if current else None
            ):
                continue
            credential, status_changed = held.change(
                user_id=step.user.pk,
                content_type_id=program_type.pk,
                configuration_id=configuration.pk,
                award=action is _ProgramAction.AWARD,
                now=now,
                visible_date=completed_from,
            )
            if status_changed:
                events += _program_certificate_events(user=step.user, credential=credential, program=program)
    return events


def _check_mode(mode: str) -> None:
    if mode not in CertificateMode.values:
        raise CredentialsError(
            f"Unknown certificate mode {mode!r}.", code=CredentialsErrorCode.UNKNOWN_MODE, field="mode"
        )


def _certificates_available_from(run: CourseRunData) -> datetime.datetime | None:
    """When the run's certificates become visible, or None: from each one's award.

    As the LMS does: a self-paced run's certificates are visible once awarded; an instructor-paced
    run's wait for its certificate available date, else for its end (the display behaviour "end", for
    which the LMS itself reports the end to Credentials as the available date, seed 004).
    """
    if run.pacing_type != INSTRUCTOR_PACED:
        return None
    if run.certificate_available_date is None and run.certificate_available_date_from_lms:
        return None  # the LMS said so itself (display behaviour "early, no info"): visible once awarded
    return run.certificate_available_date or run.end


def _course_certificate_visible_date(run: CourseRunData, *, awarded_at: datetime.datetime) -> datetime.datetime | None:
    # None: visible from the award. A date before the award would claim it was visible before it existed.
    available = _certificates_available_from(run)
    if available is not None and available > awarded_at:
        return available
    return None


# --- course run schedules: visible dates of what was already awarded ---------------------------


def record_course_run_schedule(
    *,
    course_run_key: str,
    title: str,
    start: datetime.datetime | None,
    end: datetime.datetime | None,
    pacing_type: str,
    lms_last_updated_at: datetime.datetime | None = None,
) -> CourseRunChangeData:
    """Apply the LMS's schedule of a course run through the catalog (`catalog.api.record_course_run`:
    a run of a course outside the catalog is ignored) and, when that moved the date its certificates
    become visible (pacing, end), recompute the visible dates of the credentials awarded in it. Never
    awards, revokes or publishes. Idempotent. Raises CatalogError for a bad key or pacing."""
    with transaction.atomic():
        change = record_course_run(
            key=course_run_key,
            title=title,
            start=start,
            end=end,
            pacing_type=pacing_type,
            lms_last_updated_at=lms_last_updated_at,
        )
        # A run just created holds no credentials yet; an ignored one is not ours.
        if (
            change.before is not None
            and change.after is not None
            and _certificates_available_from(change.before) != _certificates_available_from(change.after)
        ):
            recompute_course_run_visible_dates(course_run_key=course_run_key)
        return change


def recompute_course_run_visible_dates(*, course_run_key: str) -> VisibleDatesData:
    """Recompute, from the run's current pacing and dates, the visible dates of the course certificates
    awarded in it and of the awarded program certificates of the learners whose course certificate
    changed. Status never changes and nothing is published: a new visible date is not a new award.
    Idempotent; locks the learners in pk order, then their credentials. Raises CatalogNotFoundError."""
    now = timezone.now()
    with transaction.atomic():
        run = get_course_run(key=course_run_key)
        lock_learners_credentials(user_ids=selectors.list_certified_learner_ids(course_run_ids=[run.id]))
        changed = []
        for credential in lock_credentials(
            status=CredentialStatus.AWARDED,
            model=CourseCertificate,
            configuration_ids=CourseCertificate.objects.filter(course_run_id=run.id).values_list("pk", flat=True),
        ):
            visible = _course_certificate_visible_date(run, awarded_at=credential.awarded_at or credential.created)
            if credential.visible_date != visible:
                credential.visible_date, credential.modified = visible, now
                changed.append(credential)
        UserCredential.objects.bulk_update(changed, ["visible_date", "modified"])
        programs_changed = _refresh_program_visible_dates(
            user_ids=sorted({c.user_id for c in changed}), course_run_id=run.id, now=now
        )
    return VisibleDatesData(course_certificates=len(changed), program_certificates=programs_changed)


def _refresh_program_visible_dates(*, user_ids: Sequence[int], course_run_id: int, now: datetime.datetime) -> int:
    """Give these learners' awarded program certificates of programs containing the run's course the
    visible date their completion now has. Neither awards nor revokes: a program they no longer
    complete keeps its date. The caller holds a transaction and the learners' locks."""
    if not user_ids:
        return 0
    programs = {p.id: p for p in list_programs_with_courses(course_run_ids=[course_run_id])}
    configurations = {c.pk: c for c in ProgramCertificate.objects.filter(program_id__in=list(programs))}
    program_by_configuration = {pk: programs[c.program_id] for pk, c in configurations.items()}
    held = lock_credentials(
        model=ProgramCertificate,
        configuration_ids=list(program_by_configuration),
        user_ids=user_ids,
        status=CredentialStatus.AWARDED,
    )
    if not held:
        return 0
    earned = selectors.list_awarded_course_certificates_by_learner(
        user_ids=user_ids, course_run_ids={run_id for p in programs.values() for run_id in p.course_run_ids}
    )
    eligible_modes = selectors.get_eligible_modes(program_type_slugs={p.type_slug for p in programs.values()})
    changed = []
    for credential in held:
        program = program_by_configuration[credential.credential_id]
        visible = _completion_visible_date(
            program=program,
            configuration=configurations[credential.credential_id],
            earned=earned.get(credential.user_id, ()),
            eligible_modes=eligible_modes[program.type_slug],
        )
        if visible is not None and credential.visible_date != visible:
            credential.visible_date, credential.modified = visible, now
            changed.append(credential)
    UserCredential.objects.bulk_update(changed, ["visible_date", "modified"])
    return len(changed)


# --- the program completion engine ---------------------------------------------------------------


def recompute_program_certificate(*, user_id: int, program: ProgramData) -> ProgramCompletionData:
    """Re-evaluate one learner's certificate of `program` (after a catalog or configuration change):
    award it when they completed the program and do not hold it. Never revokes: a changed catalog is
    not a revoked course certificate. Idempotent. Raises CredentialsError when the program has no
    certificate configuration."""
    with transaction.atomic():
        user = lock_learner_credentials(user_id=user_id)
        results = _evaluate_programs(user=user, programs=[program], allow_revoke=False)
    if not results:
        raise CredentialsError(
            f"No certificate is configured for program {program.uuid}.",
            code=CredentialsErrorCode.NO_CONFIGURATION,
            field="program_uuid",
        )
    return results[0]


def _evaluate_programs(
    *, user: User, programs: Sequence[ProgramData], allow_revoke: bool
) -> list[ProgramCompletionData]:
    """Decide (`_decide_program`) and apply each configured program of the learner's. The caller holds
    a transaction and the learner's lock, so no other change of theirs interleaves."""
    configurations = {
        c.program_id: c for c in ProgramCertificate.objects.filter(program_id__in=[p.id for p in programs])
    }
    programs = [p for p in programs if p.id in configurations]
    if not programs:
        return []
    earned = selectors.list_awarded_course_certificates(
        user_id=user.pk, course_run_ids={run_id for p in programs for run_id in p.course_run_ids}
    )
    eligible_modes = selectors.get_eligible_modes(program_type_slugs={p.type_slug for p in programs})
    held = selectors.list_program_certificate_statuses(user=user, program_ids=[p.id for p in programs])
    results = []
    for program in programs:
        configuration = configurations[program.id]
        current = held.get(program.id)
        status = current.status if current else None
        completed_from, action = _decide_program(
            program=program,
            configuration=configuration,
            earned=earned,
            eligible_modes=eligible_modes[program.type_slug],
            current_status=status,
            current_visible_date=current.visible_date if current else None,
            allow_revoke=allow_revoke,
        )
        outcome = None
        if action is not _ProgramAction.KEEP and _announceable(
            user, program=program, action=action, current_status=status
        ):
            outcome = _change_credential(
                user=user,
                configuration=configuration,
                award=action is _ProgramAction.AWARD,
                visible_date=completed_from,
            )
            status = outcome.credential.status
            if outcome.status_changed:
                enqueue_events(_program_certificate_events(user=user, credential=outcome.credential, program=program))
        results.append(
            ProgramCompletionData(
                program_uuid=program.uuid,
                complete=completed_from is not None,
                status=status,
                changed=bool(outcome and outcome.status_changed),
            )
        )
    return results


def _announceable(user: User, *, program: ProgramData, action: _ProgramAction, current_status: str | None) -> bool:
    """Whether the engine may change the learner's program certificate now. An award is announced
    with the learner's LMS id, so for a learner known only by username (the LMS's REST calls carry none
    for course certificates) a new award waits: the LMS's own program award, which carries the id,
    makes it, as does the next course certificate change once the id is known (or
    recompute_program_certificates). The course certificate itself is recorded either way. A revocation
    needs no id (`_program_certificate_events`), nor a new visible date for a certificate already held."""
    if user.lms_user_id is not None or action is _ProgramAction.REVOKE or current_status == CredentialStatus.AWARDED:
        return True
    log.info("Program %s: not awarding %s the certificate yet: their LMS user id is unknown.", program.uuid, user)
    return False


class _ProgramAction(enum.Enum):
    KEEP = "keep"
    AWARD = "award"  # or give the awarded certificate its new visible date
    REVOKE = "revoke"


def _decide_program(
    *,
    program: ProgramData,
    configuration: ProgramCertificate,
    earned: Iterable[CourseCertificateData],
    eligible_modes: frozenset[str],
    current_status: str | None,
    current_visible_date: datetime.datetime | None,
    allow_revoke: bool,
) -> tuple[datetime.datetime | None, _ProgramAction]:
    """The rules of program completion, for every path: when the learner's completion of `program`
    is visible (None: not complete) and what to do with their certificate of it (`current_status`,
    None if they never had one).

    Award a completed program to a learner who does not hold it (or holds it with another visible
    date) when its certificate is active. When `allow_revoke` (a course certificate was just revoked)
    and the configuration enables it, revoke an incomplete program's awarded certificate.
    """
    completed_from = _completion_visible_date(
        program=program, configuration=configuration, earned=earned, eligible_modes=eligible_modes
    )
    if completed_from is not None:
        if configuration.is_active and (
            current_status != CredentialStatus.AWARDED or current_visible_date != completed_from
        ):
            return completed_from, _ProgramAction.AWARD
    elif allow_revoke and configuration.is_revocation_enabled and current_status == CredentialStatus.AWARDED:
        return None, _ProgramAction.REVOKE
    return completed_from, _ProgramAction.KEEP


def _completion_visible_date(
    *,
    program: ProgramData,
    configuration: ProgramCertificate,
    earned: Iterable[CourseCertificateData],
    eligible_modes: frozenset[str],
) -> datetime.datetime | None:
    """When the learner's completion of `program` becomes visible, or None if they did not complete it.

    Complete: every course of the program has an awarded certificate in an eligible mode in any of its
    runs. Each course counts from its earliest visible such certificate (visible date, else award time);
    the program from the latest of those and of the certificate's available date, if it has one. A
    program without courses is never complete.
    """
    if not program.courses:
        return None
    visible_by_run: dict[int, list[datetime.datetime]] = {}
    for certificate in earned:
        if certificate.mode in eligible_modes:
            visible = certificate.visible_date or certificate.awarded_at or timezone.now()
            visible_by_run.setdefault(certificate.course_run_id, []).append(visible)
    latest: datetime.datetime | None = None
    for course in program.courses:
        dates = [date for run in course.runs for date in visible_by_run.get(run.id, ())]
        if not dates:
            return None
        course_visible = min(dates)
        latest = course_visible if latest is None else max(latest, course_visible)
    if latest is not None and configuration.certificate_available_date is not None:
        latest = max(latest, configuration.certificate_available_date)
    return latest


def _program_certificate_events(*, user: User, credential: UserCredential, program: ProgramData) -> list[OutgoingEvent]:
    """PROGRAM_CERTIFICATE_AWARDED or _REVOKED for the credential's status, as it is now. The event
    names learners by LMS id (anything else could name another learner), so for a learner without
    one: an award raises CredentialsError; a revocation is announced by nothing (a log line), since no
    award of theirs was ever announced either (it came from an import or before their id was known)."""
    if user.lms_user_id is None:
        if credential.status == CredentialStatus.REVOKED:
            log.info("Program %s: %s's certificate is revoked unannounced: no LMS user id.", program.uuid, user)
            return []
        raise CredentialsError(
            f"Learner {user} has no LMS user id, which a program certificate event must carry.",
            code=CredentialsErrorCode.NO_LMS_USER_ID,
        )
    return [_program_certificate_event(user=user, credential=credential, program=program)]


def _program_certificate_event(*, user: User, credential: UserCredential, program: ProgramData) -> OutgoingEvent:
    assert user.lms_user_id is not None
    awarded = credential.status == CredentialStatus.AWARDED
    return OutgoingEvent(
        signal=PROGRAM_CERTIFICATE_AWARDED if awarded else PROGRAM_CERTIFICATE_REVOKED,
        # One key per learner and program, so the relay keeps their awarded/revoked events in order.
        key=f"{user.lms_user_id}:{program.uuid}",
        data={
            "program_certificate": ProgramCertificateData(
                user=UserData(
                    id=user.lms_user_id,
                    is_active=user.is_active,
                    pii=UserPersonalData(username=user.username or "", email=user.email or "", name=user.full_name),
                ),
                program=EventProgramData(uuid=str(program.uuid), title=program.title, program_type=program.type_slug),
                uuid=str(credential.uuid),
                status=credential.status,
                url=certificate_url(credential_uuid=credential.uuid),
                certificate_available_date=credential.visible_date or credential.awarded_at,
            )
        },
    )


def certificate_url(*, credential_uuid: uuid.UUID) -> str:
    """A course or program certificate's public page: the original's /credentials/<uuid hex>/, here."""
    return settings.CREDENTIALS_PUBLIC_URL + reverse("credentials:certificate", args=[credential_uuid.hex])


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


def record_course_certificate_configuration(
    *,
    course_run_key: str,
    mode: str,
    title: str,
    is_active: bool,
    signatories: Sequence[SignatoryData] = (),
    lms_last_updated_at: datetime.datetime | None = None,
) -> CourseCertificate | None:
    """Apply the LMS's certificate configuration of a course run in `mode`: title, active or not, and
    signatories (found by name, title and organization, created when new). A run unknown to the
    catalog is created when its course is in the catalog; for a course outside it nothing is done and
    None is returned. An update older than the last one applied (by the LMS's time) changes nothing.
    Idempotent. Raises CredentialsError for an unknown mode."""
    _check_mode(mode)
    with transaction.atomic():
        try:
            run = get_or_create_course_run(key=course_run_key)
        except CatalogNotFoundError:
            log.info("Ignoring the LMS's %s certificate of %s: its course is not in the catalog.", mode, course_run_key)
            return None
        configuration = _lock_or_create_course_certificate(course_run_id=run.id, mode=mode)
        if _is_older(lms_last_updated_at, than=configuration.lms_last_updated_at):
            return configuration
        wanted: dict[str, object] = {"title": title, "is_active": is_active}
        if lms_last_updated_at:
            wanted["lms_last_updated_at"] = lms_last_updated_at
        _apply(configuration, {name: value for name, value in wanted.items() if getattr(configuration, name) != value})
        configuration.signatories.set([_get_or_create_signatory(signatory) for signatory in signatories])
        return configuration


def deactivate_course_certificate_configuration(
    *, course_run_key: str, mode: str, lms_last_updated_at: datetime.datetime | None = None
) -> CourseCertificate | None:
    """Mark the course run's certificate configuration in `mode` inactive. Never deletes it: learners'
    credentials point at it. None when there is no such configuration (nothing to deactivate). An
    update older than the last one applied changes nothing. Idempotent."""
    with transaction.atomic():
        try:
            run = get_course_run(key=course_run_key)
        except CatalogNotFoundError:
            return None
        configuration = lock_course_certificate(course_run_id=run.id, mode=mode)
        if configuration is None or _is_older(lms_last_updated_at, than=configuration.lms_last_updated_at):
            return configuration
        updates: dict[str, object] = {"is_active": False} if configuration.is_active else {}
        if lms_last_updated_at and configuration.lms_last_updated_at != lms_last_updated_at:
            updates["lms_last_updated_at"] = lms_last_updated_at
        return _apply(configuration, updates)


def _lock_or_create_course_certificate(*, course_run_id: int, mode: str) -> CourseCertificate:
    # The caller holds a transaction.
    configuration = lock_course_certificate(course_run_id=course_run_id, mode=mode)
    if configuration is not None:
        return configuration
    try:
        with transaction.atomic():
            return CourseCertificate.objects.create(course_run_id=course_run_id, certificate_type=mode)
    except IntegrityError:
        # Another transaction created it between our lock attempt and insert: lock theirs.
        configuration = lock_course_certificate(course_run_id=course_run_id, mode=mode)
        assert configuration is not None
        return configuration


def _is_older(when: datetime.datetime | None, *, than: datetime.datetime | None) -> bool:
    return when is not None and than is not None and when < than


def _get_or_create_signatory(data: SignatoryData) -> Signatory:
    fields = {"name": data.name, "title": data.title, "organization_name_override": data.organization}
    return Signatory.objects.filter(**fields).order_by("pk").first() or Signatory.objects.create(**fields)


def configure_program_certificate(
    *,
    program_uuid: uuid.UUID,
    title_override: str = "",
    is_active: bool = True,
    is_revocation_enabled: bool = False,
    certificate_available_date: datetime.datetime | None = None,
) -> ProgramCertificate:
    """Create or update the program's certificate configuration. Idempotent. Learners who completed
    the program before it was configured, or whose certificates should follow a new available date,
    get theirs from `recompute_program_certificates`."""
    program = get_program(program_uuid=program_uuid)
    configuration, _ = ProgramCertificate.objects.update_or_create(
        program_id=program.id,
        defaults={
            "title_override": title_override,
            "is_active": is_active,
            "is_revocation_enabled": is_revocation_enabled,
            "certificate_available_date": certificate_available_date,
        },
    )
    return configuration


def configure_program_type(*, type_slug: str, eligible_modes: Iterable[str]) -> ProgramTypeConfiguration:
    """Create or update which course certificate modes count towards programs of this type.
    Idempotent; raises CredentialsError for no mode or an unknown one."""
    modes = sorted(set(eligible_modes))
    unknown = [mode for mode in modes if mode not in CertificateMode.values]
    if unknown or not modes:
        raise CredentialsError(
            f"Unknown modes: {', '.join(unknown)}." if unknown else "Choose at least one mode.",
            code=CredentialsErrorCode.UNKNOWN_MODE,
            field="eligible_modes",
        )
    configuration, _ = ProgramTypeConfiguration.objects.update_or_create(
        type_slug=type_slug, defaults={"eligible_modes": modes}
    )
    return configuration


# --- grades ------------------------------------------------------------------------------------

PERCENT_PLACES = Decimal("0.0001")  # UserGrade.percent_grade's decimal places


def record_grade(
    *,
    user: User,
    course_run_key: str,
    percent_grade: Decimal | None,
    passed: bool,
    letter_grade: str | None = "",
    passed_at: datetime.datetime | None = None,
    lms_last_updated_at: datetime.datetime | None = None,
) -> UserGrade:
    """`record_grades` for one grade of a known learner."""
    update = GradeUpdate(
        learner=LearnerIdentity(lms_user_id=user.lms_user_id, username=user.username),
        course_run_key=course_run_key,
        percent_grade=percent_grade,
        passed=passed,
        letter_grade=letter_grade,
        passed_at=passed_at,
        lms_last_updated_at=lms_last_updated_at,
    )
    return record_grades(updates=[update])[0]


def record_grades(*, updates: Sequence[GradeUpdate]) -> list[UserGrade]:
    """Record learners' grades in course runs, in order, finding or creating each learner
    (`core.api.get_or_create_learners`). An update older than the stored grade (by the LMS's
    timestamp) is ignored, so out-of-order delivery never rolls a grade back. A None percent or letter
    (a passing-status event carries neither) keeps the stored one; a new grade starts at 0 and "".
    `passed_at` is the LMS's time of passing (default: now, when first passing). Idempotent. Returns
    each update's grade.

    A fixed number of queries whatever the number of updates; all or nothing: raises
    CredentialsError for a percent outside 0..1, CatalogNotFoundError for an unknown run,
    LearnerIdentityError. Locks the learners in pk order, then their grades in pk order.
    """
    percents = [_grade_percent(update.percent_grade) for update in updates]
    runs = get_course_runs(keys=[update.course_run_key for update in updates])
    now = timezone.now()
    # Inside the caller's transaction no savepoint is needed: an error leaves through it.
    with transaction.atomic(savepoint=False):
        users = get_or_create_learners([update.learner for update in updates])
        held = {
            (grade.user_id, grade.course_run_id): grade
            for grade in UserGrade.objects.select_for_update()
            .filter(user_id__in={u.pk for u in users}, course_run_id__in={run.id for run in runs.values()})
            .order_by("pk")
        }
        grades, new, changed = [], [], {}
        for update, percent, user in zip(updates, percents, users, strict=True):
            run_id = runs[update.course_run_key].id
            grade = held.get((user.pk, run_id))
            fields = _grade_changes(grade, update=update, percent=percent, now=now)
            if grade is None:
                grade = held[(user.pk, run_id)] = UserGrade(user=user, course_run_id=run_id, **fields)
                new.append(grade)
            elif fields:
                for name, value in fields.items():
                    setattr(grade, name, value)
                if grade.pk is not None:
                    grade.modified = now  # bulk_update leaves auto_now fields alone
                    changed[grade.pk] = grade
            grades.append(grade)
        UserGrade.objects.bulk_create(new)
        UserGrade.objects.bulk_update(list(changed.values()), [*_GRADE_FIELDS, "modified"])
    return grades


_GRADE_FIELDS = ("letter_grade", "percent_grade", "passed", "passed_timestamp", "lms_last_updated_at", "verified")


def _grade_percent(percent_grade: Decimal | None) -> Decimal | None:
    """The percent as stored (four places), or None; raises CredentialsError outside 0..1."""
    if percent_grade is None:
        return None
    percent = Decimal(percent_grade)
    if not (percent.is_finite() and Decimal(0) <= percent <= Decimal(1)):
        raise CredentialsError(
            f"percent_grade must be between 0 and 1, got {percent_grade}.",
            code=CredentialsErrorCode.INVALID_GRADE,
            field="percent_grade",
        )
    return percent.quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)


def _grade_changes(
    grade: UserGrade | None, *, update: GradeUpdate, percent: Decimal | None, now: datetime.datetime
) -> dict[str, object]:
    """The rules of recording a grade: the fields to set on the learner's grade (all of a new one's
    when `grade` is None), or none when the update is older than the stored grade."""
    if grade is None:
        return {
            "letter_grade": update.letter_grade or "",
            "percent_grade": percent if percent is not None else Decimal(0),
            "passed": bool(update.passed),
            "passed_timestamp": (update.passed_at or now) if update.passed else None,
            "lms_last_updated_at": update.lms_last_updated_at,
            "verified": update.verified if update.verified is not None else True,
        }
    stored_at = grade.lms_last_updated_at
    if update.lms_last_updated_at and stored_at and update.lms_last_updated_at < stored_at:
        return {}
    fields: dict[str, object] = {"lms_last_updated_at": update.lms_last_updated_at or stored_at}
    if update.passed is not None:
        fields["passed"] = update.passed
        fields["passed_timestamp"] = (
            (update.passed_at or (grade.passed_timestamp if grade.passed else now)) if update.passed else None
        )
    if update.verified is not None:
        fields["verified"] = update.verified
    if update.letter_grade is not None:
        fields["letter_grade"] = update.letter_grade
    if percent is not None:
        fields["percent_grade"] = percent
    return fields


# --- the LMS's certificate configuration and available date (v2 API) ---


def record_course_certificate_availability(
    *,
    course_run_key: str,
    mode: str,
    is_active: bool,
    certificate_available_date: datetime.datetime | None,
) -> CourseCertificateConfigurationData:
    """The LMS's POST /api/v2/course_certificates/, in one transaction: create or update the run's
    certificate configuration in `mode` (only `is_active`: never its title or signatories), store the
    run's certificate available date in the catalog and, when that moved the date the run's
    certificates become visible, recompute the visible dates of what was already awarded in it. A run
    unknown to the catalog is created when its course is in the catalog. Idempotent. Raises
    CredentialsError for an unknown mode, CatalogNotFoundError when the run's course is not in the
    catalog, CatalogError for a key that is not a course run key."""
    _check_mode(mode)
    with transaction.atomic():
        get_or_create_course_run(key=course_run_key)
        # Lock order: the run's row (setting its date), then its configuration.
        change = set_certificate_available_date(
            key=course_run_key, certificate_available_date=certificate_available_date
        )
        assert change.before is not None and change.after is not None
        configuration = _lock_or_create_course_certificate(course_run_id=change.after.id, mode=mode)
        if configuration.is_active != is_active:
            _apply(configuration, {"is_active": is_active})
        if _certificates_available_from(change.before) != _certificates_available_from(change.after):
            recompute_course_run_visible_dates(course_run_key=course_run_key)
    return CourseCertificateConfigurationData(
        id=configuration.pk,
        course_run_key=change.after.key,
        mode=configuration.certificate_type,
        is_active=configuration.is_active,
        certificate_available_date=change.after.certificate_available_date,
    )
