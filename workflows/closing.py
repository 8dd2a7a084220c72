"""Police closing: withdrawal of the whole case (撤销案件, CPL art. 163) and termination of the
investigation of one suspect (终止侦查, MPS Provisions 2020 arts. 186(2), 187), both approved by the
police chief (the agency's supervisor) and possible during supplementary investigation too.

A person in custody is released with a release certificate (释放证明书); the procuratorate that
approved an arrest, and during supplementary investigation the procuratorate that returned the case
(MPS Provisions art. 296(3)), receive the decision — the transition's package goes to every agency
that held the case before. Within 3 days the police tell the former suspect, the victim (or the
relatives or legal representative) and the referring body (MPS Provisions art. 189), a duty with its
own clock, met by ``record_closing_notice``. The guards, effects and documents below register with
:mod:`workflows.guards`, :mod:`workflows.effects` and :mod:`workflows.documents`.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import CustodyStatus, NumberKind, PersonRole
from workflows import documents as docs
from workflows import effects
from workflows.guards import GuardContext, guard
from workflows.models import InvestigationTermination

HELD = (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)
LIFTED = (*HELD, CustodyStatus.BAIL, CustodyStatus.RESIDENTIAL_SURVEILLANCE)


@guard
def termination_persons_valid(ctx: GuardContext) -> str | None:
    """MPS Provisions art. 186(2): the investigation of *some* suspects ends and the case goes on —
    each person named is a suspect still investigated, and at least one suspect remains (otherwise
    the case is withdrawn, art. 186(1))."""
    remaining_ids = {p.pk for p in docs.suspects(ctx.case)}
    if len(remaining_ids) < 2:
        return _("对全部犯罪嫌疑人都不追究刑事责任的，应当撤销案件（公安机关办理刑事案件程序规定第一百八十六条）。")
    ids = ctx.inputs.get("persons")
    if ids is None:
        return None
    if not ids or not set(ids) <= remaining_ids:
        return _("请选择本案仍在侦查的犯罪嫌疑人。")
    if remaining_ids <= set(ids):
        return _("对全部犯罪嫌疑人都不追究刑事责任的，应当撤销案件（公安机关办理刑事案件程序规定第一百八十六条）。")
    return None


@guard
def closing_notice_due(ctx: GuardContext) -> str | None:
    """MPS Provisions art. 189: the notice after a withdrawal or termination, once per decision."""
    from casehub.clocks.kinds import ClockKind
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    if not Clock.objects.filter(case=ctx.case, kind=ClockKind.CLOSING_NOTICE, status__in=ACTIVE_STATUSES).exists():
        return _("没有待告知的撤销案件或终止侦查决定。")
    return None


def _named(ctx: Any) -> list[Any]:
    if ctx.spec.name == "terminate_investigation":
        return list(ctx.case.persons.filter(pk__in=ctx.inputs.get("persons") or []).order_by("id"))
    return docs.suspects(ctx.case)


@effects.effect
def terminate_persons(ctx: Any) -> None:
    """MPS Provisions arts. 186(2), 187(2): the named suspects are no longer investigated; a person in
    custody is released and any other coercive measure lifted."""
    persons = _named(ctx)
    for person in persons:
        InvestigationTermination.objects.create(
            case=ctx.case, person=person, ground=str(ctx.inputs.get("ground") or ""),
            reason=str(ctx.inputs.get("reason") or ""), decided_at=ctx.now, decided_by=ctx.acting_user)
    held = [p for p in persons if p.custody_status in LIFTED]
    effects._change_measure(held, CustodyStatus.RELEASED, authority=ctx.holder_before, at=ctx.now)


for _name in ("generate_withdrawal_decision", "generate_termination_decision", "generate_release_certificates"):
    effects.EFFECTS[_name] = (lambda name: lambda ctx: effects._generate(ctx, name))(_name)


GROUNDS = {
    "no_crime": gettext_lazy("没有犯罪事实"), "trivial": gettext_lazy("情节显著轻微、危害不大，不认为是犯罪"),
    "time_barred": gettext_lazy("犯罪已过追诉时效期限"), "pardon": gettext_lazy("经特赦令免除刑罚"),
    "death": gettext_lazy("犯罪嫌疑人死亡"), "other": gettext_lazy("其他依法不追究刑事责任的情形"),
    "not_the_offender": gettext_lazy("犯罪不是该犯罪嫌疑人实施的"),
    "not_punishable": gettext_lazy("共同犯罪中该犯罪嫌疑人不够刑事处罚"),
}


def _police_footer(ctx: Any) -> list[str]:
    return [ctx.holder_before.name, docs._day(ctx.now), str(_("（公章）"))]


def _arrest_note(ctx: Any, persons: list[Any]) -> str:
    arrested = [p.name for p in persons if p.custody_status == CustodyStatus.ARRESTED]
    if not arrested:
        return ""
    return _("%(names)s已被逮捕，本决定抄送原批准逮捕的人民检察院（刑事诉讼法第一百六十三条）。") % {"names": "、".join(arrested)}


@docs.builder("generate_withdrawal_decision", gettext_lazy("撤销案件决定书"))
def withdrawal_decision(ctx: Any) -> list[docs.Draft]:
    """撤销案件决定书 (CPL art. 163; MPS Provisions arts. 186-187, 189, 296(3))."""
    case = ctx.case
    persons = docs.suspects(case)
    names = "、".join(p.name for p in persons)
    paragraphs = [docs.person_block(p, case, docs.SUSPECT) for p in persons]
    paragraphs += [
        _("我局于%(date)s立案侦查的%(title)s，经侦查，发现%(ground)s：%(reason)s根据《中华人民共和国刑事诉讼法》第一百六十三条和"
          "《公安机关办理刑事案件程序规定》第一百八十六条的规定，经本局负责人批准，决定撤销此案。") % {
            "date": docs._day(case.created_at), "title": case.title,
            "ground": GROUNDS.get(str(ctx.inputs.get("ground")), ""),
            "reason": docs.full_sentence(ctx.inputs.get("reason"), "经侦查查明", "经侦查")},
    ]
    held = [p.name for p in persons if p.custody_status in HELD]
    if held:
        paragraphs.append(_("%(names)s现在押，立即释放，发给释放证明书。") % {"names": "、".join(held)})
    if note := _arrest_note(ctx, persons):
        paragraphs.append(note)
    if ctx.source == "supplementary_investigation":
        paragraphs.append(_("本案系人民检察院退回补充侦查的案件，撤销案件的情况通知退查的人民检察院"
                            "（《公安机关办理刑事案件程序规定》第二百九十六条）。"))
    paragraphs.append(_("本决定作出后三日以内告知原犯罪嫌疑人%(names)s、被害人或者其近亲属、法定代理人以及案件移送机关"
                        "（《公安机关办理刑事案件程序规定》第一百八十九条）。") % {"names": names})
    title = str(docs.TITLES["generate_withdrawal_decision"][0])
    return [docs.Draft(title, docs._render(ctx, title, number=docs._number(ctx, NumberKind.CASE_WITHDRAWAL),
                                           fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                           footer_lines=_police_footer(ctx)))]


@docs.builder("generate_termination_decision", gettext_lazy("终止侦查决定书"))
def termination_decision(ctx: Any) -> list[docs.Draft]:
    """终止侦查决定书 (MPS Provisions arts. 186(2), 187, 189(2)), one per person."""
    case, drafts = ctx.case, []
    title = str(docs.TITLES["generate_termination_decision"][0])
    persons = _named(ctx)
    # One number per person, in the order of the persons (workflows.effects.issue_termination_numbers).
    numbers = docs._number(ctx, NumberKind.INVESTIGATION_TERMINATION).split("、")
    for index, person in enumerate(persons):
        paragraphs = [docs.person_block(person, case, docs.SUSPECT), _(
            "我局侦查的%(title)s，经侦查，发现%(ground)s：%(reason)s根据《公安机关办理刑事案件程序规定》第一百八十六条第二款、"
            "第一百八十七条的规定，经本局负责人批准，决定对犯罪嫌疑人%(name)s终止侦查，本案继续侦查。") % {
            "title": case.title, "ground": GROUNDS.get(str(ctx.inputs.get("ground")), ""), "name": person.name,
            "reason": docs.full_sentence(ctx.inputs.get("reason"), "经侦查查明", "经侦查")}]
        if person.custody_status in HELD:
            paragraphs.append(_("%(name)s现在押，立即释放，发给释放证明书。") % {"name": person.name})
        if note := _arrest_note(ctx, [person]):
            paragraphs.append(note)
        paragraphs.append(_("本决定作出后三日以内告知%(name)s（《公安机关办理刑事案件程序规定》第一百八十九条第二款）。") % {
            "name": person.name})
        number = numbers[index] if index < len(numbers) else numbers[-1]
        drafts.append(docs.Draft(f"{title}（{person.name}）" if len(persons) > 1 else title, docs._render(
            ctx, title, number=number, fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
            footer_lines=_police_footer(ctx))))
    return drafts


@docs.builder("generate_release_certificates", gettext_lazy("释放证明书"))
def release_certificates(ctx: Any) -> list[docs.Draft]:
    """释放证明书 (CPL art. 163; MPS Provisions art. 187(2)), one per person released from custody."""
    case, drafts = ctx.case, []
    title = str(docs.TITLES["generate_release_certificates"][0])
    decision = _("撤销案件") if ctx.spec.name == "withdraw_case" else _("终止侦查")
    # One number per person, in the order of the persons (workflows.effects.issue_release_certificate_numbers).
    numbers = docs._number(ctx, NumberKind.RELEASE_CERTIFICATE).split("、")
    released = [p for p in _named(ctx) if p.custody_status in HELD and p.role == PersonRole.SUSPECT]
    for index, person in enumerate(released):
        centre = docs.custody_facts(person, case)["centre"]
        text = _("兹有%(name)s，因涉嫌%(charge)s于%(since)s被%(measure)s，羁押于%(centre)s。现因本局决定%(decision)s，"
                 "根据《中华人民共和国刑事诉讼法》第一百六十三条的规定，于%(today)s释放。特此证明。") % {
            "name": person.name, "charge": docs.charge_names(case), "since": docs._day(person.custody_since),
            "measure": person.get_custody_status_display(), "centre": centre.name if centre else "",
            "decision": decision, "today": docs._day(ctx.now)}
        number = numbers[index] if index < len(numbers) else numbers[-1]
        drafts.append(docs.Draft(f"{title}（{person.name}）", docs._render(
            ctx, title, number=number, fields=[(_("案件名称"), case.title)], paragraphs=[text],
            footer_lines=_police_footer(ctx))))
    return drafts
