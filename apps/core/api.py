"""The core app's public interface: learner identity, shared errors and permissions helpers."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from secrets import token_urlsafe
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, connection, transaction
from django.db.models import ForeignKey, ManyToManyField, Model, Q
from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .data import LearnerIdentity
from .exceptions import CoreErrorCode, DomainError, LearnerIdentityError, NotFoundError
from .http import parse_retry_after
from .models import TimeStampedModel, User

if TYPE_CHECKING:
    # Not at run time: rest_framework.views loads the authentication classes, which import this module.
    from rest_framework.views import APIView

__all__ = [
    "DomainError",
    "IsSelfOrPrivileged",
    "LearnerIdentity",
    "LearnerIdentityError",
    "LearnerMergeHandler",
    "NotFoundError",
    "TimeStampedModel",
    "User",
    "find_current_learner",
    "get_learner",
    "get_or_create_learner",
    "get_or_create_learners",
    "is_privileged",
    "lock_learner",
    "lock_learners",
    "parse_retry_after",
    "register_learner_merge",
    "request_user",
]

log = logging.getLogger(__name__)


def is_privileged(user: User) -> bool:
    """Staff and the configured service accounts may see and change every learner's data."""
    return bool(user.is_staff or user.is_superuser or user.username in settings.CREDENTIALS_SERVICE_USERNAMES)


def request_user(request: HttpRequest | Request) -> User:
    """The request's authenticated User; raise NotAuthenticated for an anonymous request."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


class IsSelfOrPrivileged(BasePermission):
    """Learners read only their own data: naming another learner in `?username=` is a 403 unless the
    requester is staff or a service user. Shared by the records and badges APIs."""

    message = "Learners may read only their own records."

    def has_permission(self, request: Request, view: APIView) -> bool:
        username = request.query_params.get("username")
        return bool(not username or username == request.user.username or is_privileged(request_user(request)))


def get_learner(*, username: str) -> User:
    """Return the user with this username; raise NotFoundError otherwise."""
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFoundError(
            f"No learner {username!r}.", code=CoreErrorCode.MISSING_IDENTITY, field="username"
        ) from None


def lock_learner(*, user_id: int) -> User:
    """Lock the user's row until the caller's transaction ends, and return it: changes to one
    learner's data that depend on each other (their credentials) queue up behind it. Must run inside
    a transaction; raises User.DoesNotExist."""
    return User.objects.select_for_update().get(pk=user_id)


def lock_learners(*, user_ids: Iterable[int]) -> list[int]:
    """Lock these learners' rows, in pk order, until the caller's transaction ends; return the ids of
    those that exist. Must run inside a transaction."""
    return list(
        User.objects.select_for_update().filter(pk__in=list(user_ids)).order_by("pk").values_list("pk", flat=True)
    )


def find_current_learner(
    *,
    lms_user_id: int | None = None,
    username: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
) -> User | None:
    """The learner these facts name when their record already holds every one of them (nothing to
    create, complete, rename or merge), in one query and without a lock; else None, and
    `get_or_create_learner` resolves them. For hot paths that mostly see known learners, such as
    authenticating each request's token."""
    if not username:
        return None
    user = User.objects.filter(username=username).first()
    if user is None or (lms_user_id is not None and user.lms_user_id != lms_user_id):
        return None
    if any(
        value not in (None, "") and getattr(user, name) != value
        for name, value in (("email", email), ("full_name", full_name))
    ):
        return None
    return user


def get_or_create_learner(
    *,
    lms_user_id: int | None = None,
    username: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
) -> User:
    """Find the learner by LMS id, else by username, creating or completing them; lock their row until
    the caller's transaction ends. Idempotent.

    The LMS id is authoritative: when a username now belongs to another LMS id (a rename in the
    LMS), the stale holder loses it. Two partial records of one person, one with only this LMS id
    (a grade event made it) and one with only this username (the LMS's REST calls, the importer),
    are merged into the first, which takes the username (see `register_learner_merge`). Any other
    clash (the username's record has no LMS id but the id's record has another username, or the
    username-only record is an operator's: staff, superuser, a service account or a password) raises
    LearnerIdentityError rather than guess, as does a merge that other apps' rows forbid.
    """
    identity = LearnerIdentity(lms_user_id=lms_user_id, username=username, email=email, full_name=full_name)
    return get_or_create_learners([identity])[0]


