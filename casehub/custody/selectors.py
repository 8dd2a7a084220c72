"""Permission-scoped queries for custody. A detention officer sees only their centre's detainees."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from casehub.agencies.models import AgencyKind
from casehub.agencies.permissions import ACKNOWLEDGE_CUSTODY, VIEW_DETAINEES, has_capability
from casehub.custody.models import (
    CertificateStatus,
    Channel,
    CustodyCertificate,
    CustodyNotice,
    CustodyRecord,
    Measure,
    RecordStatus,
)


def is_detention_officer(user: Any) -> bool:
    agency = getattr(user, "agency", None)
    return (agency is not None and agency.kind == AgencyKind.DETENTION_CENTRE
            and (has_capability(user, VIEW_DETAINEES) or has_capability(user, ACKNOWLEDGE_CUSTODY)))


def centre_records(user: Any) -> QuerySet[CustodyRecord]:
    """Records of persons held in the user's detention centre (none for anyone else)."""
    if not is_detention_officer(user):
        return CustodyRecord.objects.none()
    return CustodyRecord.objects.filter(detention_centre_id=user.agency_id).select_related(
        "person", "case", "responsible_agency")


def get_centre_record(user: Any, pk: Any) -> CustodyRecord:
    try:
        return centre_records(user).get(pk=pk)
    except (CustodyRecord.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def warning_days(measure: str) -> int:
    """How many days before the end a detainee appears on the deadline list."""
    if measure == Measure.DETENTION:
        return settings.CASEHUB_CUSTODY_WARN_DETENTION_DAYS
    return settings.CASEHUB_CUSTODY_WARN_ARREST_DAYS


def deadline_list(user: Any, *, today: date, within: int | None = None) -> list[dict[str, Any]]:
    """Detainees in custody whose period ends within the warning window (per measure, or
    ``within`` days if given) or has passed, soonest first, with ``overdue`` and ``remaining``."""
    horizon = within if within is not None else max(settings.CASEHUB_CUSTODY_WARN_DETENTION_DAYS,
                                                    settings.CASEHUB_CUSTODY_WARN_ARREST_DAYS)
    qs = centre_records(user).filter(status=RecordStatus.IN_CUSTODY, period_end__isnull=False,
                                     period_end__lte=today + timedelta(days=horizon)).order_by("period_end", "id")
    rows = []
    for record in qs:
        remaining = (record.period_end - today).days
        limit = within if within is not None else warning_days(record.measure)
        if remaining > limit:
            continue
        rows.append({"record": record, "remaining": remaining, "overdue": remaining < 0})
    return rows


def pending_acknowledgements(user: Any) -> tuple[QuerySet[CustodyCertificate], QuerySet[CustodyNotice]]:
    if not is_detention_officer(user):
        return CustodyCertificate.objects.none(), CustodyNotice.objects.none()
    certs = (CustodyCertificate.objects.filter(detention_centre_id=user.agency_id, acknowledged_at__isnull=True)
             .exclude(status=CertificateStatus.CANCELLED)
             .select_related("person", "from_agency", "to_agency", "record").order_by("issued_at", "id"))
    notices = (CustodyNotice.objects.filter(detention_centre_id=user.agency_id, acknowledged_at__isnull=True)
               .select_related("person", "agency").order_by("issued_at", "id"))
    return certs, notices


def transfer_stats(start: datetime, end: datetime, *, agency: Any = None) -> dict[str, Any]:
    """For the circulation metrics: custody transfers in [start, end) by channel, persons covered
    and the median hours from issue to take-over and to acknowledgement (online only).

    ``agency`` restricts to transfers that agency sent or received. Cancelled certificates
    (rejected or withdrawn packages) are not transfers.
    """
    qs = CustodyCertificate.objects.filter(issued_at__gte=start, issued_at__lt=end).exclude(
        status=CertificateStatus.CANCELLED)
    if agency is not None:
        qs = qs.filter(Q(from_agency=agency) | Q(to_agency=agency))
    counts = dict(qs.values_list("channel").annotate(n=Count("id")))
    online = counts.get(Channel.ONLINE, 0)
    paper = counts.get(Channel.PAPER, 0)

    def _median_hours(field: str) -> float | None:
        values = sorted((getattr(c, field) - c.issued_at).total_seconds() / 3600
                        for c in qs.filter(channel=Channel.ONLINE).exclude(**{f"{field}__isnull": True})
                        .only("issued_at", field))
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    return {
        "online": online, "paper": paper, "total": online + paper,
        "rate": (online / (online + paper)) if online + paper else None,
        "persons": qs.values("person").distinct().count(),
        "persons_online": qs.filter(channel=Channel.ONLINE).values("person").distinct().count(),
        "median_hours_to_take_over": _median_hours("taken_over_at"),
        "median_hours_to_acknowledge": _median_hours("acknowledged_at"),
    }
