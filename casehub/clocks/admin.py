"""The administrator maintains the holiday calendar here each November.

Clocks are not in the admin: they belong to cases, and the platform operator sees no cases
(THREAT_MODEL F18.14); people read them on the case and clock pages, under case permissions.
"""

from __future__ import annotations

from django.contrib import admin

from casehub.clocks.models import Holiday, HolidayYear


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
