from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from credentials_service.settings.env import env_bool, env_int, env_list, env_secret, env_str

PROJECT_DIR = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("Yes", True), ("1", True), (" off ", False)])
def test_env_bool_reads_true_and_false_spellings(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    # given
    monkeypatch.setenv("FEATURE_ON", raw)
    # when
    value = env_bool("FEATURE_ON", default=not expected)
    # then
    assert value is expected


def test_env_bool_uses_the_default_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.delenv("FEATURE_ON", raising=False)
    unset = env_bool("FEATURE_ON", default=True)
    monkeypatch.setenv("FEATURE_ON", "")
    # when
    empty = env_bool("FEATURE_ON", default=True)
    # then
    assert (unset, empty) == (True, True)


def test_env_bool_rejects_anything_else_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("FEATURE_ON", "maybe")
    # when
    with pytest.raises(ImproperlyConfigured) as error:
        env_bool("FEATURE_ON")
    # then
    assert "FEATURE_ON" in str(error.value)
    assert "'maybe'" in str(error.value)


def test_env_int_reads_an_integer_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("PAGE_SIZE", "50")
    monkeypatch.delenv("OTHER_SIZE", raising=False)
    # when
    values = (env_int("PAGE_SIZE", 20), env_int("OTHER_SIZE", 20))
    # then
    assert values == (50, 20)


def test_env_int_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("PAGE_SIZE", "twenty")
    # when
    with pytest.raises(ImproperlyConfigured) as error:
        env_int("PAGE_SIZE", 20)
    # then
    assert "PAGE_SIZE" in str(error.value)
    assert "'twenty'" in str(error.value)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example.org, b.example.org ,,")
    # when
    hosts = env_list("ALLOWED_HOSTS")
    # then
    assert hosts == ["a.example.org", "b.example.org"]


def test_env_list_uses_the_default_only_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.delenv("ALLOWED_HOSTS", raising=False)
    unset = env_list("ALLOWED_HOSTS", ["localhost"])
    monkeypatch.setenv("ALLOWED_HOSTS", "")
    # when
    empty = env_list("ALLOWED_HOSTS", ["localhost"])
    # then
    assert unset == ["localhost"]
    assert empty == []


def test_env_secret_reads_the_file_named_by_name_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-the-file\n")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    # when
    value = env_secret("SECRET_KEY")
    # then
    assert value == "from-the-file"


def test_env_secret_falls_back_to_the_variable_then_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    from_variable = env_secret("SECRET_KEY", "dev")
    monkeypatch.delenv("SECRET_KEY")
    # when
    from_default = env_secret("SECRET_KEY", "dev")
    # then
    assert (from_variable, from_default) == ("from-the-environment", "dev")


def test_env_secret_with_an_unreadable_file_names_name_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # given
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    # when
    with pytest.raises(ImproperlyConfigured) as error:
        env_secret("SECRET_KEY")
    # then
    assert "SECRET_KEY_FILE" in str(error.value)


def test_env_str_reads_the_variable_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.delenv("OTHER_LEVEL", raising=False)
    # when
    values = (env_str("LOG_LEVEL", "INFO"), env_str("OTHER_LEVEL", "INFO"))
    # then
    assert values == ("DEBUG", "INFO")


def _start_django(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_malformed_database_url_stops_start_up_naming_database_url(tmp_path: Path) -> None:
    # when
    result = _start_django(
        DJANGO_SETTINGS_MODULE="credentials_service.settings.base",
        DATABASE_URL="nonsense://x",
        CREDENTIALS_VAR_DIR=str(tmp_path),
    )
    # then
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DATABASE_URL" in result.stderr


def test_malformed_boolean_setting_stops_start_up_naming_it(tmp_path: Path) -> None:
    # when
    result = _start_django(
        DJANGO_SETTINGS_MODULE="credentials_service.settings.base",
        DEBUG="maybe",
        CREDENTIALS_VAR_DIR=str(tmp_path),
    )
    # then
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr
