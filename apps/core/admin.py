from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User

MISSING_IDENTITY = "A user needs a username or an LMS user id."


class NullableUsernameField(auth_forms.UsernameField):
    """Django's UsernameField measures the value after emptiness became None (our username is
    nullable, so the form's empty value is None) and fails with a TypeError; keep None as it is."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return self.empty_value
        return super().to_python(value)


class UserCreationForm(auth_forms.AdminUserCreationForm[User]):
    """Operators and service accounts created here log in by username, so it is required."""

    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "lms_user_id", "email", "full_name")
        field_classes = {"username": NullableUsernameField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].required = True


class UserChangeForm(auth_forms.UserChangeForm[User]):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        field_classes = {"username": NullableUsernameField}

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean() or {}
        # The model's check constraint would say the same in database terms.
        if not cleaned_data.get("username") and cleaned_data.get("lms_user_id") is None:
            raise forms.ValidationError(MISSING_IDENTITY, code="missing_identity")
        return cleaned_data


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("username", "lms_user_id", "email", "full_name", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active")
    # `lms_user_id__exact` compares the id as text, so a non-numeric term finds nothing instead of failing.
    search_fields = ("username", "email", "lms_user_id__exact", "full_name")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("LMS identity", {"fields": ("lms_user_id", "full_name", "email")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "lms_user_id",
                    "email",
                    "full_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
