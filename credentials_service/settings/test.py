"""Test settings: only test concerns differ from base."""

from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

# Tests run on the real PostgreSQL unless told otherwise (TEST_DATABASE_URL=sqlite:// keeps the
# embedded default honest).
os.environ.setdefault(
    "DATABASE_URL", os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/credentials")
)
os.environ.setdefault("REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
# The optional badge issuing app is tested too, with a throwaway token key.
os.environ.setdefault("CREDLY_ENABLED", "true")
os.environ.setdefault("ACCREDIBLE_ENABLED", "true")
os.environ.setdefault("BADGE_ISSUER_TOKEN_KEYS", "dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLTAxMjM0NTY=")

from .base import *  # noqa: F403
from .base import JWT_AUTH

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True

# A throwaway RSA public key so the key set is not empty: see core.E003 and base.JWT_AUTH.
_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_jwk = json.loads(RSAAlgorithm.to_jwk(_key.public_key()))
_jwk["kid"] = "test"
JWT_AUTH = {
    **JWT_AUTH,
    "JWT_ISSUERS": [
        {
            "ISSUER": "http://lms.test/oauth2",
            "AUDIENCE": "lms-key",
            "SECRET_KEY": "test-lms-secret-0123456789abcdef0123456789",
        }
    ],
    "JWT_PUBLIC_SIGNING_JWK_SET": json.dumps({"keys": [_jwk]}),
}
