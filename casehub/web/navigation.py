"""The navigation bar: each entry names the capability it needs, so a user sees only what
their roles allow. Apps add their entry here rather than in templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from casehub.agencies import permissions as p


@dataclass(frozen=True)
class NavEntry:
    label: str | Promise
    url_name: str
    capabilities: tuple[str, ...]  # any one of them suffices


ENTRIES: tuple[NavEntry, ...] = (
    NavEntry(_("案件"), "cases:list", (p.READ_DOSSIER, p.REGISTER_CASE)),
    NavEntry(_("收件箱"), "transfers:inbox", (p.REVIEW_INCOMING, p.APPROVE_OUTGOING, p.PREPARE_OUTGOING)),
    NavEntry(_("办案期限"), "clocks:list", (p.READ_DOSSIER, p.APPROVE_OUTGOING)),
    NavEntry(_("换押"), "custody:inbox", (p.ACKNOWLEDGE_CUSTODY, p.VIEW_DETAINEES)),
    NavEntry(_("法律援助"), "legalaid:inbox", (p.ASSIGN_COUNSEL, p.READ_AS_COUNSEL)),
    NavEntry(_("考核统计"), "metrics:dashboard", (p.VIEW_METRICS,)),
    NavEntry(_("审计日志"), "audit:list", (p.VIEW_AUDIT,)),
    NavEntry(_("存储核验"), "objectstore:sweeps", (p.VIEW_AUDIT,)),
    NavEntry(_("人员管理"), "admin:agencies_user_changelist", (p.MANAGE_AGENCY_USERS,)),
    NavEntry(_("机构设置"), "agency-settings", (p.MANAGE_AGENCY_USERS,)),
    NavEntry(_("电子签章"), "pki:certificates", (p.MANAGE_AGENCY_USERS, p.VIEW_AUDIT)),
    NavEntry(_("接口文档"), "api:docs", (p.MANAGE_AGENCY_USERS,)),
)


def entries_for(user: Any) -> list[dict[str, Any]]:
    if not user.is_authenticated:
        return []
    visible = []
    for entry in ENTRIES:
        if not any(p.has_capability(user, c) for c in entry.capabilities):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue  # the app that serves it is not installed yet
        visible.append({"label": entry.label, "url": url, "url_name": entry.url_name})
    return visible
