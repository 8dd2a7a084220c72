"""What an auditor may see of the trail, and the filters of the auditor's view.

Auditors work for a political-legal committee: they see the events of agencies in their
committee's area at its level (an agency whose region code starts with the committee's
``area_prefix``: the whole code for a district committee, the city's four digits for a city
committee, the province's two for a province's; a committee without a region code sees everything). An event that belongs to no agency is seen in a region only when it
concerns a case of that region; the rest (failed logins of unknown names, the platform's checkpoints
and certificates) only by a committee without a region code — an auditor of one district must not
read another district's, or everyone's, events. Everything comes from one query on indexed columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casehub.agencies.models import Agency, User
from casehub.agencies.permissions import VIEW_AUDIT, has_capability
from casehub.audit.labels import ACTION_LABELS
from casehub.audit.models import AuditEvent


def auditable_agencies(user: Any) -> QuerySet[Agency]:
    if not has_capability(user, VIEW_AUDIT) or user.agency is None:
        return Agency.objects.none()
    # The committee's level decides its area: a district committee sees its district's agencies, a
    # city committee every agency of the city (its own and all its districts'), a province's all of
    # the province (Agency.area_prefix).
    prefix = user.agency.area_prefix
    agencies = Agency.objects.all()
    if prefix:
        agencies = agencies.filter(region__startswith=prefix)
    return agencies.order_by("kind", "code")


def visible_events(user: Any) -> QuerySet[AuditEvent]:
    """The events ``user`` may read; none without the ``view_audit`` capability."""
    if not has_capability(user, VIEW_AUDIT) or user.agency is None:
        return AuditEvent.objects.none()
    if not user.agency.region:
        return AuditEvent.objects.all()
    from casehub.cases.models import Case

    agencies = auditable_agencies(user)
    regional_cases = Case.objects.filter(origin_agency__in=agencies).values("pk")
    return AuditEvent.objects.filter(
        Q(agency__in=agencies) | Q(agency__isnull=True, case_id__isnull=False, case_id__in=regional_cases))


def local_day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class AuditFilterForm(forms.Form):
    case = forms.CharField(label=_("案件"), required=False, max_length=80,
                           help_text=_("案件编号或案件 ID"))
    user = forms.CharField(label=_("操作人"), required=False, max_length=150)
    agency = forms.ModelChoiceField(label=_("机构"), queryset=Agency.objects.none(), required=False,
                                    empty_label=_("全部机构"))
    action = forms.CharField(label=_("动作"), required=False, max_length=64,
                             help_text=_("完整动作名，或以“.”结尾的前缀，例如 auth."))
    date_from = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = auditable_agencies(viewer)
        for name, field in self.fields.items():
            if name != "before":
                field.widget.attrs.setdefault("class", "form-select" if name == "agency" else "form-control")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("起始日期不能晚于截止日期。"))
        return data


@dataclass
class AppliedFilter:
    events: QuerySet[AuditEvent]
    unknown_case: bool = False
    unknown_user: bool = False


def apply_filters(events: QuerySet[AuditEvent], data: dict[str, Any]) -> AppliedFilter:
    """Narrow ``events`` by the cleaned form data. A case or user that does not exist matches nothing."""
    from casehub.cases.models import CaseNumber

    result = AppliedFilter(events)
    case = (data.get("case") or "").strip()
    if case:
        if case.isdigit():
            events = events.filter(case_id=int(case))
        else:
            case_ids = list(CaseNumber.objects.filter(number=case).values_list("case_id", flat=True)[:1])
            result.unknown_case = not case_ids
            events = events.filter(case_id__in=case_ids)
    username = (data.get("user") or "").strip()
    if username:
        user_ids = list(User.objects.filter(username=username).values_list("pk", flat=True)[:1])
        result.unknown_user = not user_ids
        # A failed login has no actor but names the account that was tried.
        events = events.filter(Q(actor_id__in=user_ids) | Q(
            action__in=("auth.login_failed", "auth.locked_out"), details__username=username))
    if data.get("agency"):
        events = events.filter(agency=data["agency"])
    action = (data.get("action") or "").strip()
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    if data.get("date_from"):
        events = events.filter(occurred_at__gte=local_day_start(data["date_from"]))
    if data.get("date_to"):
        events = events.filter(occurred_at__lt=local_day_start(data["date_to"] + timedelta(days=1)))
    result.events = events
    return result


def known_actions() -> list[tuple[str, Any]]:
    return sorted(ACTION_LABELS.items())


def first_case_numbers(case_ids: Iterable[int]) -> dict[int, str]:
    """The first number each case was given (its police filing number), in one query."""
    from casehub.cases.models import CaseNumber

    numbers: dict[int, str] = {}
    rows = CaseNumber.objects.filter(case_id__in=set(case_ids)).order_by("issued_at", "id")
    for case_id, number in rows.values_list("case_id", "number"):
        numbers.setdefault(case_id, number)
    return numbers
