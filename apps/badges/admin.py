"""Badges in the admin. Templates carry their requirements and penalties inline; each requirement's and
penalty's change page carries its data rules, with the paths its event type offers. State changes go
through the services (the Activate and Archive actions)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from . import rules, services
from .exceptions import BadgesError, DataRuleError
from .models import (
    BadgePenalty,
    BadgeProgress,
    BadgeRequirement,
    BadgeTemplate,
    DataRule,
    Fulfillment,
    TemplateState,
)

TIMESTAMPS = ("created", "modified")


def _event_type_choices() -> list[tuple[str, str]]:
    # Only the types the badge processor is fed; the model's validator says so for any other.
    return [("", "---------"), *((event_type, event_type) for event_type in settings.BADGES_EVENT_TYPES)]


def _path_choices(event_type: str) -> list[tuple[str, str]] | None:
    """The valid data paths of this event type, labelled with their types; None for an unknown type."""
    try:
        paths = rules.payload_paths(event_type)
    except DataRuleError:
        return None
    return [("", "---------"), *((path, f"{path} ({rules.type_name(kind)})") for path, kind in paths.items())]


class BadgeRequirementForm(forms.ModelForm[BadgeRequirement]):
    event_type = forms.ChoiceField(choices=_event_type_choices, help_text="The openedx-events event type.")

    class Meta:
        model = BadgeRequirement
        fields = ("template", "event_type", "group", "description")


class BadgePenaltyForm(forms.ModelForm[BadgePenalty]):
    event_type = forms.ChoiceField(choices=_event_type_choices, help_text="The openedx-events event type.")

    class Meta:
        model = BadgePenalty
        fields = ("template", "event_type", "description", "requirements")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "requirements" in self.fields and self.instance.template_id is not None:
            field = self.fields["requirements"]
            assert isinstance(field, forms.ModelMultipleChoiceField)
            field.queryset = BadgeRequirement.objects.filter(template_id=self.instance.template_id)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        template = cleaned.get("template") or getattr(self.instance, "template", None)
        foreign = [r for r in cleaned.get("requirements") or [] if template and r.template_id != template.pk]
        if foreign:
            self.add_error("requirements", "A penalty resets only requirements of its own template.")
        return cleaned


class DataRuleFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """Gives each rule its owner as the owner's form left it (even unsaved, or with a changed event
    type), so that DataRule.clean checks the path and value against the event type being saved."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        form: Any = super()._construct_form(i, **kwargs)  # type: ignore[misc]
        setattr(form.instance, self.fk.name, self.instance)
        return form  # type: ignore[no-any-return]


class _DataRuleInline(admin.TabularInline[DataRule, Model]):
    model = DataRule
    formset = DataRuleFormSet
    fields = ("data_path", "operator", "value")
    extra = 1

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        choices = _path_choices(obj.event_type) if obj is not None else None
        if choices is not None:
            kwargs["widgets"] = {"data_path": forms.Select(choices=choices)}
        return super().get_formset(request, obj, **kwargs)


class RequirementDataRuleInline(_DataRuleInline):
    fk_name = "requirement"
    verbose_name = "data rule (all must match)"


class PenaltyDataRuleInline(_DataRuleInline):
    fk_name = "penalty"
    verbose_name = "data rule (all must match)"


class BadgeRequirementInline(admin.TabularInline[BadgeRequirement, BadgeTemplate]):
    model = BadgeRequirement
    form = BadgeRequirementForm
    fields = ("event_type", "group", "description")
    extra = 0
    show_change_link = True  # its data rules are edited on its own page


class BadgePenaltyInline(admin.TabularInline[BadgePenalty, BadgeTemplate]):
    model = BadgePenalty
    form = BadgePenaltyForm
    fields = ("event_type", "description")
    extra = 0
    show_change_link = True  # its data rules and the requirements it resets are edited on its own page


