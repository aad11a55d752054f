"""API tokens encrypted at rest with BADGE_ISSUER_TOKEN_KEYS, and their keys rotated."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from apps.badges.issuing.crypto import decrypt_token, encrypt_token, rotate_token
from apps.badges.issuing.exceptions import IssuingError, IssuingErrorCode
from apps.badges.issuing.models import IssuerOrganization
from apps.badges.issuing.tests.factories import IssuerOrganizationFactory

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_a_token_is_encrypted_and_decrypted(settings: Any) -> None:
    # given
    settings.BADGE_ISSUER_TOKEN_KEYS = [OLD_KEY]
    # when
    ciphertexts = [encrypt_token("tok-secret"), encrypt_token("tok-secret")]
    # then: never the same ciphertext twice, never the token in it
    assert ciphertexts[0] != ciphertexts[1]
    assert all("tok-secret" not in ciphertext for ciphertext in ciphertexts)
    assert [decrypt_token(ciphertext) for ciphertext in ciphertexts] == ["tok-secret", "tok-secret"]


def test_a_rotated_token_decrypts_once_the_old_key_is_dropped(settings: Any) -> None:
    # given: a token under the old key; the new key put first
    settings.BADGE_ISSUER_TOKEN_KEYS = [OLD_KEY]
    old = encrypt_token("tok-secret")
    settings.BADGE_ISSUER_TOKEN_KEYS = [NEW_KEY, OLD_KEY]
    assert decrypt_token(old) == "tok-secret"  # both keys open it meanwhile
    # when
    rotated = rotate_token(old)
    settings.BADGE_ISSUER_TOKEN_KEYS = [NEW_KEY]
    # then
    assert decrypt_token(rotated) == "tok-secret"
    with pytest.raises(IssuingError):
        decrypt_token(old)


def test_a_token_whose_key_was_dropped_names_the_setting(settings: Any) -> None:
    # given
    settings.BADGE_ISSUER_TOKEN_KEYS = [OLD_KEY]
    ciphertext = encrypt_token("tok-secret")
    settings.BADGE_ISSUER_TOKEN_KEYS = [NEW_KEY]
    # when
    with pytest.raises(IssuingError) as raised:
        decrypt_token(ciphertext)
    # then
    assert raised.value.code is IssuingErrorCode.UNDECRYPTABLE
    assert "BADGE_ISSUER_TOKEN_KEYS" in raised.value.message
    assert "tok-secret" not in str(raised.value)


def test_no_key_at_all_names_the_setting(settings: Any) -> None:
    # given
    settings.BADGE_ISSUER_TOKEN_KEYS = []
    # when
    with pytest.raises(IssuingError) as raised:
        encrypt_token("tok-secret")
    # then
    assert raised.value.code is IssuingErrorCode.NO_KEY
    assert "BADGE_ISSUER_TOKEN_KEYS" in raised.value.message


@pytest.mark.django_db
def test_the_rotation_command_re_encrypts_every_organizations_token(settings: Any) -> None:
    # given: organizations whose tokens are under the old key; the new key put first
    settings.BADGE_ISSUER_TOKEN_KEYS = [OLD_KEY]
    IssuerOrganizationFactory(api_token="tok-one")
    IssuerOrganizationFactory(api_token="tok-two")
    settings.BADGE_ISSUER_TOKEN_KEYS = [NEW_KEY, OLD_KEY]
    # when
    call_command("rotate_issuer_tokens", stdout=None)
    settings.BADGE_ISSUER_TOKEN_KEYS = [NEW_KEY]
    # then
    assert sorted(o.api_token for o in IssuerOrganization.objects.all()) == ["tok-one", "tok-two"]
