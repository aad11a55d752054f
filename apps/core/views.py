from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import run_health_checks


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers, 503 otherwise, so a load balancer can act on it."""
    checks = run_health_checks()
    healthy = all(result["ok"] for result in checks.values())
    if not request.user.is_staff:
        # Error texts can name hosts and paths: only operators see them.
        for result in checks.values():
            result.pop("error", None)
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
