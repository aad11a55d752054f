"""Issuer API tokens encrypted at rest: Fernet with the keys of BADGE_ISSUER_TOKEN_KEYS. The first key
encrypts; every key decrypts, so a key is rotated by putting a new one first, running
`manage.py rotate_issuer_tokens`, then dropping the old one."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from .exceptions import IssuingError, IssuingErrorCode


def _fernet() -> MultiFernet:
    keys = settings.BADGE_ISSUER_TOKEN_KEYS
    if not keys:
        raise IssuingError(
            "BADGE_ISSUER_TOKEN_KEYS is empty: set it to encrypt issuer API tokens.", code=IssuingErrorCode.NO_KEY
        )
    return MultiFernet([Fernet(key) for key in keys])


def encrypt_token(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt_token(ciphertext: str) -> str:
    """The clear token; raises IssuingError when no configured key opens it (a key was dropped too soon)."""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise IssuingError(
            "No key in BADGE_ISSUER_TOKEN_KEYS decrypts this API token: was a key removed before "
            "rotate_issuer_tokens ran?",
            code=IssuingErrorCode.UNDECRYPTABLE,
        ) from None


def rotate_token(ciphertext: str) -> str:
    """The token re-encrypted with the first key."""
    return _fernet().rotate(ciphertext.encode()).decode()


def is_valid_key(key: str) -> bool:
    try:
        Fernet(key)
    except ValueError:
        return False
    return True
