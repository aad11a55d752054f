"""Serializer fields shared by the v2 endpoints: times as openedx/credentials writes them."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from rest_framework import serializers

# openedx/credentials' REST_FRAMEWORK["DATETIME_FORMAT"]: whole seconds, UTC, a "Z".
LMS_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class LmsDateTimeField(serializers.DateTimeField):
    """Written as the original writes times; read in any ISO 8601 form, including the
    "2024-05-01 00:00:00+00:00" that the LMS makes with str(datetime)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", LMS_DATETIME_FORMAT)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        if value is None:
            return None
        return super().to_representation(value.astimezone(UTC))
