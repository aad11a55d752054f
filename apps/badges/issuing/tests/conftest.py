"""Fixtures of the badge issuing app's tests: an organization on a fake Credly (or Accredible) server
with ours for it, a learner, recording badge changes as the event handlers do (after commit, eager
tasks), a clock for the retry machinery and the beat sweep."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from apps.badges.issuing import services, tasks
from apps.badges.issuing.models import ExternalBadge, ExternalTemplate, IssuerBackend, IssuerOrganization
from apps.badges.models import BadgeTemplate
from apps.badges.tests import conftest as badges_fixtures
from apps.badges.tests.issuer_servers import (
    AccredibleCredential,
    CredlyBadge,
    FakeAccredibleServer,
    FakeCredlyServer,
    RecordedRequest,
)
from apps.core.api import User
from credentials_service.celery import app as celery_app

from .factories import ExternalTemplateFactory, IssuerOrganizationFactory, LearnerFactory

# The fake servers' fixtures live with the badges app's tests, whose directory this one is not below.
credly_server = badges_fixtures.credly_server
accredible_server = badges_fixtures.accredible_server
consume_outbox = badges_fixtures.consume_outbox

CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


@pytest.fixture(autouse=True)
def loud_tasks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Eager tasks raise their errors, and an error in an on_commit callback fails the test: Django only
    logs a robust callback's error, which would hide a failing task."""
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_eager_propagates = propagates
    # The loggers of a failing robust callback: in a captured test transaction, and on a real commit.
    failed = [
        r.getMessage()
        for r in caplog.get_records("call")
        if r.name in ("django.test.testcases", "django.db.backends.base") and "on_commit" in r.getMessage()
    ]
    assert failed == [], f"an on_commit callback failed: {failed}"


@dataclass
class Credly:
    """A fake Credly with one organization on it, and our IssuerOrganization for it."""

    server: FakeCredlyServer
    organization: IssuerOrganization

    @property
    def org_id(self) -> str:
        return self.organization.external_id

    @property
    def token(self) -> str:
        return self.server.organizations[self.org_id].token

    def add_template(self, name: str = "Python", **fields: Any) -> ExternalTemplate:
        """A template on Credly and our active badge template (origin credly) linked to it."""
        remote = self.server.add_template(self.org_id, name, **fields)
        return ExternalTemplateFactory(organization=self.organization, external_id=remote.id, template__name=name)

    def badges(self, **filters: Any) -> list[CredlyBadge]:
        return self.server.badges(self.org_id, **filters)

    def issue_calls(self) -> list[RecordedRequest]:
        return self.server.calls("POST", f"/organizations/{self.org_id}/badges")


@pytest.fixture
def credly(credly_server: FakeCredlyServer) -> Credly:
    remote = credly_server.add_organization()
    organization = IssuerOrganizationFactory(
        backend=IssuerBackend.CREDLY, external_id=remote.id, api_token=remote.token, name="Credly org"
    )
    return Credly(server=credly_server, organization=organization)


@dataclass
class Accredible:
    """A fake Accredible issuer and our IssuerOrganization for it."""

    server: FakeAccredibleServer
    organization: IssuerOrganization

    def add_template(self, name: str = "Python") -> ExternalTemplate:
        group = self.server.add_group(name)
        return ExternalTemplateFactory(organization=self.organization, external_id=str(group.id), template__name=name)

    def credentials(self, **filters: Any) -> list[AccredibleCredential]:
        return self.server.issued(**filters)


@pytest.fixture
def accredible(accredible_server: FakeAccredibleServer) -> Accredible:
    # The fake's token is new for each test, so no test inherits another's throttle bucket.
    organization = IssuerOrganizationFactory(
        backend=IssuerBackend.ACCREDIBLE,
        external_id=str(accredible_server.issuer_id),
        api_token=accredible_server.token,
        name="Accredible org",
    )
    return Accredible(server=accredible_server, organization=organization)


@pytest.fixture
def learner() -> User:
    return LearnerFactory(username="ada", email="ada@example.com", full_name="Ada King Lovelace")


Record = Callable[..., ExternalBadge | None]


@pytest.fixture
def record(django_capture_on_commit_callbacks: CaptureOnCommit) -> Record:
    """`record(user, template, awarded=True, at=None)`: our badge was awarded (or revoked), as the
    BADGE_AWARDED/REVOKED handlers record it; the sync it queues after commit runs (eagerly)."""

    def run(
        user: User,
        template: BadgeTemplate,
        *,
        awarded: bool = True,
        at: datetime.datetime | None = None,
        credential_uuid: uuid.UUID | None = None,
    ) -> ExternalBadge | None:
        with django_capture_on_commit_callbacks(execute=True):
            return services.record_badge_change(
                credential_uuid=credential_uuid or uuid.uuid5(uuid.NAMESPACE_OID, f"{user.pk}:{template.pk}"),
                template_uuid=template.uuid,
                lms_user_id=user.lms_user_id,
                awarded=awarded,
                at=at or timezone.now(),
            )

    return run


class Clock:
    """Time for the retry machinery, advanced without sleeping: the fake server's clock (its flaky
    periods and rate windows) moves forward, and every badge's next attempt moves back by as much,
    which is what the passing of that time means to `list_due_badge_ids`."""

    def __init__(self, *servers: FakeCredlyServer | FakeAccredibleServer) -> None:
        self.now = 1_000.0
        for server in servers:
            server.clock = self.read

    def read(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        ExternalBadge.objects.exclude(next_attempt_at=None).update(
            next_attempt_at=F("next_attempt_at") - datetime.timedelta(seconds=seconds)
        )


@pytest.fixture
def clock(credly_server: FakeCredlyServer) -> Clock:
    return Clock(credly_server)


Sweep = Callable[..., int]


@pytest.fixture
def sweep(clock: Clock, settings: Any, django_capture_on_commit_callbacks: CaptureOnCommit) -> Sweep:
    """`sweep(seconds=BADGE_ISSUING_SWEEP_SECONDS)`: that much time passes, then the beat runs the
    sweep task (eagerly: every due badge is synced). Returns how many badges it queued."""

    def run(seconds: float | None = None) -> int:
        clock.advance(settings.BADGE_ISSUING_SWEEP_SECONDS if seconds is None else seconds)
        with django_capture_on_commit_callbacks(execute=True):
            queued: int = tasks.sync_due_external_badges_task.delay().get()
        return queued

    return run


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """`wait_until(predicate, timeout=5)`: poll until the predicate holds (another thread, or a fake
    server's handler, is getting there), failing the test after `timeout` seconds."""

    def wait(predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out waiting"
            time.sleep(0.01)

    return wait


@pytest.fixture
def organization_form() -> Callable[..., dict[str, str]]:
    """`organization_form(organization, **changes)`: the admin's change form of the organization as a
    browser posts it (no token: keep the current one), with changes."""

    def form(organization: IssuerOrganization, **changes: Any) -> dict[str, str]:
        data: dict[str, Any] = {
            "backend": organization.backend,
            "name": organization.name,
            "external_id": organization.external_id,
            "api_token": "",
            "is_sandbox": organization.is_sandbox,
            "notify_learners": organization.notify_learners,
            "is_active": organization.is_active,
            **changes,
        }
        # Unchecked boxes are not posted at all.
        return {key: ("on" if value is True else value) for key, value in data.items() if value is not False}

    return form
