from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import OutboxEvent, OutboxStatus, ParkedEvent, ParkedStatus, ProcessedEvent


class ReadOnlyAdmin[M: models.Model](admin.ModelAdmin[M]):
    """Rows written only by the consumer and the relay: operators look, and act through actions."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin[ProcessedEvent]):
    list_display = ["event_id", "event_type", "processed_at"]
    list_filter = ["event_type"]
    search_fields = ["event_id"]
    date_hierarchy = "processed_at"


@admin.register(ParkedEvent)
class ParkedEventAdmin(ReadOnlyAdmin[ParkedEvent]):
    list_display = ["id", "event_type", "event_id", "status", "attempts", "short_error", "parked_at", "last_attempt_at"]
    list_filter = ["status", "event_type", "topic"]
    search_fields = ["event_id", "message_id", "error"]
    readonly_fields = [
        "event_id",
        "event_type",
        "topic",
        "message_id",
        "headers",
        "payload_size",
        "error",
        "status",
        "attempts",
        "parked_at",
        "last_attempt_at",
    ]
    exclude = ["payload"]
    actions = ["replay", "discard"]

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        # The change page is where the full error is read; every field on it is read-only.
        return bool(request.user.is_staff)

    @admin.display(description="error")
    def short_error(self, obj: ParkedEvent) -> str:
        return obj.error.splitlines()[0][:120] if obj.error else ""

    @admin.display(description="payload bytes")
    def payload_size(self, obj: ParkedEvent) -> int:
        return len(bytes(obj.payload))

    @admin.action(description="Replay selected parked events")
    def replay(self, request: HttpRequest, queryset: QuerySet[ParkedEvent]) -> None:
        outcomes = [
            services.replay_parked_event(parked_id=pk) for pk in queryset.order_by("pk").values_list("pk", flat=True)
        ]
        replayed = sum(1 for p in outcomes if p.status == ParkedStatus.REPLAYED)
        still = sum(1 for p in outcomes if p.status == ParkedStatus.PARKED)
        self.message_user(request, f"Replayed {replayed}; {still} failed again and stay parked.", messages.INFO)

    @admin.action(description="Discard selected parked events (keep them, never replay)")
    def discard(self, request: HttpRequest, queryset: QuerySet[ParkedEvent]) -> None:
        for pk in queryset.values_list("pk", flat=True):
            services.discard_parked_event(parked_id=pk)
        self.message_user(request, "Discarded.", messages.INFO)


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin[OutboxEvent]):
    list_display = ["id", "event_type", "event_key", "status", "attempts", "created", "published_at", "short_error"]
    list_filter = ["status", "event_type", "topic"]
    search_fields = ["event_id", "event_key"]
    actions = ["relay_now"]

    @admin.display(description="last error")
    def short_error(self, obj: OutboxEvent) -> str:
        return obj.last_error[:120]

    @admin.action(description="Relay pending events now")
    def relay_now(self, request: HttpRequest, queryset: QuerySet[OutboxEvent]) -> None:
        result = services.relay_outbox()
        pending = OutboxEvent.objects.filter(status=OutboxStatus.PENDING).count()
        if result.skipped:
            self.message_user(request, "Another relay is running; try again shortly.", messages.WARNING)
        elif result.failed:
            self.message_user(request, f"Published {result.published}; stopped: {result.error}", messages.ERROR)
        else:
            self.message_user(request, f"Published {result.published}; {pending} pending.", messages.SUCCESS)
