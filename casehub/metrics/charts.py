"""Server-side SVG charts (pygal), served by casehub itself.

pygal's default output references its tooltip script on a public CDN; on an intranet that is both
a broken link and a leak, so every chart is rendered with ``js=[]`` (no script at all) and shown
with ``<img>``, which never runs scripts inside an SVG.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygal
from django.utils.translation import gettext as _
from pygal.style import Style

from casehub.metrics import queries as q

STYLE = Style(
    background="white", plot_background="white", foreground="#212529", foreground_strong="#212529",
    foreground_subtle="#6c757d", font_family="'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif",
    colors=("#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#dc3545", "#20c997"),
    title_font_size=16, label_font_size=12, major_label_font_size=12, legend_font_size=12,
)


def _config(**extra: object) -> dict[str, object]:
    # pygal sizes label room for Latin letters; Chinese characters are about twice as wide, so
    # the margins leave room for them (labels were clipped) and the legend gets one column per
    # series under the plot (it overlapped the axis labels).
    return {"style": STYLE, "js": [], "disable_xml_declaration": True, "width": 900, "height": 400,
            "legend_at_bottom": True, "legend_at_bottom_columns": 3, "truncate_legend": -1, "margin": 16,
            "margin_bottom": 24, "spacing": 16, "print_values": False, "show_y_guides": True, "truncate_label": -1,
            **extra}


def _pct(ratio: q.Ratio) -> float | None:
    return None if ratio.value is None else round(ratio.value * 100, 1)


def rates_over_time(points: Sequence[q.MonthPoint]) -> bytes:
    chart = pygal.Line(**_config(title=_("三率月度趋势（%）"), range=(0, 100), allow_interruptions=True))
    chart.x_labels = [p.month.strftime("%Y-%m") for p in points]
    chart.add(_("网上案件流转率"), [_pct(p.online) for p in points])
    chart.add(_("卷宗电子化率"), [_pct(p.dossier) for p in points])
    chart.add(_("电子换押率"), [_pct(p.custody) for p in points])
    return chart.render(is_unicode=True).encode("utf-8")


def rates_by_agency(rows: Sequence[q.RateRow], custody: Sequence[q.CustodyRow], names: dict[int, str]) -> bytes:
    """One bar group per sending agency: its three rates over all its directions."""
    by_agency: dict[int, dict[str, q.Ratio]] = {}
    for r in rows:
        cell = by_agency.setdefault(r.agency_id, {"online": q.Ratio(0, 0), "dossier": q.Ratio(0, 0),
                                                  "custody": q.Ratio(0, 0)})
        cell["online"] = q.Ratio(cell["online"].numerator + r.online.numerator,
                                 cell["online"].denominator + r.online.denominator)
        cell["dossier"] = q.Ratio(cell["dossier"].numerator + r.dossier.numerator,
                                  cell["dossier"].denominator + r.dossier.denominator)
    for c in custody:
        cell = by_agency.setdefault(c.agency_id, {"online": q.Ratio(0, 0), "dossier": q.Ratio(0, 0),
                                                  "custody": q.Ratio(0, 0)})
        cell["custody"] = q.Ratio(cell["custody"].numerator + c.certificates.numerator,
                                  cell["custody"].denominator + c.certificates.denominator)
    agencies = sorted(by_agency, key=lambda a: names.get(a, ""))
    chart = pygal.Bar(**_config(title=_("各机关三率（%）"), range=(0, 100), x_label_rotation=20,
                                margin_bottom=48, height=440))
    chart.x_labels = [names.get(a, str(a)) for a in agencies]
    chart.add(_("网上案件流转率"), [_pct(by_agency[a]["online"]) for a in agencies])
    chart.add(_("卷宗电子化率"), [_pct(by_agency[a]["dossier"]) for a in agencies])
    chart.add(_("电子换押率"), [_pct(by_agency[a]["custody"]) for a in agencies])
    return chart.render(is_unicode=True).encode("utf-8")


def stage_durations(rows: Sequence[q.DurationRow], stage_labels: dict[str, str]) -> bytes:
    chart = pygal.HorizontalBar(**_config(title=_("各阶段办理用时（天）"), margin_left=96))
    chart.x_labels = [stage_labels.get(r.group[0], r.group[0]) for r in rows]
    chart.add(_("中位数"), [None if r.median is None else round(r.median, 1) for r in rows])
    chart.add(_("第90百分位"), [None if r.p90 is None else round(r.p90, 1) for r in rows])
    return chart.render(is_unicode=True).encode("utf-8")
