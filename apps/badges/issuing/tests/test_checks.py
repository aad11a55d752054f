"""Start-up checks of badge issuing: the token keys and the consumed badge topic."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from apps.badges.issuing.checks import check_badge_events_consumed, check_token_keys


def test_the_test_settings_pass(settings: Any) -> None:
    # then
    assert check_token_keys(None) == []
    assert check_badge_events_consumed(None) == []


def test_no_token_key_is_named_with_how_to_make_one(settings: Any) -> None:
    # given
    settings.BADGE_ISSUER_TOKEN_KEYS = []
    # when
    [error] = check_token_keys(None)
    # then
    assert error.id == "badge_issuing.E001"
    assert "BADGE_ISSUER_TOKEN_KEYS is empty" in error.msg
    assert "Fernet.generate_key()" in (error.hint or "")


def test_keys_that_are_not_fernet_keys_are_named_by_position(settings: Any) -> None:
    # given
    settings.BADGE_ISSUER_TOKEN_KEYS = [Fernet.generate_key().decode(), "not-a-key", "c2hvcnQ="]
    # when
    [error] = check_token_keys(None)
    # then
    assert error.id == "badge_issuing.E002"
    assert "(positions 1, 2)" in error.msg
    assert "not-a-key" not in error.msg  # a key is a secret, even a broken one


def test_a_badge_topic_the_consumer_does_not_read_is_named(settings: Any) -> None:
    # given
    settings.EVENT_BUS_CONSUMER_TOPICS = ["learning-certificate-lifecycle"]
    # when
    [error] = check_badge_events_consumed(None)
    # then
    assert error.id == "badge_issuing.E003"
    assert error.msg.startswith("EVENT_BUS_CONSUMER_TOPICS lacks learning-badges-lifecycle,")


def test_badge_events_published_nowhere_are_named(settings: Any) -> None:
    # given
    settings.EVENT_BUS_PRODUCER_TOPICS = {}
    # when
    [error] = check_badge_events_consumed(None)
    # then
    assert error.id == "badge_issuing.E003"
    assert error.msg.startswith("EVENT_BUS_CONSUMER_TOPICS lacks (none),")
