"""Credentials in the admin. Forms validate; every write that has a service goes through it."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from apps.core.api import request_user

from . import selectors, services
from .exceptions import CredentialsError
from .models import (
    CertificateMode,
    CourseCertificate,
    CredentialImport,
    CredentialImportSkip,
    CredentialStatus,
    ProgramCertificate,
    ProgramTypeConfiguration,
    Signatory,
    UserCredential,
    UserGrade,
)

TIMESTAMPS = ("created", "modified")


def _adopt(obj: Model, saved: Model) -> None:
    """Point the admin's form instance at the row a service saved, so the admin's m2m save, log
    entry and redirect that follow use that row."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


@admin.register(Signatory)
class SignatoryAdmin(admin.ModelAdmin[Signatory]):
    list_display = ("name", "title", "organization_name_override")
    search_fields = ("name", "title")
    readonly_fields = TIMESTAMPS


@admin.register(CourseCertificate)
class CourseCertificateAdmin(admin.ModelAdmin[CourseCertificate]):
    list_display = ("course_run", "certificate_type", "title", "is_active")
    list_filter = ("certificate_type", "is_active")
    list_select_related = ("course_run",)
    search_fields = ("course_run__key",)
    autocomplete_fields = ("course_run",)
    filter_horizontal = ("signatories",)

    def get_readonly_fields(self, request: HttpRequest, obj: CourseCertificate | None = None) -> tuple[str, ...]:
        # Learners' credentials point at this configuration: its run and mode stay as created.
        # lms_last_updated_at belongs to the LMS's events (it orders them).
        readonly = ("lms_last_updated_at", *TIMESTAMPS)
        return ("course_run", "certificate_type", *readonly) if obj else readonly

    def save_model(
        self, request: HttpRequest, obj: CourseCertificate, form: forms.ModelForm[CourseCertificate], change: bool
    ) -> None:
        saved = services.configure_course_certificate(
            course_run_key=obj.course_run.key, mode=obj.certificate_type, title=obj.title, is_active=obj.is_active
        )
        _adopt(obj, saved)


@admin.register(ProgramCertificate)
class ProgramCertificateAdmin(admin.ModelAdmin[ProgramCertificate]):
    list_display = ("program", "title_override", "is_active", "is_revocation_enabled", "certificate_available_date")
    list_filter = ("is_active", "is_revocation_enabled")
    list_select_related = ("program",)
    search_fields = ("program__title", "title_override")
    autocomplete_fields = ("program",)
    filter_horizontal = ("signatories",)

    def get_readonly_fields(self, request: HttpRequest, obj: ProgramCertificate | None = None) -> tuple[str, ...]:
        return ("program", *TIMESTAMPS) if obj else TIMESTAMPS

    def save_model(
        self, request: HttpRequest, obj: ProgramCertificate, form: forms.ModelForm[ProgramCertificate], change: bool
    ) -> None:
        saved = services.configure_program_certificate(
            program_uuid=obj.program.uuid,
            title_override=obj.title_override,
            is_active=obj.is_active,
            is_revocation_enabled=obj.is_revocation_enabled,
            certificate_available_date=obj.certificate_available_date,
        )
        _adopt(obj, saved)


class ProgramTypeConfigurationForm(forms.ModelForm[ProgramTypeConfiguration]):
    eligible_modes = forms.MultipleChoiceField(
        choices=CertificateMode.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Course certificate modes that count towards this type's program certificates. "
        "Run recompute_program_certificates for its programs after a change.",
    )

    class Meta:
        model = ProgramTypeConfiguration
        fields = ("type_slug", "eligible_modes")


@admin.register(ProgramTypeConfiguration)
class ProgramTypeConfigurationAdmin(admin.ModelAdmin[ProgramTypeConfiguration]):
    form = ProgramTypeConfigurationForm
    list_display = ("type_slug", "modes", "modified")
    search_fields = ("type_slug",)

    def get_readonly_fields(self, request: HttpRequest, obj: ProgramTypeConfiguration | None = None) -> tuple[str, ...]:
        # The slug is the row's identity for the service; another type gets its own row.
        return ("type_slug", *TIMESTAMPS) if obj else TIMESTAMPS

    @admin.display(description="eligible modes")
    def modes(self, configuration: ProgramTypeConfiguration) -> str:
        return ", ".join(configuration.eligible_modes)

    def save_model(
        self,
        request: HttpRequest,
        obj: ProgramTypeConfiguration,
        form: forms.ModelForm[ProgramTypeConfiguration],
        change: bool,
    ) -> None:
        saved = services.configure_program_type(type_slug=obj.type_slug, eligible_modes=obj.eligible_modes)
        _adopt(obj, saved)


