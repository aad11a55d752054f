from __future__ import annotations

import copy
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.catalog.models import Course, CourseRun, Organization, Program, ProgramCourse

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "example_catalog.json"
DATA_SCIENCE = "19844781-bb2a-5d59-ba80-c8a43de67252"


def _load(path: Path | None = None) -> str:
    out = StringIO()
    args = [str(path)] if path else []
    call_command("load_catalog", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def _example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def _write(tmp_path: Path, data: Any, name: str = "catalog.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count() for model in (Organization, Course, CourseRun, Program, ProgramCourse)
    }


def test_loads_the_shipped_example() -> None:
    # when
    output = _load()
    # then
    assert _counts() == {"Organization": 2, "Course": 5, "CourseRun": 6, "Program": 2, "ProgramCourse": 5}
    program = Program.objects.get(uuid=DATA_SCIENCE)
    assert program.title == "Data Science Foundations"
    assert program.type_slug == "professional-certificate"
    assert [pc.course.key for pc in program.program_courses.select_related("course")] == [
        "HarvardX+DS101",
        "HarvardX+DS102",
        "HarvardX+DS103",
    ]
    assert [o.key for o in program.authoring_organizations.all()] == ["HarvardX"]
    run = CourseRun.objects.get(key="course-v1:HarvardX+DS102+2025_T2")
    assert (run.course.key, run.pacing_type) == ("HarvardX+DS102", "self_paced")
    assert "Loaded 2 programs: created" in output


def test_loading_twice_changes_nothing() -> None:
    # given
    _load()
    before = _counts()
    modified = {run.key: run.modified for run in CourseRun.objects.all()}
    # when
    output = _load()
    # then
    assert _counts() == before
    assert {run.key: run.modified for run in CourseRun.objects.all()} == modified
    assert "created nothing; updated nothing" in output


def test_changed_titles_are_updated(tmp_path: Path) -> None:
    # given
    _load()
    data = _example()
    data["results"][0]["title"] = "Data Science Essentials"
    data["results"][0]["courses"][0]["title"] = "Data Science 101"
    # when
    output = _load(_write(tmp_path, data))
    # then
    assert Program.objects.get(uuid=DATA_SCIENCE).title == "Data Science Essentials"
    assert Course.objects.get(key="HarvardX+DS101").title == "Data Science 101"
    assert "created nothing; updated 1 Course, 1 Program" in output


def test_removing_a_course_from_a_program_keeps_its_runs(tmp_path: Path) -> None:
    # given
    _load()
    data = _example()
    removed = data["results"][0]["courses"].pop(2)
    # when
    _load(_write(tmp_path, data))
    # then
    program = Program.objects.get(uuid=DATA_SCIENCE)
    assert removed["key"] not in {pc.course.key for pc in program.program_courses.select_related("course")}
    assert ProgramCourse.objects.filter(program=program).count() == 2
    assert Course.objects.filter(key=removed["key"]).exists()
    assert CourseRun.objects.filter(key=removed["course_runs"][0]["key"]).exists()


def test_a_page_or_a_plain_list_both_load(tmp_path: Path) -> None:
    # given
    plain_list = _example()["results"][1:]
    # when
    output = _load(_write(tmp_path, plain_list))
    # then
    assert list(Program.objects.values_list("title", flat=True)) == ["Circuits and Electronics"]
    assert "Loaded 1 programs" in output


def _broken(change: str) -> Any:
    data = _example()
    program = data["results"][1]
    if change == "bad run key":
        program["courses"][0]["course_runs"][0]["key"] = "not-a-course-run"
    elif change == "missing title":
        del program["title"]
    elif change == "bad pacing":
        program["courses"][1]["course_runs"][0]["pacing_type"] = "whenever"
    return data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("bad run key", "'not-a-course-run' is not a course run key"),
        ("missing title", "'title'"),
        ("bad pacing", "whenever"),
    ],
)
def test_malformed_program_raises_naming_the_problem(tmp_path: Path, change: str, expected: str) -> None:
    # given
    path = _write(tmp_path, _broken(change))
    # when
    with pytest.raises(CommandError) as error:
        _load(path)
    # then
    message = str(error.value)
    assert expected in message
    assert "Program #1" in message
    assert "939c40a7-22e5-5781-89a1-f4b328208e29" in message
    assert str(path) in message
    # validation runs before any write
    assert not Program.objects.exists()


def test_file_that_is_not_json_raises_naming_the_file(tmp_path: Path) -> None:
    # given
    path = _write(tmp_path, "{not json", name="broken.json")
    # when
    with pytest.raises(CommandError) as error:
        _load(path)
    # then
    assert "broken.json is not JSON" in str(error.value)


def test_missing_file_raises_naming_the_file(tmp_path: Path) -> None:
    # when
    with pytest.raises(CommandError) as error:
        _load(tmp_path / "absent.json")
    # then
    assert "Cannot read" in str(error.value)
    assert "absent.json" in str(error.value)


def test_document_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    # given
    path = _write(tmp_path, {"count": 0, "programs": []})
    # when
    with pytest.raises(CommandError) as error:
        _load(path)
    # then
    assert "Expected a list of programs or an object with 'results'" in str(error.value)


def test_a_run_that_moves_to_another_course_follows_it(tmp_path: Path) -> None:
    # given
    _load()
    data = copy.deepcopy(_example())
    ds101, ds102 = data["results"][0]["courses"][:2]
    ds102["course_runs"].append(ds101["course_runs"].pop(1))
    # when
    _load(_write(tmp_path, data))
    # then
    moved = CourseRun.objects.get(key="course-v1:HarvardX+DS101+2026_T1")
    assert moved.course.key == "HarvardX+DS102"
    assert CourseRun.objects.count() == 6
