"""Change of jurisdiction between procuratorates, and the court's return for lack of jurisdiction:
what the transitions of :data:`workflows.definition.JURISDICTION_TRANSITIONS` check.

- **The court returns an indictment it has no jurisdiction over** (退回, SPC Interpretation 2021
  art. 219(1)(1)). The package goes back to the procuratorate that sent it; nothing restarts: its
  review period counts on from where it stopped (the custody never moved, so the court signs no
  custody notice). The procuratorate then hands the case to the procuratorate that matches the
  competent court (SPP Rules 2019 art. 391, referring to art. 328), within 5 days.
- **Change of jurisdiction** (移送管辖 / 改变管辖, SPP Rules 2019 art. 328): a procuratorate that
  finds the case is not its own sends it — with the suspects' custody — to the procuratorate with
  jurisdiction (another region's, or the one above). The review period of the receiving
  procuratorate runs from its receipt (CPL art. 172(2)); the sender's clocks stop with the hand-over.
  Only the procuratorate then holding the case signs custody notices.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from casehub.agencies.models import Agency, AgencyKind
from workflows import effects
from workflows.guards import GuardContext, guard
from workflows.models import TransitionLog

RETURN = "return_indictment_for_jurisdiction"
ACCEPT = "accept_jurisdiction_transfer"


def recipient(ctx: Any) -> Agency:
    """The procuratorate named by the input ``to_agency``: another procuratorate than the holder
    (SPP Rules 2019 art. 328: 移送有管辖权的人民检察院 — of another region, or the one above)."""
    from workflows.engine import InvalidInputs

    chosen = ctx.inputs.get("to_agency")
    message = ""
    if chosen is None:
        message = _("请选择有管辖权的人民检察院。")
    elif chosen.kind != AgencyKind.PROCURATORATE:
        message = _("接收机关必须是人民检察院。")
    elif chosen.pk == ctx.holder_before.pk:
        message = _("不能移送本院。")
    if message:
        raise InvalidInputs(message, errors={"to_agency": [message]})
    return chosen


def returned_for_jurisdiction(case: Any) -> TransitionLog | None:
    """The court's return for lack of jurisdiction, if it is the latest word on where the case
    belongs (no indictment and no change of jurisdiction since)."""
    latest = (TransitionLog.objects.filter(case=case, transition__in=(RETURN, ACCEPT, "indict"))
              .select_related("actor_agency").order_by("-occurred_at", "-id").first())
    return latest if latest is not None and latest.transition == RETURN else None


@guard
def jurisdiction_recipient_valid(ctx: GuardContext) -> str | None:
    """SPP Rules 2019 art. 328: the case goes to another procuratorate, the one with jurisdiction."""
    chosen = (ctx.inputs or {}).get("to_agency")
    if chosen is None:
        return None if not ctx.inputs else _("请选择有管辖权的人民检察院。")
    if chosen.kind != AgencyKind.PROCURATORATE:
        return _("接收机关必须是人民检察院。")
    if ctx.case is not None and chosen.pk == ctx.case.holder_agency_id:
        return _("不能移送本院。")
    return None


@guard
def not_to_the_court_that_declined(ctx: GuardContext) -> str | None:
    """SPC Interpretation 2021 art. 219(1)(1); SPP Rules 2019 art. 391: a court that returned the
    indictment for lack of jurisdiction is not sent it again — the case goes to the procuratorate
    matching the competent court."""
    returned = returned_for_jurisdiction(ctx.case)
    if returned is None or not ctx.inputs:
        return None
    chosen = ctx.inputs.get("to_agency")
    if chosen is None:
        same_region = Agency.objects.filter(kind=AgencyKind.COURT, region=ctx.case.holder_agency.region).exclude(region="")
        chosen = same_region.first() if same_region.count() == 1 else None
    if chosen is not None and chosen.pk == returned.actor_agency_id:
        return _("%(court)s已以不属于本院管辖为由退回起诉：应当将案件移送与审判管辖相对应的人民检察院"
                 "（《人民检察院刑事诉讼规则》第三百九十一条）。") % {"court": returned.actor_agency.name}
    return None


@effects.effect
def notify_transferring_police(ctx: Any) -> None:
    """SPP Rules 2019 art. 328(2): a case sent up to the procuratorate above (a first-instance case of
    the court above) or to another procuratorate with jurisdiction — 同时通知移送起诉的公安机关. The
    investigating police (who keep read access to the case) are told which procuratorate now reviews."""
    if getattr(ctx, "preparing", False):
        return
    from django.urls import reverse

    from casehub.agencies.models import Role
    from casehub.notifications.messages import message
    from casehub.notifications.services import notify
    from workflows.notify import _users

    police = ctx.case.origin_agency
    to_agency = ctx.recipient or ctx.inputs.get("to_agency")
    if police is None or police.kind != AgencyKind.POLICE or to_agency is None:
        return
    notify(_users(police.pk, [Role.INVESTIGATOR, Role.SUPERVISOR]), kind="workflow.transfer", case=ctx.case,
           title=message(gettext_noop("移送管辖：%(case)s由%(sender)s移送%(receiver)s审查起诉"), case=ctx.case.title,
                         sender=ctx.holder_before.name, receiver=to_agency.name),
           url=reverse("cases:detail", args=[ctx.case.pk]),
           key=f"jurisdiction:{ctx.case.pk}:{to_agency.pk}:{ctx.now.isoformat()}")