@admin.register(BadgeTemplate)
class BadgeTemplateAdmin(admin.ModelAdmin[BadgeTemplate]):
    list_display = ("name", "origin", "state", "is_revocable", "course_run_key", "organization_key", "image_preview")
    list_filter = ("state", "origin", "is_revocable")
    search_fields = ("name", "description", "uuid", "course_run_key", "organization_key")
    readonly_fields = ("uuid", "state", "image_preview", *TIMESTAMPS)
    fields = (
        "name",
        "description",
        "origin",
        "image",
        "image_preview",
        "course_run_key",
        "organization_key",
        "is_revocable",
        "state",
        "uuid",
        *TIMESTAMPS,
    )
    inlines = (BadgeRequirementInline, BadgePenaltyInline)
    actions = ("activate", "archive")

    @admin.display(description="image")
    def image_preview(self, template: BadgeTemplate) -> str:
        if not template.image:
            return "-"
        return format_html('<img src="{}" alt="{}" style="max-height: 80px">', template.image.url, template.name)

    @admin.action(description="Activate selected templates", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[BadgeTemplate]) -> None:
        self._change_state(request, queryset, services.activate_badge_template, TemplateState.ACTIVE)

    @admin.action(description="Archive selected templates", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[BadgeTemplate]) -> None:
        self._change_state(request, queryset, services.archive_badge_template, TemplateState.ARCHIVED)

    def _change_state(
        self, request: HttpRequest, queryset: QuerySet[BadgeTemplate], service: Any, state: TemplateState
    ) -> None:
        changed = 0
        for template_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                service(template_id=template_id)
            except BadgesError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} template(s) {state.label.lower()}.", messages.SUCCESS)


@admin.register(BadgeRequirement)
class BadgeRequirementAdmin(admin.ModelAdmin[BadgeRequirement]):
    form = BadgeRequirementForm
    list_display = ("__str__", "template", "event_type", "group")
    list_filter = ("event_type",)
    list_select_related = ("template",)
    search_fields = ("template__name", "description", "event_type")
    autocomplete_fields = ("template",)
    inlines = (RequirementDataRuleInline,)


@admin.register(BadgePenalty)
class BadgePenaltyAdmin(admin.ModelAdmin[BadgePenalty]):
    form = BadgePenaltyForm
    list_display = ("__str__", "template", "event_type")
    list_filter = ("event_type",)
    list_select_related = ("template",)
    search_fields = ("template__name", "description", "event_type")
    autocomplete_fields = ("template",)
    filter_horizontal = ("requirements",)
    inlines = (PenaltyDataRuleInline,)


class _ReadOnlyAdmin[M: Model](admin.ModelAdmin[M]):
    """Progress and fulfillments are facts recorded from events: viewed here, never edited."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FulfillmentInline(admin.TabularInline[Fulfillment, BadgeProgress]):
    model = Fulfillment
    fields = ("requirement", "created")
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BadgeProgress)
class BadgeProgressAdmin(_ReadOnlyAdmin[BadgeProgress]):
    list_display = ("user", "template", "created", "modified")
    list_filter = ("template__state",)
    list_select_related = ("user", "template")
    search_fields = ("user__username", "template__name", "template__uuid")
    inlines = (FulfillmentInline,)


@admin.register(Fulfillment)
class FulfillmentAdmin(_ReadOnlyAdmin[Fulfillment]):
    list_display = ("learner", "template", "requirement", "created")
    list_select_related = ("progress__user", "progress__template", "requirement__template")
    search_fields = ("progress__user__username", "progress__template__name", "progress__template__uuid")

    @admin.display(description="learner", ordering="progress__user__username")
    def learner(self, fulfillment: Fulfillment) -> str:
        return str(fulfillment.progress.user)

    @admin.display(description="template", ordering="progress__template__name")
    def template(self, fulfillment: Fulfillment) -> str:
        return str(fulfillment.progress.template)
