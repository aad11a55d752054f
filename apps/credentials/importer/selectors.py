"""Reads of the credentials import: its checkpoint, the learners whose grades to ask the source for,
and which grades this service already holds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.contrib.contenttypes.models import ContentType

from apps.credentials.models import (
    CourseCertificate,
    CredentialImport,
    CredentialImportSkip,
    UserCredential,
    UserGrade,
)

from .data import LearnerRunsQuery


def get_import(*, source_url: str) -> CredentialImport | None:
    """The checkpoint of the import of `source_url`, or None if it never started."""
    return CredentialImport.objects.filter(source_url=source_url).first()


def list_skip_reasons(*, source_url: str, limit: int) -> list[str]:
    """The first `limit` skips recorded for the import of `source_url`, as "<uuid> (<username>): <reason>"."""
    rows = (
        CredentialImportSkip.objects.filter(credential_import__source_url=source_url)
        .order_by("pk")
        .values_list("source_uuid", "username", "reason")[:limit]
    )
    return [f"{source_uuid} ({username}): {reason}" for source_uuid, username, reason in rows]


def iter_grade_queries(
    *, batch: int, read: Iterable[tuple[str, str]] | None = None
) -> Iterator[list[LearnerRunsQuery]]:
    """What to ask the source about for grades, `batch` learners at a time: the learners holding course
    certificates here with their runs (`list_learners_course_runs`), or, given `read` (username,
    course run key) pairs, those learners and runs (a dry run, which wrote nothing)."""
    if read is not None:
        runs: dict[str, set[str]] = {}
        for username, key in read:
            runs.setdefault(username, set()).add(key)
        queries = [LearnerRunsQuery(username=name, course_run_keys=tuple(sorted(keys))) for name, keys in runs.items()]
        for start in range(0, len(queries), batch):
            yield queries[start : start + batch]
        return
    after = ""
    while queries := list_learners_course_runs(after_username=after, limit=batch):
        yield queries
        after = queries[-1].username


def list_learners_course_runs(*, after_username: str = "", limit: int) -> list[LearnerRunsQuery]:
    """Learners holding course certificates here (awarded or revoked), in username order after
    `after_username`, at most `limit`, each with the keys of those certificates' course runs. Two
    queries."""
    course_type = ContentType.objects.get_for_model(CourseCertificate)
    usernames = list(
        UserCredential.objects.filter(credential_content_type=course_type, user__username__gt=after_username)
        .order_by("user__username")
        .values_list("user__username", flat=True)
        .distinct()[:limit]
    )
    runs: dict[str, set[str]] = {username: set() for username in usernames if username}
    for username, key in CourseCertificate.objects.filter(user_credentials__user__username__in=list(runs)).values_list(
        "user_credentials__user__username", "course_run__key"
    ):
        if username in runs:
            runs[username].add(key)
    return [LearnerRunsQuery(username=username, course_run_keys=tuple(sorted(keys))) for username, keys in runs.items()]


def list_graded(*, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (username, course run key) have a grade here. One query."""
    wanted = set(pairs)
    if not wanted:
        return set()
    rows = UserGrade.objects.filter(
        user__username__in={username for username, _ in wanted}, course_run__key__in={key for _, key in wanted}
    ).values_list("user__username", "course_run__key")
    return {(username or "", key) for username, key in rows if (username, key) in wanted}