class CredentialKindFilter(admin.SimpleListFilter):
    """Filters by the credential's content type, named as the API names the kinds."""

    title = "credential kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[UserCredential]) -> list[tuple[str, str]]:
        return [(kind, kind) for kind in selectors.CREDENTIAL_KINDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[UserCredential]) -> QuerySet[UserCredential]:
        model = selectors.CREDENTIAL_KINDS.get(self.value() or "")
        if model is None:
            return queryset
        return queryset.filter(credential_content_type=ContentType.objects.get_for_model(model))


class UserCredentialForm(forms.ModelForm[UserCredential]):
    download_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = UserCredential
        fields = ("status", "download_url", "visible_date")

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        if self.instance.credential is None:
            raise forms.ValidationError(
                "This credential's configuration no longer exists, so it cannot be awarded or revoked.",
                code="missing_configuration",
            )
        # The award service sets a URL or a visible date but never clears one; say so rather than
        # let the save quietly keep the old value.
        for name in ("download_url", "visible_date"):
            if getattr(self.instance, name) and not cleaned_data.get(name) and name not in self.errors:
                self.add_error(name, "This cannot be cleared here; set a new value instead.")
        if (
            isinstance(self.instance.credential, ProgramCertificate)
            and "status" in self.changed_data
            and cleaned_data.get("status") == CredentialStatus.AWARDED
            and self.instance.user.lms_user_id is None
        ):
            raise forms.ValidationError(
                "This learner has no LMS user id, which the program certificate award event must carry.",
                code="no_lms_user_id",
            )
        detail_changes = {"download_url", "visible_date"} & set(self.changed_data)
        if cleaned_data.get("status") == CredentialStatus.REVOKED and detail_changes:
            raise forms.ValidationError(
                "Revoking keeps the download URL and visible date: revoke, or change them, not both at once.",
                code="revoke_with_changes",
            )
        return cleaned_data


