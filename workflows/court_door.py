"""At the court's door and before judgment: what the transitions of
:data:`workflows.definition.COURT_DOOR_TRANSITIONS` check and generate.

- **Material the court lacks** (补送材料, SPC Interpretation 2021 art. 219(1)(4)): reviewing an
  indictment for acceptance, the court asks the procuratorate for material that art. 218 requires
  and the package lacks; the procuratorate supplies it within 3 days. The case stays at the court's
  door and the court's 7-day acceptance review is not restarted (no provision restarts it).
- **Withdrawal of the prosecution after docketing** (撤回起诉, SPP Rules 2019 arts. 424, 426; SPC
  Interpretation art. 296): before the judgment is announced the procuratorate, with the chief
  procurator's approval, withdraws the prosecution in writing on one of the grounds of art. 424(1);
  the court rules whether to permit it. A permitted withdrawal ends the trial period and sends the
  case, with the defendants' custody, back to the procuratorate, which must decide not to prosecute
  within 30 days (art. 424(2)); it may prosecute again only on new facts or new evidence (art.
  424(3)-(5); SPC Interpretation art. 219(1)(6)). A refused withdrawal leaves the trial running.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflows import documents as docs
from workflows import effects
from workflows.guards import GuardContext, guard
from workflows.models import TransitionLog

MATERIAL = ("request_court_material", "supply_court_material")
WITHDRAWAL = ("request_prosecution_withdrawal", "permit_prosecution_withdrawal", "refuse_prosecution_withdrawal",
              "request_withdrawal_in_supplementary", "permit_withdrawal_in_supplementary",
              "refuse_withdrawal_in_supplementary")
REQUESTS = ("request_prosecution_withdrawal", "request_withdrawal_in_supplementary")
PERMITS = ("permit_prosecution_withdrawal", "permit_withdrawal_in_supplementary")

# SPP Rules 2019 art. 424(1).
WITHDRAWAL_GROUNDS: tuple[tuple[str, Any], ...] = (
    ("no_crime", gettext_lazy("不存在犯罪事实")),
    ("not_the_defendant", gettext_lazy("犯罪事实并非被告人所为")),
    ("not_a_crime", gettext_lazy("情节显著轻微、危害不大，不认为是犯罪")),
    ("evidence", gettext_lazy("证据不足或证据发生变化，不符合起诉条件")),
    ("under_age", gettext_lazy("被告人因未达到刑事责任年龄，不负刑事责任")),
    ("law_changed", gettext_lazy("法律、司法解释发生变化导致不应当追究被告人刑事责任")),
    ("other", gettext_lazy("其他不应当追究被告人刑事责任")),
)
GROUND_LABELS = dict(WITHDRAWAL_GROUNDS)


def _latest(case: Any, names: tuple[str, ...]) -> TransitionLog | None:
    return TransitionLog.objects.filter(case=case, transition__in=names).order_by("-occurred_at", "-id").first()


def withdrawal_request(case: Any) -> TransitionLog | None:
    """The procuratorate's withdrawal the court has not ruled on yet, if any."""
    latest = _latest(case, WITHDRAWAL)
    return latest if latest is not None and latest.transition in REQUESTS else None


def withdrawn_since_indictment(case: Any) -> bool:
    """The court permitted a withdrawal after the case's latest indictment."""
    latest = _latest(case, ("indict", *PERMITS))
    return latest is not None and latest.transition in PERMITS


def postponing_court(case: Any) -> Any:
    """The court that postponed the trial for supplementary investigation and delivered the case to
    the procuratorate (arts. 204(2), 205): during the postponement it rules on a withdrawal (SPP Rules
    2019 art. 421; SPC Interpretation 2021 art. 296)."""
    from workflows.models import Transfer, TransferKind

    transfer = (Transfer.objects.filter(case=case, kind=TransferKind.TRIAL_SUPPLEMENTARY, to_agency=case.holder_agency)
                .select_related("from_agency").order_by("-sent_at", "-id").first())
    return transfer.from_agency if transfer is not None else None


def _court(case: Any) -> Any:
    """The court the withdrawal is addressed to: the one holding the case, or during a postponement
    for supplementary investigation the court that postponed it."""
    holder = case.holder_agency
    return holder if holder is not None and holder.kind == "court" else postponing_court(case)


# --- guards -----------------------------------------------------------------------------------


