"""The auditors' dashboard: selectors, tables with drill-down, charts, CSV/XLSX export."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from casehub.audit import export
from casehub.audit.selectors import first_case_numbers
from casehub.audit.services import record_event
from casehub.metrics import charts
from casehub.metrics import queries as q
from casehub.metrics.dashboard import (
    DashboardForm,
    build,
    default_period,
    kind_labels,
    scope_for,
    stage_labels,
)
from casehub.metrics.doors import METRICS

CHARTS = ("rates_over_time", "rates_by_agency", "stage_durations")


def _selection(request: HttpRequest) -> tuple[DashboardForm, q.Period | None, q.Scope | None]:
    form = DashboardForm(request.GET or None, viewer=request.user)
    if not form.is_bound:
        return form, default_period(), scope_for(request.user, None)
    if not form.is_valid():
        return form, None, None
    data = form.cleaned_data
    return form, data["period"], scope_for(request.user, data.get("agency"), data.get("direction") or "")


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    METRICS.check(request.user)  # the one rule (casehub.metrics.doors): 403 to any other role
    form, period, scope = _selection(request)
    context: dict[str, Any] = {"form": form, "query": request.GET.urlencode(), "charts": CHARTS}
    if period is not None:
        board = build(period, scope)
        context.update({"board": board, "period": period, "tables": [_table_view(t) for t in board.tables],
                        "chart_images": _chart_images(board)})
    return render(request, "metrics/dashboard.html", context)


def _chart_images(board: Any) -> list[dict[str, str]]:
    """The page's charts drawn from the numbers it already computed, as ``data:`` URIs.

    Drawing them here (rather than letting the browser fetch /chart/… which would recompute every
    query) halves the work of a page view; an ``<img>`` never runs the SVG's script either way.
    """
    import base64

    svgs = {
        "rates_over_time": charts.rates_over_time(board.months),
        "rates_by_agency": charts.rates_by_agency(board.rates, board.custody, board.names),
        "stage_durations": charts.stage_durations(board.stages_all, stage_labels()),
    }
    return [{"name": name, "src": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")}
            for name, svg in svgs.items()]


def _table_view(table: q.Table) -> dict[str, Any]:
    """Rows as cells carrying their drill-down query (if any), for the template."""
    from urllib.parse import urlencode

    rows = []
    for i, row in enumerate(table.rows):
        links = table.links[i] if i < len(table.links) else {}
        rows.append([{"value": v, "link": urlencode(links[j]) if j in links else ""} for j, v in enumerate(row)])
    return {"key": table.key, "title": table.title, "header": table.header, "rows": rows}


@login_required
@require_GET
def chart(request: HttpRequest, name: str) -> HttpResponse:
    METRICS.check(request.user)  # the one rule (casehub.metrics.doors): 403 to any other role
    if name not in CHARTS:
        raise Http404
    _form, period, scope = _selection(request)
    if period is None:
        raise Http404
    if name == "rates_over_time":
        svg = charts.rates_over_time(q.monthly_rates(period, scope))
    elif name == "rates_by_agency":
        rates, custody = q.circulation_rates(period, scope), q.custody_rates(period, scope)
        names = q._agency_names({r.agency_id for r in rates} | {c.agency_id for c in custody})
        svg = charts.rates_by_agency(rates, custody, names)
    else:
        svg = charts.stage_durations(q.stage_durations(period, scope, by_agency=False), stage_labels())
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["Cache-Control"] = "private, max-age=60"
    return response


@login_required
@require_GET
def export_table(request: HttpRequest, key: str, fmt: str) -> HttpResponse:
    """One table (or ``all`` of them, XLSX with a sheet each) as the page shows it, every row."""
    METRICS.check(request.user)  # the one rule (casehub.metrics.doors): 403 to any other role
    if fmt not in ("csv", "xlsx"):
        raise Http404
    _form, period, scope = _selection(request)
    if period is None:
        raise Http404
    board = build(period, scope, overdue_limit=None)
    keys = [t.key for t in board.tables]
    if key != "all" and key not in keys:
        raise Http404
    if key == "all" and fmt == "csv":
        raise Http404
    record_event("metrics.exported", actor=request.user, details={
        "table": key, "format": fmt, "period": [period.start.isoformat(), period.end.isoformat()],
        "agencies": len(scope.agency_ids), "direction": scope.direction,
    })
    stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    tables = board.tables if key == "all" else [board.table(key)]
    sheets = [(str(t.title), [str(h) for h in t.header], t.rows) for t in tables]
    if fmt == "csv":
        title, header, rows = sheets[0]
        return export.csv_response(f"metrics-{key}-{stamp}.csv", header, rows)
    return export.xlsx_response(f"metrics-{key}-{stamp}.xlsx", sheets)


DRILL_PAGE = 100


@login_required
@require_GET
def drilldown(request: HttpRequest) -> HttpResponse:
    """The transfers (or custody certificates) behind one number of the dashboard — metadata only."""
    METRICS.check(request.user)  # the one rule (casehub.metrics.doors): 403 to any other role
    form, period, scope = _selection(request)
    if period is None:
        raise Http404
    metric, part = request.GET.get("metric", ""), request.GET.get("part", "den")
    if metric not in ("online", "dossier", "custody", "kind") or part not in ("num", "den"):
        raise Http404
    agency = request.GET.get("agency", "")
    if agency and (not agency.isdigit() or int(agency) not in scope.agency_ids):
        raise Http404
    if metric == "custody":
        qs = q._certificates(period, scope)
        if part == "num":
            qs = qs.filter(channel="online")
        title = _("电子换押") if part == "num" else _("全部换押证")
    else:
        qs = q._transfers(period, scope)
        if metric == "dossier":
            qs = qs.filter(kind__in=q.DOSSIER_KINDS)
            if part == "num":
                qs = qs.filter(electronic=True, dossier_complete=True)
            title = _("电子卷宗齐全的移送") if part == "num" else _("应随案移送卷宗的移送")
        elif metric == "online":
            if part == "num":
                qs = qs.filter(mode="online")
            title = _("网上流转的移送") if part == "num" else _("全部移送")
        else:
            kind = request.GET.get("kind", "")
            qs = qs.filter(kind=kind)
            title = kind_labels().get(kind, kind)
    qs = _narrow(qs, agency, request.GET.get("direction", ""))
    qs = qs.select_related("from_agency", "to_agency").order_by("-" + ("issued_at" if metric == "custody"
                                                                        else "sent_at"), "-id")
    page = Paginator(qs, DRILL_PAGE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    numbers = first_case_numbers(i.case_id for i in items if i.case_id)
    for item in items:
        item.case_number = numbers.get(item.case_id, "") or getattr(item, "external_reference", "")
    base = request.GET.copy()
    base.pop("page", None)
    return render(request, "metrics/drilldown.html", {
        "form": form, "title": title, "metric": metric, "page": page, "items": items, "period": period,
        "querystring": base.urlencode(), "kinds": kind_labels(),
        "direction_label": q.direction_label(request.GET["direction"]) if request.GET.get("direction") else "",
    })


def _narrow(qs: QuerySet, agency: str, direction: str) -> QuerySet:
    if agency:
        qs = qs.filter(from_agency_id=int(agency))
    if direction:
        a, _sep, b = direction.partition(">")
        qs = qs.filter(Q(from_agency__kind=a) & Q(to_agency__kind=b))
    return qs
