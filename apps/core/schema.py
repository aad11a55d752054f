"""OpenAPI description of our authentication, so /api/docs/ offers the LMS's JWT scheme."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


# drf-spectacular leaves OpenApiGeneratorExtension.__init_subclass__ unannotated, so subclassing calls it untyped.
class LearnerJwtAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.core.auth.LearnerJwtAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An LMS-issued JWT, sent as "JWT <token>".',
        }
