from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.badges.models import BadgeRequirement, BadgeTemplate, TemplateOrigin, TemplateState
from apps.badges.tests.factories import (
    PASSING,
    BadgeProgressFactory,
    BadgeRequirementFactory,
    BadgeTemplateFactory,
    FulfillmentFactory,
    award_badge,
)
from apps.core.models import User
from apps.core.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BADGES_URL = "/api/v1/badges/"
PROGRESS_URL = "/api/v1/badges/progress/"


@pytest.fixture
def alice() -> User:
    return UserFactory(username="alice", email="alice.private@mail.example", lms_user_id=424242)


@pytest.fixture
def bob() -> User:
    return UserFactory(username="bob")


@pytest.fixture
def python_badge() -> BadgeTemplate:
    return BadgeTemplateFactory(
        name="Pythonista",
        description="Knows Python",
        origin=TemplateOrigin.NATIVE,
        state=TemplateState.ACTIVE,
        image="badge_templates/python.png",
    )


@pytest.fixture
def rust_badge() -> BadgeTemplate:
    return BadgeTemplateFactory(name="Rustacean", state=TemplateState.ACTIVE)


def requirements_of(template: BadgeTemplate) -> list[BadgeRequirement]:
    """Two groups: "course" (either of two requirements) and the capstone alone."""
    return [
        BadgeRequirementFactory(template=template, group="course", description="Pass Python 101"),
        BadgeRequirementFactory(template=template, group="course", description="Pass Python 102"),
        BadgeRequirementFactory(template=template, group="", description="Pass the capstone"),
    ]


def template_json(template: BadgeTemplate, *, image_url: str | None = None) -> dict[str, Any]:
    return {
        "uuid": str(template.uuid),
        "origin": template.origin,
        "name": template.name,
        "description": template.description,
        "image_url": image_url,
    }


# --- authentication ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [BADGES_URL, PROGRESS_URL])
def test_anonymous_gets_401(api_client: APIClient, url: str) -> None:
    assert api_client.get(url).status_code == 401


def test_session_login_works_too(api_client: APIClient, alice: User, python_badge: BadgeTemplate) -> None:
    # given
    award_badge(user=alice, template=python_badge)
    api_client.force_login(alice)
    # when
    response = api_client.get(BADGES_URL)
    # then
    assert response.status_code == 200
    assert [b["template"]["name"] for b in response.json()] == ["Pythonista"]


# --- badges --------------------------------------------------------------------------------------


def test_learner_lists_their_badges(
    jwt_client: Callable[..., APIClient],
    alice: User,
    python_badge: BadgeTemplate,
    rust_badge: BadgeTemplate,
    settings: Any,
) -> None:
    # given
    settings.CREDENTIALS_PUBLIC_URL = "https://credentials.example.com"
    awarded = award_badge(user=alice, template=python_badge)
    award_badge(user=alice, template=rust_badge)
    revoked = award_badge(user=alice, template=rust_badge, award=False)
    # when
    response = jwt_client("alice").get(BADGES_URL)
    # then
    assert response.status_code == 200
    body = response.json()
    assert body == [
        {
            "uuid": str(revoked.uuid),
            "status": "revoked",
            "awarded_at": body[0]["awarded_at"],
            "revoked_at": body[0]["revoked_at"],
            "template": template_json(rust_badge),
        },
        {
            "uuid": str(awarded.uuid),
            "status": "awarded",
            "awarded_at": body[1]["awarded_at"],
            "revoked_at": None,
            "template": template_json(
                python_badge, image_url="https://credentials.example.com/media/badge_templates/python.png"
            ),
        },
    ]
    assert body[0]["revoked_at"] is not None
    assert body[1]["awarded_at"] is not None


def test_learner_sees_only_their_own_badges(
    jwt_client: Callable[..., APIClient], alice: User, bob: User, python_badge: BadgeTemplate, rust_badge: BadgeTemplate
) -> None:
    # given
    award_badge(user=alice, template=python_badge)
    award_badge(user=bob, template=rust_badge)
    # when
    response = jwt_client("alice").get(BADGES_URL)
    # then
    assert [b["template"]["name"] for b in response.json()] == ["Pythonista"]


@pytest.mark.parametrize("url", [BADGES_URL, PROGRESS_URL])
def test_learner_naming_another_learner_gets_403(
    jwt_client: Callable[..., APIClient], alice: User, bob: User, rust_badge: BadgeTemplate, url: str
) -> None:
    # given
    award_badge(user=bob, template=rust_badge)
    BadgeProgressFactory(user=bob, template=rust_badge)
    # when
    response = jwt_client("alice").get(url, {"username": "bob"})
    # then
    assert response.status_code == 403
    assert "Rustacean" not in response.content.decode()


@pytest.mark.parametrize("url", [BADGES_URL, PROGRESS_URL])
def test_learner_may_name_themselves(
    jwt_client: Callable[..., APIClient], alice: User, python_badge: BadgeTemplate, url: str
) -> None:
    # given
    award_badge(user=alice, template=python_badge)
    BadgeProgressFactory(user=alice, template=python_badge)
    # when
    response = jwt_client("alice").get(url, {"username": "alice"})
    # then
    assert response.status_code == 200
    assert [item["template"]["name"] for item in response.json()] == ["Pythonista"]