def get_or_create_learners(identities: Sequence[LearnerIdentity]) -> list[User]:
    """`get_or_create_learner` for each identity, in order (a later one sees what an earlier one did),
    in a fixed number of queries whatever their number; returns one user per identity, as resolving
    that identity left them (a later one may have changed their email or name since). Locks every
    learner involved, in pk order, until the caller's transaction ends. All or nothing: raises
    LearnerIdentityError for the first identity that is missing or conflicts.

    A merge of two partial records (see `get_or_create_learner`) costs extra queries (the merge
    handlers', then an update and a savepoint per table referencing users, then the delete); the
    identities that merge nothing cost what they did. An identity resolved earlier in the batch to
    the record merged away gets the surviving learner."""
    for identity in identities:
        if identity.lms_user_id is None and not identity.username:
            raise LearnerIdentityError(
                "A learner needs an LMS user id or a username.", code=CoreErrorCode.MISSING_IDENTITY, field="username"
            )
    for attempt in range(2):
        # Locks need a transaction (this one, if the caller has none); a savepoint is needed only
        # around the writes, to retry them, so an identity error leaves the caller's transaction usable.
        with nullcontext() if connection.in_atomic_block else transaction.atomic():
            learners, resolved = _resolve_learners(identities)
            if learners.writes():
                try:
                    with transaction.atomic():
                        learners.save()
                except IntegrityError:
                    # A concurrent call created one of these learners first; the second pass finds them.
                    if attempt:
                        raise
                    continue
            # A later identity may have changed a learner again (a new email): each gets the learner
            # as it left them, as if resolved and saved one at a time.
            return [user if _identity_of(user) == fields else _as_of(user, fields) for user, fields in resolved]
    raise AssertionError("unreachable")


@dataclass
class _Learners:
    """The users an identity can name, locked, changed in memory as each identity is resolved and
    written at the end: a later identity sees what an earlier one did, as if each had been saved."""

    by_id: dict[int, User]
    by_name: dict[str, User]
    new: list[User] = field(default_factory=list)
    changed: dict[int, User] = field(default_factory=dict)
    stored_usernames: dict[int, str | None] = field(default_factory=dict)  # before any change
    merges: list[tuple[User, User]] = field(default_factory=list)  # (merged away, into) to write
    merged_away: list[User] = field(default_factory=list)  # by the identity being resolved

    def set_username(self, user: User, username: str | None) -> None:
        if user.username is not None and self.by_name.get(user.username) is user:
            del self.by_name[user.username]
        if user.pk is not None:
            self.stored_usernames.setdefault(user.pk, user.username)
        self.set(user, "username", username)
        if username is not None:
            self.by_name[username] = user

    def set(self, user: User, name: str, value: object) -> None:
        setattr(user, name, value)
        if name == "lms_user_id" and user.lms_user_id is not None:
            self.by_id[user.lms_user_id] = user
        if user.pk is not None:
            self.changed[user.pk] = user

    def create(self, *, lms_user_id: int | None, username: str | None) -> User:
        # Unusable (learners sign in through the LMS) and random, as set_unusable_password() makes
        # it, whose get_random_string() draws each character separately: a tenth of the cost.
        user = User(lms_user_id=lms_user_id, username=username, password=UNUSABLE_PASSWORD_PREFIX + token_urlsafe(30))
        self.new.append(user)
        if lms_user_id is not None:
            self.by_id[lms_user_id] = user
        if username is not None:
            self.by_name[username] = user
        return user

    def merge(self, source: User, *, into: User) -> User:
        """One person's two partial records, `into` (LMS id only) and `source` (username only), become
        one and return it, with `into`'s LMS id, `source`'s username, and `into`'s email and full name
        unless it has none. Both stored: `into` survives and `save()` moves `source`'s rows to it,
        then deletes it. One created earlier in this batch has no rows: it is simply not created
        (when it is `into`, `source` survives and takes its LMS id)."""
        assert source.username is not None and source.lms_user_id is None and into.username is None
        survivor, gone = (source, into) if into.pk is None else (into, source)
        self.merged_away.append(gone)
        if gone.pk is None:
            self.new.remove(gone)  # unsaved models compare by identity
        else:
            self.merges.append((gone, survivor))
            self.changed.pop(gone.pk, None)
            self.stored_usernames.pop(gone.pk, None)
        for name in ("email", "full_name"):
            value = getattr(into, name) or getattr(source, name)
            if getattr(survivor, name) != value:
                self.set(survivor, name, value)
        if survivor is into:
            self.set_username(into, source.username)
        else:
            self.set(source, "lms_user_id", into.lms_user_id)
        return survivor

    def writes(self) -> bool:
        return bool(self.new or self.changed or self.merges)

    def save(self) -> None:
        # Usernames are unique: first free those that moved, so that any row may take them.
        moved = [self.changed[pk] for pk, stored in self.stored_usernames.items() if stored is not None]
        if moved:
            User.objects.bulk_update([User(pk=user.pk, username=None) for user in moved], ["username"])
        # Records merged away (always into stored ones) go next: their usernames are then free both for
        # the records they joined and for new learners of this batch (a rename reusing one).
        for source, into in self.merges:
            _merge_rows(source, into)
        if self.merges:
            User.objects.filter(pk__in=[source.pk for source, _ in self.merges]).delete()
        # In key order, not the events': two transactions creating the same learners then wait for
        # each other's first one instead of each holding one the other needs (a deadlock).
        User.objects.bulk_create(sorted(self.new, key=lambda u: (u.lms_user_id or 0, u.username or "")))
        if self.changed:
            User.objects.bulk_update(list(self.changed.values()), list(_IDENTITY_FIELDS))


