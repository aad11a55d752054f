from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ProgramRecordShare
from .services import revoke_program_record_share


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[ProgramRecordShare]) -> list[tuple[str, str]]:
        return [("yes", "Revoked"), ("no", "Active")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ProgramRecordShare]) -> QuerySet[ProgramRecordShare]:
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


@admin.register(ProgramRecordShare)
class ProgramRecordShareAdmin(admin.ModelAdmin[ProgramRecordShare]):
    """Shares are made by learners; operators only look and revoke, and revoking goes through the service."""

    list_display = ["uuid", "user", "program", "created", "revoked_at"]
    list_filter = [RevokedFilter]
    list_select_related = ["user", "program"]
    search_fields = ["user__username", "program__title"]
    readonly_fields = ["uuid", "user", "program", "created", "modified", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ProgramRecordShare | None = None) -> bool:
        # Every field is the service's to set; the change form is for reading.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ProgramRecordShare | None = None) -> bool:
        # Revoke instead: the row records that the link existed and when it stopped working.
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("records.change_programrecordshare"))

    @admin.action(description="Revoke the selected share links", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ProgramRecordShare]) -> None:
        shares = list(queryset.select_related("user"))
        for share in shares:
            revoke_program_record_share(user=share.user, share_uuid=share.uuid)
        self.message_user(request, f"Revoked {len(shares)} share link(s).", messages.SUCCESS)
