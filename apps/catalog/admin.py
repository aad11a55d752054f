"""The catalog in the admin. `load_catalog` is the usual way in; these pages are for looking and fixing."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from .models import Course, CourseRun, Organization, Program, ProgramCourse


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("key", "name", "uuid")
    search_fields = ("key", "name")
    readonly_fields = ("created", "modified")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class CourseRunInline(admin.TabularInline[CourseRun, Course]):
    model = CourseRun
    fields = ("key", "title", "pacing_type", "start", "end")
    show_change_link = True
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin[Course]):
    list_display = ("key", "title", "uuid")
    search_fields = ("key", "title")
    filter_horizontal = ("owners",)
    inlines = (CourseRunInline,)
    readonly_fields = ("created", "modified")


@admin.register(CourseRun)
class CourseRunAdmin(admin.ModelAdmin[CourseRun]):
    list_display = ("key", "display_title", "course", "pacing_type", "start", "end")
    list_filter = ("pacing_type",)
    list_select_related = ("course",)
    search_fields = ("key", "title")
    autocomplete_fields = ("course",)
    readonly_fields = ("lms_last_updated_at", "created", "modified")

    @admin.display(description="title")
    def display_title(self, run: CourseRun) -> str:
        return run.display_title


class ProgramCourseInline(admin.TabularInline[ProgramCourse, Program]):
    model = ProgramCourse
    fields = ("course", "position")
    autocomplete_fields = ("course",)
    extra = 0


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin[Program]):
    list_display = ("title", "type", "status", "uuid")
    list_filter = ("status", "type")
    search_fields = ("title", "uuid")
    filter_horizontal = ("authoring_organizations",)
    inlines = (ProgramCourseInline,)
    readonly_fields = ("created", "modified")
