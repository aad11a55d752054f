from __future__ import annotations

import json

from django.conf import settings
from django.test import override_settings

from apps.core import checks

A_KEY_SET = json.dumps({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]})


def _jwt_auth(key_set: str) -> dict[str, object]:
    return {**settings.JWT_AUTH, "JWT_PUBLIC_SIGNING_JWK_SET": key_set}


def test_development_secret_key_without_debug_is_an_error() -> None:
    # when
    with override_settings(DEBUG=False, SECRET_KEY=settings.DEV_SECRET_KEY):
        messages = checks.check_secret_key(None)
    # then
    assert [m.id for m in messages] == ["core.E001"]
    assert "SECRET_KEY" in messages[0].msg


def test_development_secret_key_is_fine_in_debug_and_a_real_key_anywhere() -> None:
    # when
    with override_settings(DEBUG=True, SECRET_KEY=settings.DEV_SECRET_KEY):
        in_debug = checks.check_secret_key(None)
    with override_settings(DEBUG=False, SECRET_KEY="a-real-production-secret-key-of-some-length"):
        with_real_key = checks.check_secret_key(None)
    # then
    assert in_debug == []
    assert with_real_key == []


def test_redis_url_with_another_scheme_is_an_error() -> None:
    # when
    with override_settings(REDIS_URL="http://127.0.0.1:6379/0"):
        messages = checks.check_redis_url(None)
    # then
    assert [m.id for m in messages] == ["core.E002"]
    assert "REDIS_URL" in messages[0].msg
    assert "'http'" in messages[0].msg


def test_redis_urls_of_every_redis_scheme_pass() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://redis.example.org:6380/1", "unix:///tmp/redis.sock"):
        # when
        with override_settings(REDIS_URL=url):
            messages = checks.check_redis_url(None)
        # then
        assert messages == [], url


def test_empty_jwk_set_warns_in_debug() -> None:
    # when
    with override_settings(DEBUG=True, JWT_AUTH=_jwt_auth("")):
        messages = checks.check_jwt_key_set(None)
    # then
    assert [m.id for m in messages] == ["core.W001"]
    assert "JWT_PUBLIC_SIGNING_JWK_SET" in messages[0].msg


def test_empty_jwk_set_is_an_error_without_debug() -> None:
    # when
    with override_settings(DEBUG=False, JWT_AUTH=_jwt_auth("")):
        messages = checks.check_jwt_key_set(None)
    # then
    assert [m.id for m in messages] == ["core.E003"]
    assert "JWT_PUBLIC_SIGNING_JWK_SET" in messages[0].msg


def test_jwk_set_that_is_not_json_or_has_no_keys_is_an_error() -> None:
    for raw in ("not json", json.dumps({"keys": []}), json.dumps(["a list"])):
        # when
        with override_settings(JWT_AUTH=_jwt_auth(raw)):
            messages = checks.check_jwt_key_set(None)
        # then
        assert [m.id for m in messages] == ["core.E004"], raw
        assert "JWT_PUBLIC_SIGNING_JWK_SET" in messages[0].msg


def test_jwk_set_with_a_key_passes() -> None:
    # when
    with override_settings(DEBUG=False, JWT_AUTH=_jwt_auth(A_KEY_SET)):
        messages = checks.check_jwt_key_set(None)
    # then
    assert messages == []