@pytest.mark.parametrize("claims", [{"administrator": True}, {}])
@pytest.mark.parametrize("url", [BADGES_URL, PROGRESS_URL])
def test_staff_and_service_users_see_a_learners_badges_and_progress(
    jwt_client: Callable[..., APIClient],
    alice: User,
    bob: User,
    python_badge: BadgeTemplate,
    rust_badge: BadgeTemplate,
    claims: dict[str, bool],
    url: str,
) -> None:
    # given: an LMS administrator, or the configured service user
    username = "operator" if claims else "credentials_service_user"
    award_badge(user=alice, template=python_badge)
    award_badge(user=bob, template=rust_badge)
    BadgeProgressFactory(user=alice, template=python_badge)
    BadgeProgressFactory(user=bob, template=rust_badge)
    # when
    response = jwt_client(username, **claims).get(url, {"username": "bob"})
    # then
    assert response.status_code == 200
    assert [item["template"]["name"] for item in response.json()] == ["Rustacean"]


@pytest.mark.parametrize("url", [BADGES_URL, PROGRESS_URL])
def test_staff_naming_an_unknown_learner_gets_404(jwt_client: Callable[..., APIClient], url: str) -> None:
    response = jwt_client("operator", administrator=True).get(url, {"username": "nobody"})
    assert response.status_code == 404
    assert "username" in response.json()


def test_badges_filter_by_status_and_template(
    jwt_client: Callable[..., APIClient], alice: User, python_badge: BadgeTemplate, rust_badge: BadgeTemplate
) -> None:
    # given
    award_badge(user=alice, template=python_badge)
    award_badge(user=alice, template=rust_badge)
    award_badge(user=alice, template=rust_badge, award=False)
    client = jwt_client("alice")

    def names(**query: str) -> list[str]:
        response = client.get(BADGES_URL, query)
        assert response.status_code == 200
        return [b["template"]["name"] for b in response.json()]

    # when / then
    assert names(status="awarded") == ["Pythonista"]
    assert names(status="revoked") == ["Rustacean"]
    assert names(template=str(python_badge.uuid)) == ["Pythonista"]
    assert names(template=str(python_badge.uuid), status="revoked") == []
    assert names(template=str(uuid.uuid4())) == []


@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        (BADGES_URL, {"status": "pending"}, "status"),
        (BADGES_URL, {"template": "not-a-uuid"}, "template"),
        (PROGRESS_URL, {"template": "not-a-uuid"}, "template"),
        (PROGRESS_URL, {"in_progress": "maybe"}, "in_progress"),
    ],
)
def test_malformed_filter_gets_400_naming_the_field(
    jwt_client: Callable[..., APIClient], alice: User, url: str, query: dict[str, str], field: str
) -> None:
    # when
    response = jwt_client("alice").get(url, query)
    # then
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("url", [BADGES_URL, PROGRESS_URL])
@pytest.mark.parametrize("username", ["not a username!", "x" * 151, "<script>"])
def test_malformed_username_gets_400_naming_the_field(
    jwt_client: Callable[..., APIClient], url: str, username: str
) -> None:
    # when
    response = jwt_client("operator", administrator=True).get(url, {"username": username})
    # then
    assert response.status_code == 400
    assert "username" in response.json()


# --- progress ------------------------------------------------------------------------------------


def test_progress_shows_each_requirement_and_the_groups_still_missing(
    jwt_client: Callable[..., APIClient], alice: User, python_badge: BadgeTemplate
) -> None:
    # given: one of the two "course" requirements is fulfilled, the capstone is not
    either, other, capstone = requirements_of(python_badge)
    fulfillment = FulfillmentFactory(
        progress=BadgeProgressFactory(user=alice, template=python_badge), requirement=either
    )
    # when
    response = jwt_client("alice").get(PROGRESS_URL)
    # then
    assert response.status_code == 200
    (progress,) = response.json()
    assert progress == {
        "template": template_json(python_badge, image_url=progress["template"]["image_url"]),
        "state": "active",
        "is_awarded": False,
        "groups_satisfied": 1,
        "groups_total": 2,
        "percent": 50.0,
        "requirements": [
            {
                "id": capstone.pk,
                "description": "Pass the capstone",
                "event_type": PASSING,
                "group": "",
                "fulfilled": False,
                "fulfilled_at": None,
            },
            {
                "id": either.pk,
                "description": "Pass Python 101",
                "event_type": PASSING,
                "group": "course",
                "fulfilled": True,
                "fulfilled_at": progress["requirements"][1]["fulfilled_at"],
            },
            {
                "id": other.pk,
                "description": "Pass Python 102",
                "event_type": PASSING,
                "group": "course",
                "fulfilled": False,
                "fulfilled_at": None,
            },
        ],
        "missing_groups": [[capstone.pk]],
    }
    assert progress["requirements"][1]["fulfilled_at"] is not None
    assert progress["requirements"][1]["fulfilled_at"][:19] == fulfillment.created.isoformat()[:19]
    assert progress["template"]["image_url"].endswith("/media/badge_templates/python.png")


