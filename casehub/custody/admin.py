"""Read-only admin views: custody changes only through the services (and the audit trail)."""

from django.contrib import admin

from casehub.custody.models import CustodyCertificate, CustodyNotice, CustodyRecord


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustodyRecord)
class CustodyRecordAdmin(_ReadOnly):
    list_display = ("person", "detention_centre", "measure", "responsible_agency", "period_end", "status")
    list_filter = ("status", "measure")


@admin.register(CustodyCertificate)
class CustodyCertificateAdmin(_ReadOnly):
    list_display = ("number", "channel", "person", "from_agency", "to_agency", "status", "issued_at",
                    "acknowledged_at")
    list_filter = ("channel", "status")


@admin.register(CustodyNotice)
class CustodyNoticeAdmin(_ReadOnly):
    list_display = ("number", "kind", "person", "agency", "new_end", "acknowledged_at")
