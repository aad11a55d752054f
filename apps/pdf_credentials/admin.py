"""PDF credentials in the admin. Forms validate dotted paths, options, scope and schedule (a form error
naming the problem); saving a configuration keeps its celery-beat task in step through the service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.api import DomainError

from . import services
from .models import CredentialAsset, CredentialConfiguration, CredentialType, GenerationRun, PdfCredential, PdfStatus
from .tasks import generate_chunk_task, run_configuration_task

TIMESTAMPS = ("created", "modified")


def _form_error(form: forms.ModelForm[Any], error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class CredentialAssetForm(forms.ModelForm[CredentialAsset]):
    class Meta:
        model = CredentialAsset
        fields = ("slug", "kind", "file", "description")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload, kind = data.get("file"), data.get("kind")
        if upload and kind in ("template", "font") and hasattr(upload, "read"):
            head = upload.read(4)
            upload.seek(0)
            if kind == "template" and head != b"%PDF":
                self.add_error("file", "A template must be a PDF file.")
            if kind == "font" and head not in (b"\x00\x01\x00\x00", b"true", b"ttcf"):
                self.add_error(
                    "file", "A font must be a TrueType (.ttf or .ttc) file; OpenType/CFF fonts cannot be embedded."
                )
        return data


@admin.register(CredentialAsset)
class CredentialAssetAdmin(admin.ModelAdmin[CredentialAsset]):
    form = CredentialAssetForm
    list_display = ("slug", "kind", "file", "description", "modified")
    list_filter = ("kind",)
    search_fields = ("slug", "description")


class CredentialTypeForm(forms.ModelForm[CredentialType]):
    class Meta:
        model = CredentialType
        fields = ("name", "processor", "generator", "options")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("processor") and data.get("generator"):
            try:
                services.validate_type(processor=data["processor"], generator=data["generator"])
            except DomainError as error:
                _form_error(self, error)
        return data


@admin.register(CredentialType)
class CredentialTypeAdmin(admin.ModelAdmin[CredentialType]):
    form = CredentialTypeForm
    list_display = ("name", "processor", "generator")
    search_fields = ("name", "processor", "generator")


class CredentialConfigurationForm(forms.ModelForm[CredentialConfiguration]):
    class Meta:
        model = CredentialConfiguration
        fields = (
            "credential_type",
            "course_run_key",
            "program_uuid",
            "title",
            "options",
            "schedule",
            "is_enabled",
            "notify_learners",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors or data.get("credential_type") is None:
            return data
        try:
            services.validate_configuration(
                credential_type=data["credential_type"],
                course_run_key=data.get("course_run_key") or "",
                program_uuid=data.get("program_uuid"),
                options=data.get("options") or {},
                schedule=data.get("schedule") or "",
            )
        except DomainError as error:
            _form_error(self, error)
        return data


@admin.register(CredentialConfiguration)
class CredentialConfigurationAdmin(admin.ModelAdmin[CredentialConfiguration]):
    form = CredentialConfigurationForm
    list_display = ("__str__", "schedule", "is_enabled", "notify_learners", "last_run")
    list_filter = ("is_enabled", "credential_type")
    search_fields = ("course_run_key", "program_uuid", "title")
    readonly_fields = ("periodic_task", *TIMESTAMPS)
    actions = ("run_now",)

    def save_model(self, request: HttpRequest, obj: CredentialConfiguration, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.sync_periodic_task(configuration_id=obj.pk)

    def delete_model(self, request: HttpRequest, obj: CredentialConfiguration) -> None:
        services.delete_configuration(configuration_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CredentialConfiguration]) -> None:
        for configuration in queryset:
            services.delete_configuration(configuration_id=configuration.pk)

    @admin.display(description="last run")
    def last_run(self, configuration: CredentialConfiguration) -> str:
        run = configuration.runs.order_by("-created").first()
        return f"{run.created:%Y-%m-%d %H:%M} {run.status} ({run.progress})" if run else "-"

    @admin.action(description="Run now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[CredentialConfiguration]) -> None:
        for configuration in queryset:
            run_configuration_task.delay(configuration.pk)
        self.message_user(request, f"{queryset.count()} configurations queued; see Generation runs for progress.")


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin[GenerationRun]):
    list_display = (
        "configuration",
        "status",
        "progress_bar",
        "eligible",
        "generated",
        "failed",
        "invalidated",
        "created",
    )
    list_filter = ("status", "configuration")
    readonly_fields = [field.name for field in GenerationRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="progress")
    def progress_bar(self, run: GenerationRun) -> str:
        done = run.generated + run.failed
        percent = round(100 * done / run.to_generate) if run.to_generate else 100
        return format_html('<progress max="100" value="{}"></progress> {}', percent, run.progress)


@admin.register(PdfCredential)
class PdfCredentialAdmin(admin.ModelAdmin[PdfCredential]):
    list_display = ("user", "configuration", "status", "attempts", "generated_at", "verification_link")
    list_filter = ("status", "configuration")
    search_fields = ("user__username", "verification_uuid", "learner_name")
    readonly_fields = [field.name for field in PdfCredential._meta.fields]
    actions = ("reissue", "invalidate", "retry_failed")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="verification page")
    def verification_link(self, pdf: PdfCredential) -> str:
        return format_html('<a href="{}">{}</a>', services.verification_url(pdf), pdf.verification_uuid)

    @admin.action(description="Re-issue (new file, same verification link)")
    def reissue(self, request: HttpRequest, queryset: QuerySet[PdfCredential]) -> None:
        ids = services.reissue(pdf_ids=list(queryset.values_list("pk", flat=True)))
        if ids:
            generate_chunk_task.delay(None, ids)
        self.message_user(request, f"{len(ids)} PDFs queued for re-issue.")

    @admin.action(description="Invalidate (revoke)")
    def invalidate(self, request: HttpRequest, queryset: QuerySet[PdfCredential]) -> None:
        count = services.invalidate(
            pdf_ids=list(queryset.values_list("pk", flat=True)), reason="Revoked by an operator."
        )
        self.message_user(request, f"{count} PDFs invalidated.", messages.WARNING)

    @admin.action(description="Retry failed")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[PdfCredential]) -> None:
        ids = services.reissue(pdf_ids=list(queryset.filter(status=PdfStatus.FAILED).values_list("pk", flat=True)))
        if ids:
            generate_chunk_task.delay(None, ids)
        self.message_user(request, f"{len(ids)} failed PDFs queued again.")