@guard
def no_material_requested(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 219(1)(4): the procuratorate supplies what was asked within 3 days.
    Not a statute beyond that: one request is open at a time, answered before the court asks again."""
    latest = _latest(ctx.case, MATERIAL)
    if latest is not None and latest.transition == "request_court_material":
        return _("已通知人民检察院补送材料，尚未补送。")
    return None


@guard
def material_requested(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 219(1)(4): material is supplied in answer to the court's request."""
    latest = _latest(ctx.case, MATERIAL)
    if latest is None or latest.transition != "request_court_material":
        return _("人民法院没有要求补送材料。")
    return None


@guard
def no_withdrawal_pending(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 296: the court rules on a withdrawal before another is asked for."""
    if withdrawal_request(ctx.case) is not None:
        return _("撤回起诉的要求尚待人民法院裁定。")
    return None


@guard
def no_withdrawal_pending_to_resume(ctx: GuardContext) -> str | None:
    """SPP Rules 2019 art. 421; SPC Interpretation 2021 art. 296: during a postponement for
    supplementary investigation the procuratorate either asks to resume the trial or withdraws the
    prosecution; while the court has not ruled on its withdrawal it cannot also send the case back for
    trial — the court rules on the withdrawal first (a permitted withdrawal ends the trial)."""
    if withdrawal_request(ctx.case) is not None:
        return _("撤回起诉的要求尚待人民法院裁定，裁定前不能提请恢复法庭审理（《人民检察院刑事诉讼规则》第四百二十一条）。")
    return None


@guard
def withdrawal_requested(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 296: the court rules on a withdrawal the procuratorate asked for."""
    if withdrawal_request(ctx.case) is None:
        return _("人民检察院没有要求撤回起诉。")
    return None


@guard
def new_grounds_after_withdrawal(ctx: GuardContext) -> str | None:
    """SPP Rules art. 424(3)-(5): after a withdrawal the procuratorate prosecutes again only on new
    facts (not charged in the withdrawn indictment) or new evidence (gathered since the withdrawal)."""
    if not ctx.inputs or not withdrawn_since_indictment(ctx.case):
        return None
    if not str(ctx.inputs.get("new_grounds") or "").strip():
        return _("本案曾撤回起诉：没有新的事实或者新的证据，不得再行起诉（《人民检察院刑事诉讼规则》第四百二十四条）。"
                 "请写明新的事实或者新的证据。")
    return None


# --- documents --------------------------------------------------------------------------------

for _name in ("generate_prosecution_withdrawal", "generate_prosecution_withdrawal_ruling"):
    effects.EFFECTS[_name] = (lambda name: lambda ctx: effects._generate(ctx, name))(_name)


@docs.builder("generate_prosecution_withdrawal", gettext_lazy("撤回起诉决定书"))
def withdrawal_decision(ctx: Any) -> list[docs.Draft]:
    """撤回起诉决定书 (SPP Rules arts. 424, 426: in writing, before the judgment is announced)."""
    case, inp = ctx.case, ctx.inputs
    title = str(docs.TITLES["generate_prosecution_withdrawal"][0])
    court = _court(case)
    text = _("%(court)s：\n本院以%(number)s起诉书向你院提起公诉的%(names)s一案，经审查，%(ground)s：%(reason)s"
             "经检察长批准，根据《人民检察院刑事诉讼规则》第四百二十四条第一款的规定，决定撤回起诉。") % {
        "court": court.name if court else "", "number": docs.latest_number(case, "indictment"),
        "names": docs.suspect_names(case), "ground": GROUND_LABELS.get(str(inp.get("ground")), ""),
        "reason": docs.full_sentence(inp.get("reason") or "")}
    footer = [ctx.acting_user.agency.name, docs._day(ctx.now), _("（院印）")]
    return [docs.Draft(title, docs._render(ctx, title, fields=[(_("案件名称"), case.title)], paragraphs=[text],
                                           footer_lines=footer))]


@docs.builder("generate_prosecution_withdrawal_ruling", gettext_lazy("刑事裁定书（撤回起诉）"))
def withdrawal_ruling(ctx: Any) -> list[docs.Draft]:
    """The court's ruling on the withdrawal (SPC Interpretation art. 296), permitting or refusing it."""
    case, inp = ctx.case, ctx.inputs
    request = withdrawal_request(case)
    asked = request.inputs if request is not None else {}
    permitted = ctx.spec.name in PERMITS
    title = str(docs.TITLES["generate_prosecution_withdrawal_ruling"][0])
    paragraphs = [
        _("%(prosecutor)s以%(number)s起诉书指控被告人%(names)s犯%(charge)s，向本院提起公诉。在本院宣告判决前，"
          "%(prosecutor)s以%(ground)s为由，要求撤回起诉。") % {
            "prosecutor": request.actor_agency.name if request is not None and request.actor_agency else "",
            "number": docs.latest_number(case, "indictment"), "names": docs.suspect_names(case),
            "charge": docs.charge_names(case), "ground": GROUND_LABELS.get(str(asked.get("ground")), "")},
        (_("本院认为，人民检察院要求撤回起诉的理由成立。依照《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》"
           "第二百九十六条的规定，裁定如下：\n准许%(prosecutor)s撤回起诉。") if permitted else
         _("本院认为，%(reason)s依照《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》第二百九十六条的规定，"
           "裁定如下：\n不准许%(prosecutor)s撤回起诉，本案继续审理。")) % {
            "prosecutor": request.actor_agency.name if request is not None and request.actor_agency else "",
            "reason": docs.full_sentence(inp.get("reason") or "")},
    ]
    judge = (ctx.actor.get_full_name() or ctx.actor.get_username()) if ctx.actor is not None else ""
    court = _court(case)
    footer = [_("审判员　%(name)s") % {"name": judge}, docs._day(ctx.now), _("（院印）"), court.name if court else ""]
    return [docs.Draft(title, docs._render(ctx, title, number=docs.latest_number(case, "court_docket"),
                                           fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                           footer_lines=footer))]