def _resolve_learners(
    identities: Sequence[LearnerIdentity],
) -> tuple[_Learners, list[tuple[User, tuple[object, ...]]]]:
    """Lock the learners these identities name and resolve each in memory, in order (`save()` writes
    what that changed); for each identity, its learner and their identity fields as it left them."""
    ids = {i.lms_user_id for i in identities if i.lms_user_id is not None}
    names = {i.username for i in identities if i.username}
    candidates = list(
        User.objects.select_for_update().filter(Q(lms_user_id__in=ids) | Q(username__in=names)).order_by("pk")
    )
    learners = _Learners(
        by_id={u.lms_user_id: u for u in candidates if u.lms_user_id is not None},
        by_name={u.username: u for u in candidates if u.username is not None},
    )
    resolved: list[tuple[User, tuple[object, ...]]] = []
    for identity in identities:
        user = _resolve_learner(learners, identity)
        if learners.merged_away:
            # This identity merged two records: an earlier identity that resolved to the one that
            # is gone gets the learner it became part of, as this identity leaves them.
            gone = learners.merged_away.pop()
            resolved = [(user, _identity_of(user)) if u is gone else (u, f) for u, f in resolved]
        resolved.append((user, _identity_of(user)))
    return learners, resolved


_IDENTITY_FIELDS = ("lms_user_id", "username", "email", "full_name")


def _identity_of(user: User) -> tuple[object, ...]:
    return tuple(getattr(user, name) for name in _IDENTITY_FIELDS)


def _as_of(user: User, fields: tuple[object, ...]) -> User:
    earlier = copy.copy(user)
    for name, value in zip(_IDENTITY_FIELDS, fields, strict=True):
        setattr(earlier, name, value)
    return earlier


def _resolve_learner(learners: _Learners, identity: LearnerIdentity) -> User:
    lms_user_id, username = identity.lms_user_id, identity.username or None
    by_id = learners.by_id.get(lms_user_id) if lms_user_id is not None else None
    by_name = learners.by_name.get(username) if username else None

    if by_id and by_name and by_id is not by_name:
        if by_name.lms_user_id is None:
            # One person's two partial records (one from a grade event, one from the LMS's REST calls
            # or an import): this identity proves them one. Keep the id's, which the LMS's events
            # name, unless either is more than a partial learner record (then keep today's refusal).
            _ensure_mergeable(by_id, by_name, lms_user_id=lms_user_id, username=username)
            log.info("Merging the record of username %r into that of LMS user %s", username, lms_user_id)
            return _complete(learners, learners.merge(by_name, into=by_id), identity)
        log.info("Username %r moved from LMS user %s to %s", username, by_name.lms_user_id, lms_user_id)
        learners.set_username(by_name, None)
        by_name = None

    user = by_id or by_name
    if user is None:
        return _complete(learners, learners.create(lms_user_id=lms_user_id, username=username), identity)
    if by_name and lms_user_id is not None and by_name.lms_user_id not in (None, lms_user_id):
        # The username belongs to a different LMS id and nobody holds this id: a new learner took
        # over a freed username.
        learners.set_username(by_name, None)
        return _complete(learners, learners.create(lms_user_id=lms_user_id, username=username), identity)
    return _complete(learners, user, identity)


