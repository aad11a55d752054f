"""One learner's two records merged into one (core's identity resolution; see
`core.api.register_learner_merge`): this app's part moves their credentials and grades.

Core calls `merge_learner_records` inside the caller's transaction with both users' rows locked (the
lock every award and revocation takes first), so no credential of either changes meanwhile.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from .models import CredentialStatus, UserCredential, UserCredentialAttribute, UserGrade

log = logging.getLogger(__name__)


class _Owned(Protocol):
    user_id: int


def merge_learner_records(*, from_user_id: int, into_user_id: int) -> None:
    """Move every credential and grade of `from_user_id` to `into_user_id`. Where both hold a
    credential of one configuration (a course run's certificate in one mode, a program's, a badge, a
    PDF credential), one is kept and the other deleted (`_kept_credential`); where both hold a grade
    in one course run, the later one is kept.

    Evaluates no program and publishes nothing: a merge awards and revokes nothing, it only puts one
    person's rows together, and the events already published still hold. The merged learner may now
    hold every course certificate a program needs (some from each record) without its program
    certificate: that is awarded by their next course certificate change, by the LMS's own program
    award (which names both their id and username) or by `recompute_program_certificates`."""
    _merge_credentials(from_user_id=from_user_id, into_user_id=into_user_id)
    _merge_grades(from_user_id=from_user_id, into_user_id=into_user_id)


def _merge_credentials(*, from_user_id: int, into_user_id: int) -> None:
    credentials = (
        UserCredential.objects.select_for_update().filter(user_id__in=[from_user_id, into_user_id]).order_by("pk")
    )
    pairs = _clashing(
        credentials,
        key=lambda c: (c.credential_content_type_id, c.credential_id),
        from_user_id=from_user_id,
    )
    kept_of: dict[int, int] = {}  # the deleted credential's pk -> the kept one's
    for stays, goes in pairs:
        kept = _kept_credential(stays, goes)
        dropped = goes if kept is stays else stays
        kept_of[dropped.pk] = kept.pk
        log.info("Learner merge: credential %s kept, %s deleted (one configuration)", kept.uuid, dropped.uuid)
    if kept_of:
        # The LMS's attributes of the deleted one join the kept one's, where it has none of that name.
        attributes = list(
            UserCredentialAttribute.objects.select_for_update()
            .filter(user_credential_id__in=[*kept_of, *kept_of.values()])
            .order_by("pk")
        )
        names = {(a.user_credential_id, a.name) for a in attributes if a.user_credential_id not in kept_of}
        moving = []
        for attribute in attributes:
            kept_pk = kept_of.get(attribute.user_credential_id)
            if kept_pk is not None and (kept_pk, attribute.name) not in names:
                attribute.user_credential_id = kept_pk
                names.add((kept_pk, attribute.name))
                moving.append(attribute)
        UserCredentialAttribute.objects.bulk_update(moving, ["user_credential"])
        UserCredential.objects.filter(pk__in=list(kept_of)).delete()
    UserCredential.objects.filter(user_id=from_user_id).update(user_id=into_user_id)


def _kept_credential(first: UserCredential, second: UserCredential) -> UserCredential:
    """Of one learner's two credentials of one configuration: the awarded one; of two awarded, the
    earlier awarded (the learner has held it since, and may have shared its link); of two revoked,
    the later revoked (the LMS's last word). A tie keeps `first`."""
    if first.status != second.status:
        return first if first.status == CredentialStatus.AWARDED else second
    if first.status == CredentialStatus.AWARDED:
        return second if _time(second.awarded_at, second.created) < _time(first.awarded_at, first.created) else first
    return second if _time(second.revoked_at, second.modified) > _time(first.revoked_at, first.modified) else first


def _merge_grades(*, from_user_id: int, into_user_id: int) -> None:
    grades = UserGrade.objects.select_for_update().filter(user_id__in=[from_user_id, into_user_id]).order_by("pk")
    dropped = []
    for stays, goes in _clashing(grades, key=lambda g: g.course_run_id, from_user_id=from_user_id):
        kept = _kept_grade(stays, goes)
        dropped.append((goes if kept is stays else stays).pk)
    if dropped:
        log.info("Learner merge: %d grades deleted (the other record's were later)", len(dropped))
        UserGrade.objects.filter(pk__in=dropped).delete()
    UserGrade.objects.filter(user_id=from_user_id).update(user_id=into_user_id)


def _kept_grade(first: UserGrade, second: UserGrade) -> UserGrade:
    """Of one learner's two grades in one run: the later by the LMS's time when both have one, else
    the one written here last. A tie keeps `first`."""
    if (
        first.lms_last_updated_at
        and second.lms_last_updated_at
        and first.lms_last_updated_at != second.lms_last_updated_at
    ):
        return second if second.lms_last_updated_at > first.lms_last_updated_at else first
    return second if second.modified > first.modified else first


def _clashing[Row: _Owned](
    rows: Iterable[Row], *, key: Callable[[Row], object], from_user_id: int
) -> list[tuple[Row, Row]]:
    """The pairs of rows of the two users with one key, each as (the surviving user's, the other's)."""
    into_rows: dict[object, Row] = {}
    from_rows: dict[object, Row] = {}
    for row in rows:
        (from_rows if row.user_id == from_user_id else into_rows)[key(row)] = row
    return [(into_rows[k], row) for k, row in from_rows.items() if k in into_rows]


def _time(when: datetime.datetime | None, fallback: datetime.datetime) -> datetime.datetime:
    return when or fallback
