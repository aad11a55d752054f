from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
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


@require_GET
def login(request: HttpRequest) -> HttpResponseRedirect:
    """The original service's /login/?next=…: the LMS sends learners there on their way to a certificate
    page (its force_program_cert_auth, on by default). The pages it links to are public here, so this
    only forwards to `next` when it stays on this site; anything else goes to the home page."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return HttpResponseRedirect(target)
