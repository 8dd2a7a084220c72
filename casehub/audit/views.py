"""The auditor's view of the trail: browse, filter, export, verify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from casehub.audit import export
from casehub.audit.doors import AUDIT_TRAIL
from casehub.audit.labels import label_for
from casehub.audit.models import AuditCheckpoint, AuditEvent
from casehub.audit.selectors import (
    AppliedFilter,
    AuditFilterForm,
    apply_filters,
    first_case_numbers,
    known_actions,
    visible_events,
)
from casehub.audit.services import record_event

PAGE_SIZE = 50
# Above this many events the "verify now" button runs the check in the background.
VERIFY_INLINE_MAX = 1_000_000
EXPORT_MAX_ROWS = 200_000


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, Any, AppliedFilter | None]:
    form = AuditFilterForm(request.GET or None, viewer=request.user)
    events = visible_events(request.user)
    applied = None
    if form.is_bound and form.is_valid():
        applied = apply_filters(events, form.cleaned_data)
        events = applied.events
    elif form.is_bound:
        events = events.none()
    return form, events, applied


def _querystring(request: HttpRequest, **overrides: Any) -> str:
    query: QueryDict = request.GET.copy()
    for key, value in overrides.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return query.urlencode()


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    """Newest first, keyset-paginated on the sequence number (no COUNT over millions of rows)."""
    AUDIT_TRAIL.check(request.user)
    form, events, applied = _filtered(request)
    before = form.cleaned_data.get("before") if form.is_bound and form.is_valid() else None
    page_qs = events.select_related("agency").order_by("-sequence")
    if before:
        page_qs = page_qs.filter(sequence__lt=before)
    rows = list(page_qs[: PAGE_SIZE + 1])
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    numbers = first_case_numbers(e.case_id for e in rows if e.case_id)
    for event in rows:
        event.action_label = label_for(event.action)
        event.case_number = numbers.get(event.case_id, "")
    last_checkpoint = AuditCheckpoint.objects.order_by("-sequence").first()
    return render(request, "audit/list.html", {
        "form": form,
        "events": rows,
        "applied": applied,
        "next_query": _querystring(request, before=rows[-1].sequence) if has_more else "",
        "first_query": _querystring(request, before=None) if before else "",
        "export_query": _querystring(request, before=None),
        "known_actions": known_actions(),
        "last_checkpoint": last_checkpoint,
    })


EXPORT_HEADER = (_l("序号"), _l("时间"), _l("操作人"), _l("机构"), _l("动作"), _l("动作说明"), _l("对象类型"),
                 _l("对象ID"), _l("案件ID"), _l("案件编号"), _l("详情"), _l("前一哈希"), _l("哈希"))


def _export_rows(events: Any) -> Iterator[list[Any]]:
    import json

    from casehub.agencies.models import Agency

    agencies: dict[int, str] = dict(Agency.objects.values_list("pk", "name"))
    batch: list[AuditEvent] = []

    def flush(batch: list[AuditEvent]) -> Iterator[list[Any]]:
        numbers = first_case_numbers(e.case_id for e in batch if e.case_id)
        for e in batch:
            yield [e.sequence, e.occurred_at, e.actor_label, agencies.get(e.agency_id, ""), e.action,
                   str(label_for(e.action)), e.object_type, e.object_id, e.case_id, numbers.get(e.case_id, ""),
                   json.dumps(e.details, ensure_ascii=False, sort_keys=True), e.previous_hash, e.hash]

    for event in events.order_by("sequence")[:EXPORT_MAX_ROWS].iterator(chunk_size=2000):
        batch.append(event)
        if len(batch) == 2000:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)


@login_required
def export_events(request: HttpRequest, fmt: str) -> HttpResponse:
    """The filtered trail as CSV or XLSX (at most 200,000 rows; narrow the period for more).

    The export itself is recorded: who took which part of the trail away.
    """
    AUDIT_TRAIL.check(request.user)
    if fmt not in ("csv", "xlsx"):
        raise Http404
    form, events, _applied = _filtered(request)
    if form.is_bound and not form.is_valid():
        messages.error(request, _("筛选条件有误，未导出。"))
        return redirect("audit:list")
    filters = {k: v for k, v in request.GET.items() if k != "before" and v}
    record_event("audit.exported", actor=request.user, details={"format": fmt, "filters": filters})
    header = [str(h) for h in EXPORT_HEADER]
    if fmt == "csv":
        return export.csv_response("audit-trail.csv", header, _export_rows(events))
    return export.xlsx_response("audit-trail.xlsx", [(_("审计日志"), header, _export_rows(events))])


@login_required
@require_POST
def verify_now(request: HttpRequest) -> HttpResponse:
    """Run the same check as ``manage.py verify_audit``; the run is itself an audit event."""
    AUDIT_TRAIL.check(request.user)
    from django.conf import settings

    from casehub.audit.models import AuditHead
    from casehub.audit.verify import verify_audit_trail

    head = AuditHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
    inline_max = getattr(settings, "CASEHUB_AUDIT_VERIFY_INLINE_MAX", VERIFY_INLINE_MAX)
    if head > inline_max:
        # Millions of events take longer than a web request may (≈150,000 events/s measured): run
        # it as background work; the result arrives as an audit.verified event on this page.
        from casehub.api import tasks

        task = tasks.start("audit.verify", owner=request.user, params={"requested_from": "ui"})
        return render(request, "audit/verify.html", {"background": task, "head": head})
    report = verify_audit_trail(record=True, actor=request.user)
    return render(request, "audit/verify.html", {"report": report})
