from __future__ import annotations

from django.db import models


class ProcessedEvent(models.Model):
    """An incoming event whose effects are committed. Written in the same transaction as the effects,
    so a redelivered event finds its id here and changes nothing."""

    event_id = models.UUIDField(primary_key=True)
    event_type = models.CharField(max_length=255)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class ParkedStatus(models.TextChoices):
    PARKED = "parked", "Parked"
    REPLAYED = "replayed", "Replayed"
    DISCARDED = "discarded", "Discarded"


class ParkedEvent(models.Model):
    """An incoming event that failed because of its content. Kept whole (raw bytes and headers) so it
    can be replayed once the cause (an unknown course, a bug) is fixed."""

    event_id = models.UUIDField(
        null=True, blank=True, unique=True, help_text="Empty when the message could not be read at all."
    )
    event_type = models.CharField(max_length=255, blank=True)
    topic = models.CharField(max_length=255)
    message_id = models.CharField(
        max_length=255, blank=True, help_text="The broker's id (stream id or partition/offset)."
    )
    headers = models.JSONField(default=dict)
    payload = models.BinaryField()
    error = models.TextField()
    status = models.CharField(max_length=16, choices=ParkedStatus.choices, default=ParkedStatus.PARKED)
    attempts = models.PositiveIntegerField(default=1)
    parked_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-parked_at"]
        indexes = [models.Index(fields=["status", "parked_at"], name="eventbus_parked_status_idx")]

    def __str__(self) -> str:
        return f"{self.event_type or 'unreadable'} {self.event_id or self.message_id}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PUBLISHED = "published", "Published"


class OutboxEvent(models.Model):
    """An event to publish, written in the transaction that made the state change it reports. The
    relay publishes rows in id order and marks one published only after the broker acknowledged it."""

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=255)
    topic = models.CharField(max_length=255, help_text="Without the environment prefix.")
    event_key = models.CharField(max_length=255, help_text="Orders events of one learner and program.")
    metadata = models.JSONField(help_text="The event's CloudEvents metadata (id, time, source…).")
    payload = models.BinaryField(help_text="The event data, Avro-encoded as openedx-events does.")
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "id"], name="eventbus_outbox_status_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"


class RelayLease(models.Model):
    """Who may relay the outbox right now. Taken with a conditional update, so exactly one process
    publishes at a time and events keep their order; a crashed holder's lease simply expires."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=255, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'}"