def test_progress_is_only_the_learners_own(
    jwt_client: Callable[..., APIClient], alice: User, bob: User, python_badge: BadgeTemplate
) -> None:
    # given: Bob fulfilled a requirement; Alice has started but fulfilled nothing
    either, _, _ = requirements_of(python_badge)
    FulfillmentFactory(progress=BadgeProgressFactory(user=bob, template=python_badge), requirement=either)
    BadgeProgressFactory(user=alice, template=python_badge)
    # when
    (progress,) = jwt_client("alice").get(PROGRESS_URL).json()
    # then
    assert progress["groups_satisfied"] == 0
    assert not any(r["fulfilled"] for r in progress["requirements"])


def test_progress_leaves_out_draft_templates(jwt_client: Callable[..., APIClient], alice: User) -> None:
    # given
    draft = BadgeTemplateFactory(name="Draft", state=TemplateState.DRAFT)
    archived = BadgeTemplateFactory(name="Archived", state=TemplateState.ARCHIVED)
    for template in (draft, archived):
        requirements_of(template)
        BadgeProgressFactory(user=alice, template=template)
    # when
    body = jwt_client("alice").get(PROGRESS_URL).json()
    # then
    assert [(p["template"]["name"], p["state"]) for p in body] == [("Archived", "archived")]


def test_progress_filters_by_template_and_in_progress(
    jwt_client: Callable[..., APIClient], alice: User, python_badge: BadgeTemplate, rust_badge: BadgeTemplate
) -> None:
    # given: Alice holds the Python badge and is working towards the Rust one
    for template in (python_badge, rust_badge):
        requirements_of(template)
        BadgeProgressFactory(user=alice, template=template)
    award_badge(user=alice, template=python_badge)
    client = jwt_client("alice")

    def shown(**query: str) -> list[tuple[str, bool]]:
        response = client.get(PROGRESS_URL, query)
        assert response.status_code == 200
        return [(p["template"]["name"], p["is_awarded"]) for p in response.json()]

    # when / then
    assert shown() == [("Pythonista", True), ("Rustacean", False)]
    assert shown(in_progress="true") == [("Rustacean", False)]
    assert shown(in_progress="false") == [("Pythonista", True), ("Rustacean", False)]
    assert shown(template=str(python_badge.uuid)) == [("Pythonista", True)]
    assert shown(template=str(python_badge.uuid), in_progress="true") == []


# --- query counts --------------------------------------------------------------------------------


def learner_with(count: int, *, username: str) -> User:
    """A learner with progress on `count` templates of three requirements (one fulfilled), holding
    every other template's badge."""
    learner = UserFactory(username=username)
    for n in range(count):
        template = BadgeTemplateFactory(name=f"{username} {n}", state=TemplateState.ACTIVE)
        either, _, _ = requirements_of(template)
        FulfillmentFactory(progress=BadgeProgressFactory(user=learner, template=template), requirement=either)
        if n % 2:
            award_badge(user=learner, template=template)
    return learner


@pytest.mark.parametrize(("url", "pinned"), [(BADGES_URL, 3), (PROGRESS_URL, 5)])
@pytest.mark.parametrize("as_staff", [False, True], ids=["learner", "staff"])
def test_query_count_does_not_grow_with_templates_requirements_or_badges(
    jwt_client: Callable[..., APIClient],
    django_assert_max_num_queries: Callable[..., Any],
    url: str,
    pinned: int,
    as_staff: bool,
) -> None:
    # given
    small, large = learner_with(2, username="small"), learner_with(20, username="large")
    UserFactory(username="operator", is_staff=True)

    def get(learner: User) -> Any:
        if as_staff:
            return jwt_client("operator", administrator=True).get(url, {"username": learner.username})
        return jwt_client(learner.username).get(url)

    get(small)  # warm the content-type cache
    # when
    counts = []
    for learner in (small, large):
        with CaptureQueriesContext(connection) as context:
            assert get(learner).status_code == 200
        counts.append(len(context.captured_queries))
    # then: the selector's queries (two for badges, four for progress), the requester's lookup by the
    # JWT and, for staff, the named learner's
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(pinned + as_staff):
        get(large)


# --- schema --------------------------------------------------------------------------------------


def test_schema_documents_the_badges_endpoints(jwt_client: Callable[..., APIClient]) -> None:
    # when
    response = jwt_client("alice").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    # then
    paths = response.json()["paths"]
    badges = {p["name"]: p["schema"] for p in paths[BADGES_URL]["get"]["parameters"]}
    progress = {p["name"]: p["schema"] for p in paths[PROGRESS_URL]["get"]["parameters"]}
    assert badges["status"]["enum"] == ["awarded", "revoked"]
    assert badges["template"]["format"] == progress["template"]["format"] == "uuid"
    assert progress["in_progress"]["type"] == "boolean"
    assert set(badges) == {"status", "template", "username"}
    assert set(progress) == {"template", "in_progress", "username"}
