from __future__ import annotations

import pytest
from django.test import override_settings

from apps.credentials import checks


def test_the_default_settings_pass() -> None:
    assert checks.check_eligible_modes(None) == []
    assert checks.check_public_url(None) == []


@pytest.mark.parametrize(
    ("modes", "check_id"), [(["verified", "gold-star"], "credentials.E001"), ([], "credentials.E002")]
)
def test_eligible_modes_must_be_known_and_not_empty(modes: list[str], check_id: str) -> None:
    # when
    with override_settings(PROGRAM_CERTIFICATE_ELIGIBLE_MODES=modes):
        messages = checks.check_eligible_modes(None)
    # then
    assert [m.id for m in messages] == [check_id]
    assert "PROGRAM_CERTIFICATE_ELIGIBLE_MODES" in messages[0].msg


@pytest.mark.parametrize("url", ["credentials.example.com", "ftp://credentials.example.com", "https://"])
def test_public_url_must_be_an_http_url(url: str) -> None:
    # when
    with override_settings(CREDENTIALS_PUBLIC_URL=url):
        messages = checks.check_public_url(None)
    # then
    assert [m.id for m in messages] == ["credentials.E003"]
    assert "CREDENTIALS_PUBLIC_URL" in messages[0].msg
