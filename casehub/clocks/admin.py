"""The administrator maintains the holiday calendar here each November."""

from __future__ import annotations

from django.contrib import admin

from casehub.clocks.models import Clock, ClockExtension, Holiday, HolidayYear


def _recount(request) -> None:
    from casehub.clocks.services import recount_clocks

    recount_clocks(acting_user=request.user)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """Editing a day recounts the running clocks, so due dates follow the calendar at once."""

    list_display = ("date", "name", "is_working_day", "year")
    list_filter = ("year", "is_working_day")
    search_fields = ("name",)
    date_hierarchy = "date"

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _recount(request)

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        _recount(request)

    def delete_queryset(self, request, queryset) -> None:
        super().delete_queryset(request, queryset)
        _recount(request)


@admin.register(HolidayYear)
class HolidayYearAdmin(admin.ModelAdmin):
    list_display = ("year", "is_official", "source", "loaded_at")
    list_editable = ("is_official",)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        _recount(request)


class ClockExtensionInline(admin.TabularInline):
    model = ClockExtension
    extra = 0
    can_delete = False
    readonly_fields = ("months", "days", "decision", "previous_due_date", "new_due_date", "decided_by", "created_at")


@admin.register(Clock)
class ClockAdmin(admin.ModelAdmin):
    """Read-only: clocks change only through the services (and so through the audit trail)."""

    list_display = ("case", "kind", "agency", "person", "started_at", "due_date", "provisional", "status")
    list_filter = ("kind", "status", "provisional")
    inlines = [ClockExtensionInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Clock._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
