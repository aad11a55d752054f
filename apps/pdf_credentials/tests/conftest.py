from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def local_pdf_storage(settings: Any, tmp_path: Any) -> None:
    """PDFs, assets and emails kept in this test: files under its tmp_path, emails in memory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "pdf_credentials": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
