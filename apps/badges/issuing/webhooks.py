"""The issuing services' webhooks. Credly signs nothing, so nothing in the body is trusted: the view
only queues the id it names (Credly's body {id, organization_id, event_type, occurred_at} names an
event), and the task fetches that event, then the badge or templates it is about, from the service with
the organization's own token (services.apply_webhook). It answers at once; the service retries for days
otherwise."""

from __future__ import annotations

import json
import logging
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import IssuerOrganization
from .tasks import apply_issuer_webhook_task

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def issuer_webhook(request: HttpRequest, organization_uuid: uuid.UUID) -> HttpResponse:
    try:
        body = json.loads(request.body)
        object_id, event_type = str(body["id"]), str(body["event_type"])
    except (ValueError, TypeError, KeyError):
        return JsonResponse({"detail": "Expected a JSON object with 'id' and 'event_type'."}, status=400)
    organization = IssuerOrganization.objects.filter(uuid=organization_uuid, is_active=True).first()
    if organization is None or str(body.get("organization_id", organization.external_id)) != organization.external_id:
        # Harmless, and no hint to a caller probing for organizations.
        log.info("Webhook %s %s for unknown organization %s ignored", event_type, object_id, organization_uuid)
        return HttpResponse(status=204)
    apply_issuer_webhook_task.delay(str(organization.uuid), event_type[:100], object_id[:255])
    return HttpResponse(status=204)