def _ensure_mergeable(into: User, source: User, *, lms_user_id: int | None, username: str | None) -> None:
    """Raise LearnerIdentityError unless `source` (username only) may be merged into `into` (LMS id
    only): `into` must have no username of its own (else the LMS renamed someone, or the username
    was reused: nothing proves which), and `source` must be a learner record as identity resolution
    makes them (no usable password, not staff, superuser or a service account: an operator's account
    made here is never folded into a learner's)."""
    reason = ""
    if into.username is not None:
        reason = f"LMS user {lms_user_id} is {into.username!r} here"
    elif source.has_usable_password() or is_privileged(source):
        reason = f"{username!r} is an operator's account"
    if reason:
        raise LearnerIdentityError(
            f"LMS user {lms_user_id} and username {username!r} are two separate records here, and they "
            f"cannot be merged: {reason}.",
            code=CoreErrorCode.IDENTITY_CONFLICT,
        )


class LearnerMergeHandler(Protocol):
    """An app's part of merging one learner's record into another's (see `register_learner_merge`)."""

    def __call__(self, *, from_user_id: int, into_user_id: int) -> None: ...


_MERGE_HANDLERS: list[LearnerMergeHandler] = []


def register_learner_merge(handler: LearnerMergeHandler) -> None:
    """Have `handler(from_user_id=, into_user_id=)` called whenever identity resolution merges two
    records of one person (`get_or_create_learner`). It runs inside the caller's transaction, with
    both users' rows locked, before the record merged away is deleted. It moves its app's rows from
    the one user to the other, resolving its own unique constraints (keep one row, delete the other),
    and must neither publish events nor call other apps' services: a merge awards and revokes
    nothing. Core then moves any rows left in every table referencing users; one that clashes there
    makes the merge an IDENTITY_CONFLICT naming the table, rolled back whole. Call it from
    AppConfig.ready(); registering a handler again changes nothing."""
    if handler not in _MERGE_HANDLERS:
        _MERGE_HANDLERS.append(handler)


def _merge_rows(source: User, into: User) -> None:
    """Move every row referencing `source` to `into`: each app's merge handler first, in the order
    they registered, then core, table by table, each in a savepoint, whatever no handler moved."""
    for handler in _MERGE_HANDLERS:
        handler(from_user_id=source.pk, into_user_id=into.pk)
    for model, key in _user_references():
        try:
            with transaction.atomic():
                model._base_manager.filter(**{key: source.pk}).update(**{key: into.pk})
        except IntegrityError:
            raise LearnerIdentityError(
                f"LMS user {into.lms_user_id} and username {source.username!r} are two separate records here, "
                f"and they cannot be merged: both have rows in {model._meta.db_table} that clash.",
                code=CoreErrorCode.IDENTITY_CONFLICT,
            ) from None


def _user_references() -> list[tuple[type[Model], str]]:
    """Each table with a foreign key (or one-to-one) to a user's pk, as its model and the key's
    name: other apps' models, and the many-to-many tables (groups, permissions)."""
    references: list[tuple[type[Model], str]] = []
    for relation in User._meta.related_objects:
        field = relation.field
        if isinstance(field, ManyToManyField):
            through = field.remote_field.through
            if through is not None and through._meta.auto_created:  # else its foreign key is listed too
                references.append((through, field.m2m_reverse_field_name()))
        elif isinstance(field, ForeignKey) and field.target_field.primary_key:
            references.append((field.model, field.name))
    for many in User._meta.many_to_many:
        through = many.remote_field.through
        if isinstance(many, ManyToManyField) and through is not None:
            references.append((through, many.m2m_field_name()))
    return references


def _complete(learners: _Learners, user: User, identity: LearnerIdentity) -> User:
    username = identity.username or None
    if username is not None and user.username != username:
        learners.set_username(user, username)
    for name, value in (
        ("lms_user_id", identity.lms_user_id),
        ("email", identity.email),
        ("full_name", identity.full_name),
    ):
        if value not in (None, "") and getattr(user, name) != value:
            learners.set(user, name, value)
    return user
