"""Non-prosecution of its kinds, conditional non-prosecution for minors, and the police's challenges:
what the transitions of :data:`workflows.definition.NON_PROSECUTION_TRANSITIONS` and
``decide_non_prosecution`` check and generate.

- **Kinds** (``decide_non_prosecution``, input ``kind``): statutory (法定不起诉, art. 177(1): no
  criminal facts or a ground of art. 16), discretionary (酌定, art. 177(2): minor circumstances, no
  punishment needed), insufficient evidence (存疑, art. 175(4): mandatory after two returns for
  supplementary investigation, possible after one with the chief procurator's approval — SPP Rules
  art. 367; returns before and after a change of jurisdiction count together, at most two, SPP Rules
  art. 350, so the count is the case's). Each 不起诉决定书 names its legal formula and its notices:
  the victim's 7-day petition (art. 180), the person's 7-day appeal only for 177(2) (art. 181), and
  the police's reconsideration (art. 179).
- **Conditional non-prosecution** (附条件不起诉, arts. 282-284): minors, crimes of Criminal Law
  chapters 4-6 (arts. 232-367), a possible sentence of at most one year; probation of 6-12 months
  from the decision; an objection of the minor or the legal representative means prosecution
  (282(3)); revocation on the grounds of 284(1); at the end a final non-prosecution (284(2)).
- **Challenges** (art. 179): the police ask the deciding procuratorate to reconsider within 7 days of
  receiving the decision, then the next-higher procuratorate to review within 7 days of the answer
  (MPS Provisions art. 294); each is decided within 30 days (SPP Rules arts. 379-380). A decision that
  is revoked sends the case back to review for prosecution.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import PersonRole
from workflows import documents as docs
from workflows import effects
from workflows.guards import GuardContext, guard
from workflows.models import TransitionLog

CHALLENGE_DAYS = 7  # MPS Provisions 2020 art. 294: within 7 days of receiving the decision / the answer
CHAPTERS_4_TO_6 = (232, 367)  # Criminal Law, Special Part chapters 4-6: arts. 232 to 367
PROBATION_MONTHS = (6, 12)  # art. 283(2)
CLOSINGS = ("decide_non_prosecution", "decide_final_non_prosecution")

KIND_LABELS = {
    "statutory": gettext_lazy("法定不起诉"), "discretionary": gettext_lazy("酌定不起诉"),
    "insufficient_evidence": gettext_lazy("证据不足不起诉"), "conditional": gettext_lazy("附条件不起诉考验期满不起诉"),
}


def returns(case: Any) -> int:
    """Returns for supplementary investigation, counted for the case (SPP Rules art. 350: before and
    after a change of jurisdiction together)."""
    return TransitionLog.objects.filter(case=case, transition="return_for_supplementary").count()


def kind_of(spec: Any, inputs: dict[str, Any]) -> str:
    """The kind a decision declares; without one, read from its legal basis (older decisions)."""
    kind = spec.extra.get("non_prosecution_kind") or inputs.get("kind")
    if kind:
        return str(kind)
    basis = str(inputs.get("legal_basis") or "")
    if docs._discretionary(basis):
        return "discretionary"
    if "第一百七十五条" in basis or "175" in basis:
        return "insufficient_evidence"
    return "statutory"


def _last(case: Any, names: tuple[str, ...] | str) -> Any:
    names = (names,) if isinstance(names, str) else names
    return TransitionLog.objects.filter(case=case, transition__in=names).order_by("-occurred_at", "-id").first()


def _days_since(moment: Any) -> int:
    return (timezone.localdate() - timezone.localtime(moment).date()).days


def _active(case: Any, kind: str) -> Any:
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    return (Clock.objects.filter(case=case, kind=kind, status__in=ACTIVE_STATUSES)
            .order_by("-started_at", "-id").first())


def age_on(person: Any, day: date) -> int | None:
    born = person.birth_date
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


_ARTICLE = re.compile(r"(\d+)")


def offence_article(offence: Any) -> int | None:
    match = _ARTICLE.search(str(offence.article or ""))
    return int(match.group(1)) if match else None


# --- guards -----------------------------------------------------------------------------------


@guard
def non_prosecution_kind_allowed(ctx: GuardContext) -> str | None:
    """Art. 175(4), SPP Rules arts. 350, 367: non-prosecution for insufficient evidence needs at least
    one return for supplementary investigation (after one, the chief procurator approves — the
    decision's approval; after two it is mandatory), counted for the case across a change of jurisdiction."""
    if not ctx.inputs:
        return None
    if kind_of(ctx.spec, ctx.inputs) == "insufficient_evidence" and returns(ctx.case) < 1:
        return _("证据不足不起诉须经退回补充侦查（刑事诉讼法第一百七十五条第四款；《人民检察院刑事诉讼规则》第三百六十七条）；"
                 "本案尚未退回补充侦查。")
    return None


@guard
def conditional_non_prosecution_fits(ctx: GuardContext) -> str | None:
    """Art. 282(1): a minor, a crime of Criminal Law chapters 4-6, a possible sentence of at most one
    year; art. 283(2): probation of six months to one year. Age is taken on the day the case was
    registered (the platform records no date of the offence)."""
    case = ctx.case
    registered = timezone.localtime(case.created_at).date()
    suspects = list(case.persons.filter(role=PersonRole.SUSPECT))
    adults = [p.name for p in suspects if (age_on(p, registered) is None or age_on(p, registered) >= 18)]
    if not suspects or adults:
        return _("附条件不起诉只适用于未成年犯罪嫌疑人（刑事诉讼法第二百八十二条）：%(names)s不是未成年人或未登记出生日期。") % {
            "names": "、".join(adults) or _("本案没有犯罪嫌疑人")}
    offences = list(case.offences.all())
    low, high = CHAPTERS_4_TO_6
    outside = [o.name for o in offences if not (low <= (offence_article(o) or 0) <= high)]
    if not offences or outside:
        return _("附条件不起诉只适用于刑法分则第四章、第五章、第六章规定的犯罪（刑事诉讼法第二百八十二条）：%(names)s。") % {
            "names": "、".join(outside) or _("本案没有登记罪名")}
    if not ctx.inputs:
        return None
    if ctx.inputs.get("sentence_up_to_one_year") != "yes":
        return _("附条件不起诉只适用于可能判处一年有期徒刑以下刑罚的案件（刑事诉讼法第二百八十二条）。")
    months = ctx.inputs.get("probation_months")
    if months is None or not PROBATION_MONTHS[0] <= int(months) <= PROBATION_MONTHS[1]:
        return _("考验期为六个月以上一年以下（刑事诉讼法第二百八十三条第二款）。")
    return None


@guard
def probation_running(ctx: GuardContext) -> str | None:
    """Art. 284(1): revocation happens during the probation."""
    from casehub.clocks.kinds import ClockKind

    clock = _active(ctx.case, ClockKind.CONDITIONAL_PROBATION)
    if clock is None or clock.due_date < timezone.localdate():
        return _("考验期已届满，不能撤销附条件不起诉决定。")
    return None


@guard
def probation_over(ctx: GuardContext) -> str | None:
    """Art. 284(2): the final non-prosecution comes when the probation has ended."""
    from casehub.clocks.kinds import ClockKind

    clock = _active(ctx.case, ClockKind.CONDITIONAL_PROBATION)
    if clock is None or clock.due_date >= timezone.localdate():
        due = clock.due_date if clock is not None else "—"
        return _("考验期尚未届满（届满日：%(due)s），不能作出不起诉决定。") % {"due": due}
    return None


@guard
def non_prosecution_reconsiderable(ctx: GuardContext) -> str | None:
    """Art. 179, MPS Provisions art. 294(1): the police ask for reconsideration of a non-prosecution of
    a case they transferred, within 7 days of receiving the decision, once — also of a conditional
    non-prosecution during its probation (art. 282(2)). Only the decision in force:
    one revoked since (on reconsideration, review, petition or appeal) is no longer contested, even if
    the case was closed again in another way (a police withdrawal)."""
    closing = decision_in_force(ctx.case)
    if closing is None:
        return _("本案没有生效的不起诉决定。")
    if TransitionLog.objects.filter(case=ctx.case, transition="request_np_reconsideration", id__gt=closing.id).exists():
        return _("已就该不起诉决定要求过复议。")
    if _days_since(closing.occurred_at) > CHALLENGE_DAYS:
        return _("要求复议应当在收到不起诉决定书后七日以内提出（公安机关办理刑事案件程序规定第二百九十四条）。")
    return None


@guard
def np_reconsideration_pending(ctx: GuardContext) -> str | None:
    """SPP Rules art. 379(2): the procuratorate answers a request for reconsideration it received."""
    from casehub.clocks.kinds import ClockKind

    if _active(ctx.case, ClockKind.NP_RECONSIDERATION) is None:
        return _("没有待决定的复议。")
    return None


@guard
def non_prosecution_reviewable(ctx: GuardContext) -> str | None:
    """Art. 179, MPS Provisions art. 294(2): when the reconsideration kept the decision, the police may
    ask the next-higher procuratorate to review it within 7 days of receiving the answer, once — of the
    decision in force only."""
    kept = _last(ctx.case, "keep_non_prosecution")
    closing = decision_in_force(ctx.case)
    if kept is None or closing is None or kept.id < closing.id:
        return _("只有复议维持不起诉决定的，才能提请复核。")
    if TransitionLog.objects.filter(case=ctx.case, transition="request_np_review", id__gt=kept.id).exists():
        return _("已就该决定提请过复核。")
    if _days_since(kept.occurred_at) > CHALLENGE_DAYS:
        return _("提请复核应当在收到复议决定书后七日以内提出（公安机关办理刑事案件程序规定第二百九十四条）。")
    holder = ctx.case.holder_agency
    if holder is None or holder.parent is None or holder.parent.kind != "procuratorate":
        return _("没有登记上一级人民检察院，无法提请复核。")
    return None


@guard
def np_review_pending(ctx: GuardContext) -> str | None:
    """SPP Rules art. 380: the higher procuratorate answers the review it received."""
    from casehub.clocks.kinds import ClockKind

    if _active(ctx.case, ClockKind.NP_REVIEW) is None:
        return _("没有待决定的复核。")
    return None


# --- effects ----------------------------------------------------------------------------------


@effects.effect
def grant_superior(ctx: Any) -> None:
    """The higher procuratorate reads the case it is asked to review (art. 179)."""
    from casehub.cases import access

    if not getattr(ctx, "preparing", False):
        access.grant(ctx.case, ctx.holder_before.parent, act=False)


@effects.effect
def inform_superior(ctx: Any) -> None:
    """Art. 180; SPP Rules art. 381(1): the victim may petition the next-higher procuratorate directly,
    which reviews the petition — it reads the non-prosecution it may have to review (read only; an
    agency that already has access keeps what it has). Not a statute that names the access itself."""
    from casehub.cases import access

    superior = getattr(ctx.holder_before, "parent", None)
    if getattr(ctx, "preparing", False) or superior is None or superior.kind != "procuratorate":
        return
    if superior.pk not in access.agencies_with(ctx.case, access.VIEW):
        access.grant(ctx.case, superior, act=False)


for _name in ("generate_conditional_non_prosecution", "generate_conditional_revocation",
              "generate_np_reconsideration_request", "generate_np_reconsideration_decision",
              "generate_np_review_request", "generate_np_review_decision"):
    effects.EFFECTS[_name] = (lambda name: lambda ctx: effects._generate(ctx, name))(_name)


# --- documents --------------------------------------------------------------------------------


_names = docs.suspect_names


# The decisions numbered from a series of their own (casehub.cases.numbering).
OWN_NUMBER = {"generate_conditional_non_prosecution": "conditional_non_prosecution", **effects.ISSUER_NUMBERED}


def _decision(ctx: Any, effect: str, paragraphs: list[str], *, seal: Any = None) -> list[docs.Draft]:
    title = str(docs.TITLES[effect][0])
    own = docs._number(ctx, OWN_NUMBER[effect]) if effect in OWN_NUMBER else ""
    kind, _day, number = _contested(ctx.case) if "np_" in effect else ("", "", "")
    fields = [(_("案件名称"), ctx.case.title)]
    if number:
        fields.append((_("%(kind)s决定书") % {"kind": kind}, number))
    issuer = ctx.acting_user.agency  # the police asking, the procuratorate deciding, or the one above
    footer = [issuer.name, docs._day(ctx.now), str(seal or _("（院印）"))]
    return [docs.Draft(title, docs._render(ctx, title, number=own, fields=fields, paragraphs=paragraphs,
                                           footer_lines=footer))]


def non_prosecution_paragraphs(ctx: Any) -> list[str]:
    """The reasoning and notices of a 不起诉决定书 of the decision's kind (arts. 175(4), 177, 179-181, 284)."""
    case, inp = ctx.case, ctx.inputs
    kind, names = kind_of(ctx.spec, inp), _names(case)
    basis = docs._sentence(docs.strip_leading(inp.get("legal_basis"), "本院认为")).rstrip("，")
    n = returns(case)
    if kind == "discretionary":
        reason = _("本院认为，%(names)s实施了《中华人民共和国刑法》规定的犯罪行为，但犯罪情节轻微，依照刑法规定不需要判处刑罚"
                   "或者免除刑罚。%(basis)s依照《中华人民共和国刑事诉讼法》第一百七十七条第二款的规定，决定对%(names)s不起诉。")
    elif kind == "insufficient_evidence":
        reason = (_("本院经二次退回补充侦查，仍然认为%(names)s涉嫌犯罪的事实不清、证据不足，不符合起诉条件。") if n >= 2 else
                  _("本院经一次退回补充侦查，认为%(names)s涉嫌犯罪的事实不清、证据不足，不符合起诉条件，且没有再次退回补充侦查的必要，"
                    "经检察长批准。")) + _("%(basis)s依照《中华人民共和国刑事诉讼法》第一百七十五条第四款的规定，决定对%(names)s不起诉。")
    elif kind == "conditional":
        started = docs._log_time(case, "decide_conditional_non_prosecution")
        reason = _("本院于%(date)s对%(names)s作出附条件不起诉决定。%(names)s在考验期内没有《中华人民共和国刑事诉讼法》第二百八十四条"
                   "第一款规定的情形，考验期满。%(facts)s依照《中华人民共和国刑事诉讼法》第二百八十四条第二款的规定，决定对%(names)s不起诉。")
        return [reason % {"date": docs._day(started), "names": names,
                          "facts": docs._sentence(docs.strip_leading(inp.get("facts"))).rstrip("，")},
                *notices(ctx, "conditional")]
    else:
        reason = _("本院认为，%(basis)s依照《中华人民共和国刑事诉讼法》第一百七十七条第一款的规定，决定对%(names)s不起诉。")
    return [reason % {"names": names, "basis": f"{basis}。" if basis and not basis.endswith("。") else basis},
            *notices(ctx, kind)]


# The conditional decision and the non-prosecution at the end of its probation: the victim petitions the
# next-higher procuratorate but cannot sue the minor in court instead (NPCSC Interpretation of CPL art.
# 271(2), 2014 — today art. 282(2)).
CONDITIONAL_KINDS = ("conditional", "conditional_decision")


def notices(ctx: Any, kind: str) -> list[str]:
    """Who may contest the decision, how and by when."""
    police = ctx.case.origin_agency.name
    if kind in CONDITIONAL_KINDS:  # art. 282(2); NPCSC Interpretation of CPL art. 271(2) (2014): no private prosecution
        out = [_("被害人如不服本决定，可以自收到本决定书后七日以内向上一级人民检察院申诉，请求提起公诉（不适用刑事诉讼法"
                 "第一百八十条关于被害人可以向人民法院起诉的规定）。")]
    else:
        out = [
            _("被害人如不服本决定，可以自收到本决定书后七日以内向上一级人民检察院申诉，请求提起公诉；也可以不经申诉，"
              "直接向人民法院起诉。"),  # art. 180
        ]
    if kind == "discretionary":  # art. 181: only a 177(2) decision
        out.append(_("被不起诉人如不服本决定，可以自收到本决定书后七日以内向本院申诉。"))
    out.append(_("%(police)s认为本决定有错误的，可以自收到本决定书后七日以内要求本院复议；意见不被接受的，可以自收到复议决定书后"
                 "七日以内向上一级人民检察院提请复核。") % {"police": police})  # art. 179; MPS art. 294
    return out


@docs.builder("generate_conditional_non_prosecution", gettext_lazy("附条件不起诉决定书"))
def conditional_decision(ctx: Any) -> list[docs.Draft]:
    """附条件不起诉决定书 (arts. 282-283): the minor, the facts and repentance, the probation from the
    decision, the rules to keep, the minor's and legal representative's objection (282(3)) and the
    challenges of the police and the victim (282(2): arts. 179, 180)."""
    case, inp = ctx.case, ctx.inputs
    names = _names(case)
    paragraphs = [docs.person_block(p, case, docs.SUSPECT, custody=False) for p in docs.suspects(case)]
    paragraphs += [
        _("经本院依法审查查明：%(facts)s") % {"facts": docs.strip_leading(inp.get("facts"), "经本院依法审查查明", "经审查查明")},
        _("本院认为，%(names)s涉嫌%(charge)s，可能判处一年有期徒刑以下刑罚，符合起诉条件，但有悔罪表现。本院已听取%(heard)s。"
          "依照《中华人民共和国刑事诉讼法》第二百八十二条第一款的规定，决定对%(names)s附条件不起诉，考验期为%(months)s个月，"
          "自本决定作出之日起计算。") % {
            "names": names, "charge": docs.charge_names(case),
            "heard": docs.strip_leading(inp.get("heard"), "听取").rstrip("。") or _("公安机关、被害人的意见"),
            "months": docs.chinese_number(int(inp.get("probation_months") or 6))},
        _("考验期内，被附条件不起诉人应当遵守法律法规，服从监督；按照考察机关的规定报告自己的活动情况；离开所居住的市、县或者迁居，"
          "应当报经考察机关批准；按照考察机关的要求接受矫治和教育（刑事诉讼法第二百八十三条第三款）。%(conditions)s") % {
            "conditions": docs.strip_leading(inp.get("conditions"))},
        _("被附条件不起诉人及其法定代理人对本决定有异议的，本院将作出起诉的决定（刑事诉讼法第二百八十二条第三款）。"),
        *notices(ctx, "conditional_decision"),
    ]
    return _decision(ctx, "generate_conditional_non_prosecution", paragraphs)


GROUNDS = {"new_crime": gettext_lazy("在考验期内实施新的犯罪"),
           "earlier_crime": gettext_lazy("发现决定附条件不起诉以前还有其他犯罪需要追诉"),
           "violation": gettext_lazy("违反治安管理规定或者考察机关有关附条件不起诉的监督管理规定，情节严重")}


@docs.builder("generate_conditional_revocation", gettext_lazy("撤销附条件不起诉决定书"))
def conditional_revocation(ctx: Any) -> list[docs.Draft]:
    """撤销附条件不起诉决定书 (art. 284(1))."""
    names = _names(ctx.case)
    started = docs._log_time(ctx.case, "decide_conditional_non_prosecution")
    text = _("本院于%(date)s对%(names)s作出附条件不起诉决定。%(names)s在考验期内%(ground)s：%(reason)s依照《中华人民共和国刑事诉讼法》"
             "第二百八十四条第一款的规定，决定撤销附条件不起诉的决定，提起公诉。") % {
        "date": docs._day(started), "names": names, "ground": GROUNDS.get(str(ctx.inputs.get("ground")), ""),
        "reason": docs.full_sentence(ctx.inputs.get("reason"), "理由如下")}
    return _decision(ctx, "generate_conditional_revocation", [text])


def _closing_date(case: Any) -> str:
    return docs._day(docs._log_time(case, "decide_non_prosecution") or docs._log_time(case, "decide_final_non_prosecution"))


@docs.builder("generate_np_reconsideration_request", gettext_lazy("要求复议意见书"))
def reconsideration_request(ctx: Any) -> list[docs.Draft]:
    """要求复议意见书 (art. 179; MPS Provisions art. 294(1)), approved by the police chief."""
    procuratorate = ctx.case.holder_agency
    kind, day, number = _contested(ctx.case)
    text = _("%(procuratorate)s：\n你院于%(date)s以%(number)s%(kind)s决定书决定对%(names)s%(kind)s。我局认为该决定有错误，理由如下："
             "%(reason)s根据《中华人民共和国刑事诉讼法》第一百七十九条的规定，要求你院复议。") % {
        "procuratorate": procuratorate.name, "date": day, "names": _names(ctx.case), "number": number, "kind": kind,
        "reason": docs.full_sentence(ctx.inputs.get("reason"), "理由如下")}
    return _decision(ctx, "generate_np_reconsideration_request", [text], seal=_("（公章）"))


@docs.builder("generate_np_review_request", gettext_lazy("提请复核意见书"))
def review_request(ctx: Any) -> list[docs.Draft]:
    """提请复核意见书 (art. 179; MPS Provisions art. 294(2)), with the reconsideration decision."""
    superior = ctx.case.holder_agency.parent
    kind, day, _number = _contested(ctx.case)
    text = _("%(superior)s：\n%(procuratorate)s于%(date)s决定对%(names)s%(kind)s，我局要求复议后，该院于%(kept)s维持原决定。我局认为"
             "该决定有错误，理由如下：%(reason)s根据《中华人民共和国刑事诉讼法》第一百七十九条的规定，提请你院复核。"
             "附：复议决定书。") % {
        "superior": superior.name if superior else "", "procuratorate": ctx.case.holder_agency.name,
        "date": day, "names": _names(ctx.case), "kind": kind,
        "kept": docs._day(docs._log_time(ctx.case, "keep_non_prosecution")),
        "reason": docs.full_sentence(ctx.inputs.get("reason"), "理由如下")}
    return _decision(ctx, "generate_np_review_request", [text], seal=_("（公章）"))


@docs.builder("generate_np_reconsideration_decision", gettext_lazy("复议决定书"))
def reconsideration_decision(ctx: Any) -> list[docs.Draft]:
    """复议决定书 (SPP Rules art. 379(2)): kept, or the non-prosecution revoked."""
    kept = ctx.spec.extra.get("kept", True)
    kind = _contested(ctx.case)[0]
    outcome = (_("决定维持本院的%(kind)s决定。%(police)s如不服，可以自收到本决定书后七日以内向上一级人民检察院提请复核。") if kept
               else _("决定撤销本院的%(kind)s决定，对本案重新审查起诉。"))
    text = _("%(police)s：\n你局要求复议的%(names)s%(kind)s一案，本院另行指派检察官进行了审查。本院认为，%(reason)s") % {
        "police": ctx.case.origin_agency.name, "names": _names(ctx.case), "kind": kind,
        "reason": docs._sentence(docs.strip_leading(ctx.inputs.get("reason"), "本院认为"))} + outcome % {
        "police": ctx.case.origin_agency.name, "kind": kind}
    return _decision(ctx, "generate_np_reconsideration_decision", [text])


@docs.builder("generate_np_review_decision", gettext_lazy("复核决定书"))
def review_decision(ctx: Any) -> list[docs.Draft]:
    """复核决定书 (SPP Rules art. 380), to the police and the procuratorate below."""
    kept = ctx.spec.extra.get("kept", True)
    kind = _contested(ctx.case)[0]
    outcome = (_("决定维持%(lower)s的%(kind)s决定。") if kept
               else _("决定撤销%(lower)s的%(kind)s决定，由该院依法重新审查起诉。"))
    text = _("%(police)s、%(lower)s：\n%(police)s提请复核的%(names)s%(kind)s一案，本院经复核认为，%(reason)s") % {
        "police": ctx.case.origin_agency.name, "lower": ctx.case.holder_agency.name, "names": _names(ctx.case),
        "kind": kind, "reason": docs._sentence(docs.strip_leading(ctx.inputs.get("reason"), "本院认为"))} + outcome % {
        "lower": ctx.case.holder_agency.name, "kind": kind}
    return _decision(ctx, "generate_np_review_decision", [text])


# --- the victim's petition and the non-prosecuted person's appeal (arts. 180-181) -------------------
#
# CPL art. 180; SPP Rules 2019 art. 381: a victim who receives the 不起诉决定书 may petition within 7 days;
# the next-higher procuratorate reviews (复查) — a petition lodged with the deciding procuratorate is sent
# up with the file (art. 381(2)). CPL art. 181; SPP Rules art. 385: the person not prosecuted under
# art. 177(2) may appeal to the deciding procuratorate within 7 days; it reviews. A petition or appeal
# made after the 7 days is not refused: the deciding procuratorate's complaints department examines it,
# answers with a conclusion when the decision is right, or passes it on for review (SPP Rules arts.
# 382, 385(1)). Each review is decided within three months of filing (SPP Rules art. 386, the chief
# procurator approving) by a 复查决定书, served on the victim, the person and the deciding procuratorate
# (art. 383(1)); a revocation sends the case back to be prosecuted (arts. 383(2), 388).

PETITION_DAYS = 7  # CPL arts. 180, 181: within 7 days of receiving the decision
VICTIM_PETITIONS = ("forward_victim_petition", "register_victim_petition")
PETITIONS = (*VICTIM_PETITIONS, "receive_np_appeal", "receive_late_np_complaint")


class _NoSpec:
    extra: dict[str, Any] = {}


def closing_kind(case: Any) -> str | None:
    """The kind of the non-prosecution that closed the case (None: no such closing)."""
    log = _last(case, CLOSINGS)
    if log is None:
        return None
    if log.transition == "decide_final_non_prosecution":
        return "conditional"
    return kind_of(_NoSpec, log.inputs or {})


def window_end(received: date) -> date:
    """The last day of the 7 days of arts. 180-181, counted from the day after receipt (art. 105); a
    last day off moves to the next working day."""
    from casehub.clocks.counting import due_date

    return due_date(received, days=PETITION_DAYS).date


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _filed(inputs: dict[str, Any]) -> date:
    return _as_date(inputs.get("filed_on")) or timezone.localdate()


def _closed_by_non_prosecution(case: Any) -> Any:
    """The non-prosecution that closed the case and still closes it: not one revoked since (the case
    went back to review, and was perhaps closed again in another way)."""
    closing = _last(case, CLOSINGS)
    if closing is None or case.stage != "closed":
        return None
    if TransitionLog.objects.filter(case=case, id__gt=closing.id).exclude(target="closed").exists():
        return None
    return closing


CONDITIONAL_DECISION = "decide_conditional_non_prosecution"


def decision_in_force(case: Any) -> Any:
    """The decision the police may contest (art. 179): the non-prosecution that closes the case, or,
    during the probation, the conditional non-prosecution (art. 282(2) applies art. 179 to it)."""
    closing = _closed_by_non_prosecution(case)
    if closing is not None:
        return closing
    if case.stage == "conditional_non_prosecution":
        return _last(case, CONDITIONAL_DECISION)
    return None


def _contested(case: Any) -> tuple[str, str, str]:
    """What the challenge documents name: (附条件)不起诉, the decision's date and its number."""
    log = _last(case, (*CLOSINGS, CONDITIONAL_DECISION))
    if log is not None and log.transition == CONDITIONAL_DECISION:
        return (str(_("附条件不起诉")), docs._day(log.occurred_at),
                docs.latest_number(case, "conditional_non_prosecution"))
    return str(_("不起诉")), _closing_date(case), docs.latest_number(case, "non_prosecution")


def _dates_problem(ctx: GuardContext, closing: Any) -> str | None:
    received, filed = _as_date(ctx.inputs.get("received_on")), _filed(ctx.inputs)
    decided = timezone.localtime(closing.occurred_at).date()
    if received is None:
        return _("请填写收到不起诉决定书的日期。")
    if received < decided or received > timezone.localdate():
        return _("收到不起诉决定书的日期应在不起诉决定作出之日（%(day)s）和今天之间。") % {"day": decided}
    if filed < received or filed > timezone.localdate():
        return _("提出申诉的日期应在收到不起诉决定书之日和今天之间。")
    return None


def _timely(inputs: dict[str, Any]) -> bool:
    return _filed(inputs) <= window_end(_as_date(inputs["received_on"]))


LATE = gettext_lazy("收到不起诉决定书七日以后提出的申诉，由本院负责控告申诉检察的部门审查（《人民检察院刑事诉讼规则》"
                    "第三百八十二条、第三百八十五条第一款），请办理“受理逾期申诉”。")


@guard
def victim_petition_timely(ctx: GuardContext) -> str | None:
    """Art. 180; SPP Rules art. 381: a victim's petition within 7 days of receiving the decision goes to
    the next-higher procuratorate for review, one at a time. A late one is examined by the deciding
    procuratorate (SPP Rules art. 382): the guard names that path instead of refusing silently."""
    from casehub.clocks.kinds import ClockKind

    closing = _closed_by_non_prosecution(ctx.case)
    if closing is None:
        return _("本案没有不起诉决定。")
    if _active(ctx.case, ClockKind.NP_PETITION_REVIEW) is not None:
        return _("被害人的申诉正在上一级人民检察院复查。")
    holder = ctx.case.holder_agency
    if holder is None or holder.parent is None or holder.parent.kind != "procuratorate":
        return _("没有登记上一级人民检察院，无法报送复查。")
    if not ctx.inputs:
        return None
    problem = _dates_problem(ctx, closing)
    if problem:
        return problem
    if not _timely(ctx.inputs):
        return str(LATE)
    return None


LATE_ABOVE = gettext_lazy("收到不起诉决定书七日以后提出的申诉，由作出不起诉决定的人民检察院负责控告申诉检察的部门审查"
                          "（《人民检察院刑事诉讼规则》第三百八十二条），请将申诉材料转交该院。")


@guard
def victim_petition_lodged_above(ctx: GuardContext) -> str | None:
    """Art. 180; SPP Rules art. 381(1): the victim petitions the next-higher procuratorate directly,
    within 7 days of receiving the decision; it registers the petition and reviews it, one at a time.
    A late one goes to the deciding procuratorate's complaints department (SPP Rules art. 382)."""
    problem = victim_petition_timely(ctx)
    return str(LATE_ABOVE) if problem == str(LATE) else problem


@guard
def np_appeal_timely(ctx: GuardContext) -> str | None:
    """Art. 181; SPP Rules art. 385: only a person not prosecuted under art. 177(2) appeals, to the
    deciding procuratorate, within 7 days of receiving the decision; one review at a time. A late
    appeal is examined by the complaints department (SPP Rules art. 385(1))."""
    from casehub.clocks.kinds import ClockKind
    from workflows import persons

    closing = _closed_by_non_prosecution(ctx.case)
    if closing is None:
        return _("本案没有不起诉决定。")
    if closing_kind(ctx.case) != "discretionary":
        return _("只有依照刑事诉讼法第一百七十七条第二款作出的不起诉决定，被不起诉人才可以向本院申诉（刑事诉讼法第一百八十一条）。")
    if _active(ctx.case, ClockKind.NP_APPEAL_REVIEW) is not None:
        return _("本院正在复查对该不起诉决定的申诉。")
    if not ctx.inputs:
        return None
    ids = persons.resolve(ctx.case, ctx.spec, ctx.inputs).get("persons") or []
    if not ids or ctx.case.persons.filter(pk__in=ids, role=PersonRole.SUSPECT).count() != len(ids):
        return _("申诉人应是本案的被不起诉人。")
    problem = _dates_problem(ctx, closing)
    if problem:
        return problem
    if not _timely(ctx.inputs):
        return str(LATE)
    return None


@guard
def late_np_complaint(ctx: GuardContext) -> str | None:
    """SPP Rules arts. 382, 385(1): a petition of the victim, or an appeal of the person not prosecuted
    under art. 177(2), made after the 7 days is examined by the deciding procuratorate's complaints
    department; one made within them takes its own path (arts. 381, 385)."""
    from casehub.clocks.kinds import ClockKind

    closing = _closed_by_non_prosecution(ctx.case)
    if closing is None:
        return _("本案没有不起诉决定。")
    if _active(ctx.case, ClockKind.NP_APPEAL_REVIEW) is not None:
        return _("本院正在审查对该不起诉决定的申诉。")
    if not ctx.inputs:
        # Nobody can be late before seven days have passed since the decision (each petitioner's
        # seven days run from their own receipt, which is never earlier): not offered before then.
        if _days_since(closing.occurred_at) <= CHALLENGE_DAYS:
            return _("不起诉决定作出后七日以内，尚无逾期申诉。")
        return None
    if ctx.inputs.get("petitioner_role") == "non_prosecuted" and closing_kind(ctx.case) != "discretionary":
        return _("只有依照刑事诉讼法第一百七十七条第二款作出的不起诉决定，被不起诉人才可以向本院申诉（刑事诉讼法第一百八十一条）。")
    problem = _dates_problem(ctx, closing)
    if problem:
        return problem
    if _timely(ctx.inputs):
        return _("申诉在收到不起诉决定书后七日以内提出：被害人的申诉报送上一级人民检察院复查（《人民检察院刑事诉讼规则》"
                 "第三百八十一条），被不起诉人的申诉由本院复查（第三百八十五条）。")
    return None


@guard
def np_petition_pending(ctx: GuardContext) -> str | None:
    """CPL art. 180; SPP Rules arts. 381, 386: the higher procuratorate decides the petition it reviews."""
    from casehub.clocks.kinds import ClockKind

    if _active(ctx.case, ClockKind.NP_PETITION_REVIEW) is None:
        return _("没有待复查的被害人申诉。")
    return None


@guard
def victim_may_sue(ctx: GuardContext) -> str | None:
    """Art. 180; SPP Rules art. 384: the review ends when the court accepts the victim's own prosecution —
    not after a non-prosecution at the end of a conditional probation, where the victim cannot sue
    (NPCSC Interpretation of CPL art. 271(2), 2014)."""
    if closing_kind(ctx.case) == "conditional":
        return _("对附条件不起诉考验期满作出的不起诉决定，被害人只能申诉，不能向人民法院起诉（全国人民代表大会常务委员会"
                 "关于《中华人民共和国刑事诉讼法》第二百七十一条第二款的解释）。")
    return None


@guard
def np_appeal_pending(ctx: GuardContext) -> str | None:
    """CPL art. 181; SPP Rules arts. 382, 385, 386: the deciding procuratorate decides the appeal or
    complaint it reviews."""
    from casehub.clocks.kinds import ClockKind

    if _active(ctx.case, ClockKind.NP_APPEAL_REVIEW) is None:
        return _("没有待复查的申诉。")
    return None


@guard
def late_np_complaint_pending(ctx: GuardContext) -> str | None:
    """SPP Rules art. 382, art. 385(1): the complaints department answers a late petition or appeal it
    found right with a conclusion; a timely appeal is decided by a 复查决定书."""
    problem = np_appeal_pending(ctx)
    if problem:
        return problem
    if _petition(ctx.case).transition != "receive_late_np_complaint":
        return _("在七日以内提出的申诉应当复查并作出复查决定。")
    return None


def _petition(case: Any) -> Any:
    return _last(case, PETITIONS)


effects.ISSUER_NUMBERED.update({"generate_np_petition_decision": "np_petition_decision",
                                "generate_np_appeal_decision": "np_petition_decision"})
OWN_NUMBER.update(effects.ISSUER_NUMBERED)
for _name in ("generate_np_petition_decision", "generate_np_appeal_decision", "generate_np_complaint_answer"):
    effects.EFFECTS[_name] = (lambda name: lambda ctx: effects._generate(ctx, name))(_name)


def _petitioner(case: Any, log: Any) -> str:
    """Who petitioned, as the decision addresses them: the named victim or the persons appealing."""
    inputs = log.inputs or {}
    if inputs.get("petitioner"):
        return str(inputs["petitioner"])
    names = case.persons.filter(pk__in=inputs.get("persons") or []).order_by("id").values_list("name", flat=True)
    return "、".join(names) or _names(case)


def _petition_facts(ctx: Any) -> dict[str, Any]:
    case = ctx.case
    log = _petition(case)
    inputs = (log.inputs or {}) if log else {}
    return {"petitioner": _petitioner(case, log) if log else "", "names": _names(case),
            "lower": case.holder_agency.name, "police": case.origin_agency.name, "date": _closing_date(case),
            "number": docs.latest_number(case, "non_prosecution"),
            "filed": docs._day(_as_date(inputs.get("filed_on")) or (log.occurred_at if log else None)),
            "received": docs._day(_as_date(inputs.get("received_on"))),
            "reason": docs._sentence(docs.strip_leading(ctx.inputs.get("reason"), "本院认为", "经复查", "经审查")),
            "late": bool(log and log.transition == "receive_late_np_complaint"),
            "conditional": closing_kind(case) == "conditional",
            "victim": bool(log and (log.transition in VICTIM_PETITIONS
                                    or inputs.get("petitioner_role") == "victim"))}


@docs.builder("generate_np_petition_decision", gettext_lazy("复查决定书"))
def petition_decision(ctx: Any) -> list[docs.Draft]:
    """复查决定书 of the next-higher procuratorate on a victim's petition (CPL art. 180; SPP Rules arts.
    381, 383, 386): kept — the victim may sue in court; revoked — the procuratorate below prosecutes, the
    police receive a copy (art. 383(2))."""
    f = _petition_facts(ctx)
    text = _("%(petitioner)s：\n你不服%(lower)s于%(date)s作出的%(number)s不起诉决定，于%(filed)s提出申诉。本院依照《中华人民共和国"
             "刑事诉讼法》第一百八十条和《人民检察院刑事诉讼规则》第三百八十一条的规定进行了复查。本院经复查认为，%(reason)s") % f
    if ctx.spec.extra.get("kept", True):
        text += (_("决定维持%(lower)s的不起诉决定。") if f["conditional"] else
                 _("决定维持%(lower)s的不起诉决定。你如不服，可以向人民法院起诉（刑事诉讼法第一百八十条）。")) % f
        served = _("本决定书送达申诉人、被不起诉人%(names)s和%(lower)s（《人民检察院刑事诉讼规则》第三百八十三条第一款）。") % f
    else:
        text += _("决定撤销%(lower)s的不起诉决定，交由该院对%(names)s提起公诉（《人民检察院刑事诉讼规则》第三百八十三条第二款）。") % f
        served = _("本决定书送达申诉人、被不起诉人%(names)s和%(lower)s，抄送%(police)s（《人民检察院刑事诉讼规则》第三百八十三条）。") % f
    return _decision(ctx, "generate_np_petition_decision", [text, served])


@docs.builder("generate_np_appeal_decision", gettext_lazy("复查决定书"))
def appeal_decision(ctx: Any) -> list[docs.Draft]:
    """复查决定书 of the deciding procuratorate on the appeal of the person not prosecuted under art.
    177(2) (CPL art. 181; SPP Rules arts. 385, 386, 388), or on a late petition or appeal it passed on
    for review (art. 382): served on the person and the victim, a copy to the police (art. 181)."""
    f = _petition_facts(ctx)
    basis = (_("《人民检察院刑事诉讼规则》第三百八十二条") if f["late"] and f["victim"] else
             _("《人民检察院刑事诉讼规则》第三百八十五条") if f["late"] else
             _("《中华人民共和国刑事诉讼法》第一百八十一条和《人民检察院刑事诉讼规则》第三百八十五条"))
    text = _("%(petitioner)s：\n你不服本院于%(date)s作出的%(number)s不起诉决定，于%(filed)s提出申诉。") % f
    text += _("本院依照%(basis)s的规定进行了复查。本院经复查认为，%(reason)s") % {**f, "basis": basis}
    if ctx.spec.extra.get("kept", True):
        text += _("决定维持本院的不起诉决定。")
    else:
        text += _("决定撤销本院的不起诉决定，对%(names)s依法提起公诉（《人民检察院刑事诉讼规则》第三百八十八条）。") % f
    served = _("本决定书送达被不起诉人%(names)s、被害人，抄送%(police)s（刑事诉讼法第一百八十一条；《人民检察院刑事诉讼规则》"
               "第三百八十五条第二款）。") % f
    return _decision(ctx, "generate_np_appeal_decision", [text, served])


@docs.builder("generate_np_complaint_answer", gettext_lazy("申诉审查结论"))
def complaint_answer(ctx: Any) -> list[docs.Draft]:
    """The conclusion by which the complaints department answers a petition or appeal made after the 7
    days when it finds the non-prosecution right (SPP Rules arts. 382, 385(1))."""
    f = _petition_facts(ctx)
    article = _("第三百八十二条") if f["victim"] else _("第三百八十五条第一款")
    text = _("%(petitioner)s：\n你于%(filed)s对本院于%(date)s作出的%(number)s不起诉决定提出申诉。你于%(received)s收到不起诉决定书，"
             "申诉已超过七日，本院依照《人民检察院刑事诉讼规则》%(article)s的规定，由负责控告申诉检察的部门进行了审查。经审查认为，"
             "%(reason)s本院作出的不起诉决定正确。") % {**f, "article": article}
    if f["victim"] and not f["conditional"]:
        text += _("你如不服，可以向人民法院起诉（刑事诉讼法第一百八十条）。")
    return _decision(ctx, "generate_np_complaint_answer", [text])