@admin.register(UserCredential)
class UserCredentialAdmin(admin.ModelAdmin[UserCredential]):
    form = UserCredentialForm
    list_display = ("uuid", "user", "kind", "credential_link", "status", "visible_date", "awarded_at")
    list_filter = ("status", CredentialKindFilter)
    list_select_related = ("user", "credential_content_type")
    search_fields = ("user__username", "user__email", "uuid")
    fields = (
        "uuid",
        "user",
        "kind",
        "credential_link",
        "status",
        "download_url",
        "visible_date",
        "awarded_at",
        "revoked_at",
        *TIMESTAMPS,
    )
    readonly_fields = ("uuid", "user", "kind", "credential_link", "awarded_at", "revoked_at", *TIMESTAMPS)
    actions = ("revoke_selected", "award_selected")

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserCredential]:
        # The selector prefetches each kind's configuration in one query, so the changelist's query
        # count does not grow with its rows. Only staff reach the admin, and they see everyone's.
        return selectors.list_credentials(requester=request_user(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Credentials are awarded by the LMS's events and the API, which name the course run or program.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: UserCredential | None = None) -> bool:
        # A learner's credential is revoked, never deleted. This also stops the admin from deleting a
        # configuration or a user whose deletion would cascade to credentials.
        return False

    @admin.display(description="credential kind")
    def kind(self, credential: UserCredential) -> str:
        return selectors.credential_kind(credential)

    @admin.display(description="credential")
    def credential_link(self, credential: UserCredential) -> str:
        configuration = credential.credential
        if configuration is None:
            return f"missing {credential.credential_content_type.model} {credential.credential_id}"
        opts = configuration._meta
        try:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[configuration.pk])
        except NoReverseMatch:
            return str(configuration)
        return format_html('<a href="{}">{}</a>', url, configuration)

    def save_model(
        self, request: HttpRequest, obj: UserCredential, form: forms.ModelForm[UserCredential], change: bool
    ) -> None:
        configuration = cast(Model, obj.credential)  # the form refuses one whose configuration is gone
        if obj.status == CredentialStatus.REVOKED:
            saved = services.revoke_credential(user=obj.user, configuration=configuration)
        else:
            saved = services.award_credential(
                user=obj.user,
                configuration=configuration,
                download_url=obj.download_url,
                visible_date=obj.visible_date,
            )
        _adopt(obj, saved)

    @admin.action(description="Revoke selected credentials", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[UserCredential]) -> None:
        self._change_status(request, queryset, to=CredentialStatus.REVOKED)

    @admin.action(description="Re-award selected credentials", permissions=["change"])
    def award_selected(self, request: HttpRequest, queryset: QuerySet[UserCredential]) -> None:
        self._change_status(request, queryset, to=CredentialStatus.AWARDED)

    def _change_status(self, request: HttpRequest, queryset: QuerySet[UserCredential], *, to: str) -> None:
        changed, unchanged, missing = 0, 0, []
        for credential in queryset:
            configuration = credential.credential
            if configuration is None:
                missing.append(str(credential.uuid))
                continue
            if credential.status == to:
                unchanged += 1
                continue
            try:
                if to == CredentialStatus.REVOKED:
                    services.revoke_credential(user=credential.user, configuration=configuration)
                else:
                    services.award_credential(user=credential.user, configuration=configuration)
            except CredentialsError as exc:
                self.message_user(request, f"{credential.uuid}: {exc.message}", messages.ERROR)
                continue
            changed += 1
        verb = "Revoked" if to == CredentialStatus.REVOKED else "Re-awarded"
        self.message_user(request, f"{verb} {changed} credential(s); {unchanged} already {to}.", messages.SUCCESS)
        if missing:
            self.message_user(
                request, f"Skipped {len(missing)} whose configuration is gone: {', '.join(missing)}.", messages.ERROR
            )


@admin.register(UserGrade)
class UserGradeAdmin(admin.ModelAdmin[UserGrade]):
    list_display = (
        "user",
        "course_run",
        "percent_grade",
        "letter_grade",
        "passed",
        "passed_timestamp",
        "lms_last_updated_at",
    )
    list_filter = ("passed",)
    list_select_related = ("user", "course_run")
    search_fields = ("user__username", "course_run__key")
    autocomplete_fields = ("user", "course_run")
    fields = (
        "user",
        "course_run",
        "percent_grade",
        "letter_grade",
        "passed",
        "passed_timestamp",
        "lms_last_updated_at",
        *TIMESTAMPS,
    )

    def get_readonly_fields(self, request: HttpRequest, obj: UserGrade | None = None) -> tuple[str, ...]:
        readonly = ("passed_timestamp", "lms_last_updated_at", *TIMESTAMPS)
        return ("user", "course_run", *readonly) if obj else readonly

    def save_model(self, request: HttpRequest, obj: UserGrade, form: forms.ModelForm[UserGrade], change: bool) -> None:
        # No LMS timestamp: an operator's correction applies, and the stored LMS time is kept.
        saved = services.record_grade(
            user=obj.user,
            course_run_key=obj.course_run.key,
            percent_grade=obj.percent_grade,
            passed=obj.passed,
            letter_grade=obj.letter_grade,
        )
        _adopt(obj, saved)


# --- imports from an existing credentials service (import_credentials) ---------------------------


class CredentialImportSkipInline(admin.TabularInline[CredentialImportSkip, CredentialImport]):
    model = CredentialImportSkip
    fields = ("source_uuid", "username", "reason", "payload", "modified")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: CredentialImport | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CredentialImport | None = None) -> bool:
        return False


# Where an import stands and what it did so far.
_IMPORT_PROGRESS = (
    "next_page",
    "total",
    "created_count",
    "updated_count",
    "unchanged_count",
    "skipped_count",
    "grades_count",
)


@admin.register(CredentialImport)
class CredentialImportAdmin(admin.ModelAdmin[CredentialImport]):
    """Read-only: the import_credentials command writes these (its checkpoint and the rows it skipped)."""

    list_display = ("source_url", *_IMPORT_PROGRESS, "finished_at", "modified")
    search_fields = ("source_url",)
    fields = (
        "source_url",
        *_IMPORT_PROGRESS,
        "finished_at",
        "last_error",
        *TIMESTAMPS,
    )
    readonly_fields = fields
    inlines = (CredentialImportSkipInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CredentialImport | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CredentialImport | None = None) -> bool:
        # The checkpoint is the command's: `import_credentials --restart` starts an import again.
        return False
