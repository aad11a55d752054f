"""Issuing services in the admin. An organization's API token is write-only: typed in, checked with the
service before it is saved, stored encrypted, never shown again. Of a badge on a service, only the
recipient's names (sent instead of those split from the learner's full name) are edited by hand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from . import services
from .exceptions import IssuingError
from .models import ExternalBadge, ExternalTemplate, IssuerOrganization


class IssuerOrganizationForm(forms.ModelForm[IssuerOrganization]):
    api_token = forms.CharField(
        label="API token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown. Leave empty to keep the current one.",
    )

    class Meta:
        model = IssuerOrganization
        fields = ("backend", "name", "external_id", "api_token", "is_sandbox", "notify_learners", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        token = data.get("api_token") or ""
        if not token and self.instance.pk is None:
            self.add_error("api_token", "An API token is needed.")
            return data
        reaches = ("backend", "external_id", "is_sandbox")
        if self.errors or not (token or any(name in self.changed_data for name in reaches)):
            return data
        try:
            services.check_api_token(
                backend=data["backend"],
                external_id=data["external_id"],
                api_token=token or self.instance.api_token,
                is_sandbox=data.get("is_sandbox", False),
            )
        except IssuingError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data


@admin.register(IssuerOrganization)
class IssuerOrganizationAdmin(admin.ModelAdmin[IssuerOrganization]):
    form = IssuerOrganizationForm
    list_display = ("name", "backend", "external_id", "is_sandbox", "notify_learners", "is_active", "last_synced_at")
    list_filter = ("backend", "is_sandbox", "is_active")
    search_fields = ("name", "external_id", "uuid")
    readonly_fields = ("uuid", "last_synced_at", "created", "modified")
    actions = ("sync_templates",)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        # Not in the admin's usual transaction: the form checks the token with the service over HTTP,
        # and no slow I/O runs inside a transaction (R6). The save is a single statement.
        response: HttpResponse = self._changeform_view(  # type: ignore[attr-defined]
            request, object_id, form_url, extra_context
        )
        return response

    def save_model(self, request: HttpRequest, obj: IssuerOrganization, form: Any, change: bool) -> None:
        token = form.cleaned_data.get("api_token")
        if token:
            obj.set_api_token(token)
        super().save_model(request, obj, form, change)
        if token and change:
            requeued = services.token_changed(organization_id=obj.pk)
            if requeued:
                self.message_user(request, f"{requeued} badges refused for want of a valid token are queued again.")

    @admin.action(description="Sync templates from the service now")
    def sync_templates(self, request: HttpRequest, queryset: QuerySet[IssuerOrganization]) -> None:
        for organization in queryset:
            try:
                result = services.sync_templates(organization_id=organization.pk)
            except Exception as error:  # noqa: BLE001 - shown to the operator, whatever the service did
                self.message_user(request, f"{organization}: {error}", messages.ERROR)
                continue
            self.message_user(
                request,
                f"{organization}: {result.created} created (as drafts), {result.updated} updated, "
                f"{result.archived} archived.",
            )


@admin.register(ExternalTemplate)
class ExternalTemplateAdmin(admin.ModelAdmin[ExternalTemplate]):
    list_display = ("template", "organization", "external_id")
    search_fields = ("template__name", "external_id")
    list_filter = ("organization",)
    readonly_fields = ("template", "organization", "external_id", "created", "modified")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ExternalTemplate | None = None) -> bool:
        # Made and archived by the template sync; without its link a template's badges cannot be synced.
        return False


_BADGE_NAME_FIELDS = ("recipient_first_name", "recipient_last_name")


@admin.register(ExternalBadge)
class ExternalBadgeAdmin(admin.ModelAdmin[ExternalBadge]):
    list_display = (
        "user",
        "template",
        "organization",
        "wanted",
        "state",
        "error",
        "external_id",
        "attempts",
        "next_attempt_at",
        "modified",
    )
    list_filter = ("state", "wanted", "organization")
    search_fields = ("user__username", "user__email", "external_id", "credential_uuid", "template__name")
    # Only the names sent to the service are an operator's to change; the rest is the sync's.
    readonly_fields = [field.name for field in ExternalBadge._meta.fields if field.name not in _BADGE_NAME_FIELDS]
    actions = ("retry",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ExternalBadge, form: Any, change: bool) -> None:
        # Not obj.save(): that would write back every field as the form read it, over what a worker
        # recorded meanwhile.
        services.set_recipient_name(
            badge_id=obj.pk,
            first_name=form.cleaned_data["recipient_first_name"],
            last_name=form.cleaned_data["recipient_last_name"],
        )

    @admin.action(description="Retry badges in error")
    def retry(self, request: HttpRequest, queryset: QuerySet[ExternalBadge]) -> None:
        count = services.retry_external_badges(badge_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} badges queued again.")
