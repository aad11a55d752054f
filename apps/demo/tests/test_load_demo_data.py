from __future__ import annotations

import importlib
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.catalog import api as catalog_api
from apps.core import api as core_api
from apps.credentials import api as credentials_api
from apps.demo.management.commands.load_demo_data import ADA, ALAN, CIRCUITS, DATA_SCIENCE, GRACE, IVAN, LEARNERS

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("load_demo_data", *args, stdout=out)
    return out.getvalue()


def _certificates(username: str) -> dict[str, str]:
    """The learner's course certificates as {course run key: status}."""
    user = core_api.get_learner(username=username)
    runs = {run.id: run.key for p in catalog_api.list_programs_with_courses() for c in p.courses for run in c.runs}
    return {
        runs[c.course_run_id]: c.status
        for c in credentials_api.list_course_results(user=user, course_run_ids=list(runs))[1]
    }


def _program_status(username: str, program_uuid: object) -> str | None:
    user = core_api.get_learner(username=username)
    program = catalog_api.get_program(program_uuid=program_uuid)  # type: ignore[arg-type]
    status = credentials_api.get_program_certificate_status(user=user, program_id=program.id)
    return status.status if status else None


def _snapshot() -> dict[str, object]:
    learners = {
        learner.username: (
            _certificates(learner.username),
            _program_status(learner.username, DATA_SCIENCE),
            _program_status(learner.username, CIRCUITS),
        )
        for learner in LEARNERS
    }
    return {
        "users": core_api.User.objects.count(),
        "programs": [
            (p.title, len(p.courses), len(p.course_run_ids)) for p in catalog_api.list_programs_with_courses()
        ],
        "learners": learners,
    }


def test_loads_the_catalog_learners_and_their_credentials() -> None:
    # when
    output = _run()
    # then
    assert [p.title for p in catalog_api.list_programs_with_courses()] == [
        "Circuits and Electronics",
        "Data Science Foundations",
    ]
    ivan = core_api.get_learner(username=IVAN.username)
    assert (ivan.lms_user_id, ivan.full_name) == (900002, "Иван Петров")
    assert _certificates(ADA.username) == {
        "course-v1:HarvardX+DS101+2025_T1": "awarded",
        "course-v1:HarvardX+DS102+2025_T2": "awarded",
        "course-v1:HarvardX+DS103+2025_T3": "awarded",
    }
    assert _program_status(ADA.username, DATA_SCIENCE) == "awarded"
    assert _certificates(IVAN.username) == {"course-v1:MITx+6.002.1x+2025_Spring": "awarded"}
    assert _program_status(IVAN.username, CIRCUITS) is None
    assert _certificates(GRACE.username) == {"course-v1:MITx+6.002.1x+2025_Spring": "revoked"}
    assert _certificates(ALAN.username) == {"course-v1:HarvardX+DS101+2026_T1": "awarded"}
    assert "Иван Петров" in output


def test_records_grades_including_one_not_yet_passed() -> None:
    # when
    _run()
    # then
    ivan = core_api.get_learner(username=IVAN.username)
    circuits = catalog_api.get_program(program_uuid=CIRCUITS)
    grades = {
        g.course_run_id: g.passed
        for g in credentials_api.list_course_results(user=ivan, course_run_ids=circuits.course_run_ids)[0]
    }
    assert sorted(grades.values()) == [False, True]


def test_creates_a_superuser_with_the_printed_password() -> None:
    # when
    output = _run()
    # then
    password = re.search(r"Superuser: admin / (\S+)", output)
    assert password is not None
    admin = core_api.get_learner(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password(password.group(1))
    for path in ("/admin/", "/api/docs/", "/health/"):
        assert f"http://localhost:8000{path}" in output


def test_admin_password_can_be_chosen_and_is_reset_each_run() -> None:
    # given
    _run("--admin-password", "first-password")
    # when
    output = _run("--admin-password", "second-password", "--base-url", "https://credentials.test/")
    # then
    admin = core_api.get_learner(username="admin")
    assert admin.check_password("second-password")
    assert not admin.check_password("first-password")
    assert "https://credentials.test/admin/" in output


def test_running_twice_changes_nothing() -> None:
    # given
    _run()
    before = _snapshot()
    grace = core_api.get_learner(username=GRACE.username)
    grace_certificate = credentials_api.list_course_results(
        user=grace, course_run_ids=catalog_api.get_program(program_uuid=CIRCUITS).course_run_ids
    )[1]
    # when
    output = _run()
    # then
    assert _snapshot() == before
    assert before["users"] == len(LEARNERS) + 1
    assert "created nothing; updated nothing" in output
    grace_again = credentials_api.list_course_results(
        user=grace, course_run_ids=catalog_api.get_program(program_uuid=CIRCUITS).course_run_ids
    )[1]
    assert [(c.uuid, c.awarded_at) for c in grace_again] == [(c.uuid, c.awarded_at) for c in grace_certificate]


@override_settings(ALLOW_DEMO_DATA=False)
def test_refuses_when_demo_data_is_not_allowed() -> None:
    # when
    with pytest.raises(CommandError) as error:
        _run()
    # then
    assert "ALLOW_DEMO_DATA" in str(error.value)
    assert not core_api.User.objects.exists()
    assert catalog_api.list_programs_with_courses() == []


def test_production_settings_turn_demo_data_off() -> None:
    # when
    production = importlib.import_module("credentials_service.settings.production")
    # then
    assert production.ALLOW_DEMO_DATA is False


def test_the_demo_generates_pdf_certificates_with_working_public_pages(
    settings: object, tmp_path: object, client: object
) -> None:
    # given: the PDFs go to a temporary directory
    settings.STORAGES = {  # type: ignore[attr-defined]
        **settings.STORAGES,  # type: ignore[attr-defined]
        "pdf_credentials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    # when
    output = _run("--admin-password", "pw")
    again = _run("--admin-password", "pw")
    # then: the learners who passed the first course run have a PDF each, generated once
    urls = re.findall(r"(http://\S+/credentials/verify/[0-9a-f-]+/)", output)
    assert urls, output
    assert "0 generated now." in again
    path = urls[0].split("://", 1)[1].split("/", 1)[1]
    page = client.get(f"/{path}")  # type: ignore[attr-defined]
    assert page.status_code == 200 and "Valid" in page.content.decode()
    download = client.get(f"/{path}pdf/")  # type: ignore[attr-defined]
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
