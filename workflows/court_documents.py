"""The documents of the trial's later steps, as builders of :mod:`workflows.documents`: each is filed
into the issuing agency's dossier and PAdES-signed by it like every generated document.

| effect | document | issued by | law |
| --- | --- | --- | --- |
| ``generate_trial_extension`` | 延长审理期限决定书 | the trial court | CPL arts. 208, 220, 225 |
| ``generate_higher_extension`` | 批准延长审理期限决定书 | the next-higher court | CPL art. 208; SPC Interpretation art. 210 |
| ``generate_approved_extension`` | 延长审理期限决定书, on an approval received on paper | the court trying the case | CPL arts. 208, 243; SPC Interpretation art. 210 |
| ``generate_protest`` | 刑事抗诉书 | the prosecuting procuratorate | CPL arts. 228, 230; SPP Rules art. 584 |
| ``generate_second_instance_decision`` | 刑事裁定书 (upheld) or 刑事判决书 (revised), second instance | the second-instance court | CPL arts. 236, 244 |
| ``generate_remand_ruling`` | 刑事裁定书 (发回重审) | the second-instance court | CPL arts. 236(1)(3), 238 |
| ``generate_execution_notices`` | 执行通知书, one per convict the authority executes | the first-instance court | CPL arts. 264, 269; SPC Interpretation arts. 511, 519 |

The execution notice states the term from the first day in custody to its end, custody counting one
day for one day (Criminal Law arts. 44, 47; :mod:`workflows.sentence`).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import NumberKind
from workflows import documents as docs
from workflows import effects
from workflows.models import TransitionLog

NAMES = ("generate_trial_extension", "generate_higher_extension", "generate_approved_extension", "generate_protest",
         "generate_second_instance_decision", "generate_remand_ruling", "generate_execution_notices")
for _name in NAMES:
    effects.EFFECTS[_name] = (lambda name: lambda ctx: effects._generate(ctx, name))(_name)

CPL = "《中华人民共和国刑事诉讼法》"


def _issuer(ctx: Any) -> Any:
    agency = getattr(ctx.acting_user, "agency", None)
    return agency if agency is not None else ctx.holder_before


def _judge(ctx: Any) -> str:
    return (ctx.actor.get_full_name() or ctx.actor.get_username()) if ctx.actor is not None else ""


def _court_footer(ctx: Any) -> list[str]:
    return [_("审判员　%(name)s") % {"name": _judge(ctx)}, docs._day(ctx.now), _("（院印）"), _issuer(ctx).name]


def _latest_log(case: Any, names: tuple[str, ...]) -> TransitionLog | None:
    return TransitionLog.objects.filter(case=case, transition__in=names).order_by("-occurred_at", "-id").first()


def _first_instance_docket(case: Any) -> str:
    """The first-instance court's number (刑初), not the second instance's (刑终)."""
    from casehub.cases.models import CaseNumber

    numbers = CaseNumber.objects.filter(case=case, kind=NumberKind.COURT_DOCKET).order_by("-issued_at", "-id")
    return next((n.number for n in numbers if "刑终" not in n.number), "")


def _first_instance_court(case: Any) -> Any:
    log = _latest_log(case, ("docket_case",))
    return log.actor_agency if log is not None else None


def _judgment_date(case: Any) -> str:
    log = _latest_log(case, ("announce_judgment",))
    if log is None:
        return ""
    announced = (log.inputs or {}).get("announced_on")
    if announced:
        from datetime import date

        return docs._day(date.fromisoformat(str(announced)))
    return docs._day(log.occurred_at)


# --- trial extensions --------------------------------------------------------------------------

_EXTENDED_TO = {
    "speedy": (gettext_lazy("十五日"), "第二百二十五条"),
    "summary": (gettext_lazy("一个半月"), "第二百二十条"),
    "ordinary": (gettext_lazy("三个月"), "第二百零八条第一款"),
}


@docs.builder("generate_trial_extension", gettext_lazy("延长审理期限决定书"))
def trial_extension(ctx: Any) -> list[docs.Draft]:
    """The trial court's own extension (CPL arts. 208, 220, 225): the procedure in force decides to how long."""
    from workflows import trial

    case = ctx.case
    procedure = trial.procedure(case)
    period, article = _EXTENDED_TO[procedure]
    prosecutor = docs._prosecutor(case)
    reason = docs.strip_leading(ctx.inputs.get("decision"), "经审查").rstrip("。，,")
    text = _("本院受理的%(prosecutor)s提起公诉的被告人%(names)s%(charge)s一案，适用%(procedure)s审理。%(reason)s"
             "依照%(cpl)s%(article)s的规定，决定将本案的审理期限延长至%(period)s。") % {
        "prosecutor": prosecutor.name if prosecutor else "", "names": docs.suspect_names(case),
        "charge": docs.charge_names(case), "procedure": trial.PROCEDURE_LABELS[procedure],
        "reason": f"{reason}。" if reason else "", "cpl": CPL, "article": article, "period": period}
    title = str(docs.TITLES["generate_trial_extension"][0])
    return [docs.Draft(title, docs._render(ctx, title, number=docs.latest_number(case, NumberKind.COURT_DOCKET),
                                           fields=[(_("案件名称"), case.title)], paragraphs=[text],
                                           footer_lines=[_issuer(ctx).name, docs._day(ctx.now), _("（院印）")]))]


@docs.builder("generate_higher_extension", gettext_lazy("批准延长审理期限决定书"))
def higher_extension(ctx: Any) -> list[docs.Draft]:
    """The next-higher court approves three more months, once (CPL art. 208; SPC Interpretation art. 210)."""
    from workflows import trial

    case = ctx.case
    request = _latest_log(case, ("request_higher_extension",))
    ground = dict(trial.HIGHER_GROUNDS).get(str((request.inputs or {}).get("ground")) if request else "", "")
    text = _("%(court)s：\n你院报请延长被告人%(names)s%(charge)s一案审理期限的请示收悉。经审查，本案%(ground)s，"
             "依照%(cpl)s第二百零八条第一款和《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》第二百一十条的规定，"
             "决定批准本案的审理期限延长三个月。") % {
        "court": ctx.holder_before.name, "names": docs.suspect_names(case), "charge": docs.charge_names(case),
        "ground": ground or _("有法定延长情形"), "cpl": CPL}
    title = str(docs.TITLES["generate_higher_extension"][0])
    return [docs.Draft(title, docs._render(ctx, title, number=str(ctx.inputs.get("decision") or ""),
                                           fields=[(_("案件名称"), case.title)], paragraphs=[text],
                                           footer_lines=[_issuer(ctx).name, docs._day(ctx.now), _("（院印）")]))]


# Approvals by a court that is not on the platform (the provincial high court, the Supreme People's
# Court, a next-higher court not registered): the court trying the case records the approval it received
# on paper — its number and date — and issues its own signed decision extending the period.
_APPROVED = {
    # transition: (who approved, by how long, the law)
    "record_higher_extension": (gettext_lazy("上一级人民法院"), gettext_lazy("三个月"),
                                "第二百零八条第一款和《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》第二百一十条"),
    "record_spc_extension": (gettext_lazy("最高人民法院"), "",
                             "第二百零八条第一款和《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》第二百一十条"),
    "extend_second_instance": (gettext_lazy("高级人民法院"), gettext_lazy("二个月"), "第二百四十三条"),
}


def approving_court(ctx: Any) -> str:
    """The approving court's name: the registered next-higher court where there is one, else its level."""
    holder = ctx.holder_before
    if ctx.spec.name == "record_higher_extension" and holder.parent_id is not None:
        return holder.parent.name
    return str(_APPROVED[ctx.spec.name][0])


@docs.builder("generate_approved_extension", gettext_lazy("延长审理期限决定书"))
def approved_extension(ctx: Any) -> list[docs.Draft]:
    """The court's own 延长审理期限决定书 on the approval of a court above that is not on the platform,
    received on paper (CPL art. 208 and SPC Interpretation art. 210 at first instance; art. 243 at the
    second): it names the approving court, the approval's number and date and the months added."""
    from datetime import date

    from workflows import trial

    case, inp = ctx.case, ctx.inputs
    _who, length, article = _APPROVED[ctx.spec.name]
    if ctx.spec.name == "record_spc_extension":
        length = _("%(n)s个月") % {"n": inp.get("months") or ""}
    approved_on = inp.get("approved_on")
    if isinstance(approved_on, str) and approved_on:
        approved_on = date.fromisoformat(approved_on)
    second = ctx.spec.name == "extend_second_instance"
    ground = dict(trial.HIGHER_GROUNDS).get(str(inp.get("ground") or ""), "")
    prosecutor = docs._prosecutor(case)
    opening = (_("本院受理的上诉、抗诉的被告人%(names)s%(charge)s一案，") if second else
               _("本院受理的%(prosecutor)s提起公诉的被告人%(names)s%(charge)s一案，适用普通程序审理。")) % {
        "prosecutor": prosecutor.name if prosecutor else "",
        "names": "、".join(p.name for p in before_second_instance(case)) if second else docs.suspect_names(case),
        "charge": docs.charge_names(case)}
    text = opening + _("因本案%(ground)s，本院报请%(court)s批准延长审理期限。%(court)s于%(date)s以%(number)s批准。"
                       "依照%(cpl)s%(article)s的规定，决定将本案的审理期限延长%(length)s。") % {
        "ground": ground or _("有法定延长情形"), "court": approving_court(ctx),
        "date": docs._day(approved_on) if approved_on else "", "number": str(inp.get("decision") or ""),
        "cpl": CPL, "article": article, "length": length}
    title = str(docs.TITLES["generate_approved_extension"][0])
    return [docs.Draft(title, docs._render(ctx, title, number=docs.latest_number(case, NumberKind.COURT_DOCKET),
                                           fields=[(_("案件名称"), case.title)], paragraphs=[text],
                                           footer_lines=[_issuer(ctx).name, docs._day(ctx.now), _("（院印）")]))]


# --- protest and second instance -----------------------------------------------------------------


def _challenged(ctx: Any) -> list[Any]:
    """The defendants the protest (or appeal) names; all of them when it names none."""
    ids = ctx.inputs.get("persons") or []
    persons = docs.suspects(ctx.case)
    chosen = [p for p in persons if p.pk in {int(i) for i in ids}]
    return chosen or persons


@docs.builder("generate_protest", gettext_lazy("刑事抗诉书"))
def protest(ctx: Any) -> list[docs.Draft]:
    """刑事抗诉书 (CPL arts. 228, 230; SPP Rules art. 584): the procuratorate protests the first-instance
    judgment it finds wrong, through the trial court to the court one level above, within the window."""
    case = ctx.case
    persons = _challenged(ctx)
    court = case.holder_agency
    higher = court.parent if court is not None else None
    reason = docs.strip_leading(ctx.inputs.get("reason"), "抗诉理由", "理由如下")
    paragraphs = [docs.person_block(p, case, _("原审被告人")) for p in persons]
    paragraphs += [
        _("%(court)s以%(number)s刑事判决书对被告人%(names)s%(charge)s一案判决%(date)s。本院依法审查后认为，该判决确有错误，"
          "理由如下：") % {"court": court.name if court else "", "number": _first_instance_docket(case),
                       "names": "、".join(p.name for p in persons), "charge": docs.charge_names(case),
                       "date": _("（%(d)s宣判）") % {"d": _judgment_date(case)} if _judgment_date(case) else ""}
        + docs._numbered(docs._lines(reason)),
        _("综上所述，为维护司法公正，准确惩治犯罪，依照%(cpl)s第二百二十八条的规定，特提出抗诉，请依法判处。") % {"cpl": CPL},
        _("此致\n%(to)s") % {"to": higher.name if higher is not None else ""},
        _("附：") + docs._numbered([
            *(_("被告人%(name)s现羁押于%(centre)s") % {"name": p.name, "centre": c.name}
              for p in persons if (c := docs.custody_facts(p, case)["centre"]) is not None),
            _("本抗诉书副本%(n)s份") % {"n": len(persons)}]),
    ]
    title = str(docs.TITLES["generate_protest"][0])
    return [docs.Draft(title, docs._render(ctx, title, fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                           footer_lines=[_issuer(ctx).name, docs._day(ctx.now), _("（院印）")]))]


def before_second_instance(case: Any) -> list[Any]:
    """The defendants the second-instance court rules on: every defendant (art. 233(2); SPC Interpretation
    art. 389), except those it split off by ruling the case not a joint crime — their first-instance judgment
    took effect on its own and the second-instance decision does not name them (SPC Interpretation art. 390)."""
    from workflows import appeal

    apart = {p.pk for p in appeal.split_off(case)}
    return [p for p in docs.suspects(case) if p.pk not in apart]


def _second_instance_opening(ctx: Any) -> list[str]:
    """Who is before the second-instance court and how the case came up (CPL arts. 227-228, 233; a
    defendant split off after a "not a joint crime" ruling is not before it, SPC Interpretation art. 390)."""
    from workflows import appeal

    case = ctx.case
    challenged = appeal.appeals(case)
    before = before_second_instance(case)
    prosecutor = docs._prosecutor(case)
    lines = []
    if any("protest" in kinds for kinds in challenged.values()) and prosecutor is not None:
        lines.append(_("抗诉机关%(name)s。") % {"name": prosecutor.name})
    elif prosecutor is not None:
        lines.append(_("原公诉机关%(name)s。") % {"name": prosecutor.name})
    for person in before:
        term = _("上诉人（原审被告人）") if "appeal" in challenged.get(person.pk, []) else _("原审被告人")
        lines.append(docs.person_block(person, case, term))
    first = _first_instance_court(case)
    appellants = [p.name for p in before if "appeal" in challenged.get(p.pk, [])]
    came_up = []
    if appellants:
        came_up.append(_("原审被告人%(names)s不服，提出上诉") % {"names": "、".join(appellants)})
    if any("protest" in kinds for kinds in challenged.values()) and prosecutor is not None:
        came_up.append(_("%(name)s提出抗诉") % {"name": prosecutor.name})
    lines.append(_("%(court)s审理%(prosecutor)s指控原审被告人%(names)s犯%(charge)s一案，于%(date)s作出%(number)s刑事判决。"
                   "%(came_up)s。本院依法组成合议庭审理了本案。现已审理终结。") % {
        "court": first.name if first else "", "prosecutor": prosecutor.name if prosecutor else "",
        "names": "、".join(p.name for p in before), "charge": docs.charge_names(case), "date": _judgment_date(case),
        "number": _first_instance_docket(case), "came_up": "，".join(came_up) or _("案件移送本院")})
    return lines


@docs.builder("generate_second_instance_decision", gettext_lazy("第二审刑事裁定书或判决书"))
def second_instance_decision(ctx: Any) -> list[docs.Draft]:
    """The final second-instance decision (CPL arts. 236(1), 244): a 刑事裁定书 dismissing the appeal or
    protest and upholding the judgment, or a 刑事判决书 revising it; final for every defendant (art. 233)."""
    case, inp = ctx.case, ctx.inputs
    upheld = inp.get("result") != "revised"
    title = str(_("刑事裁定书（第二审）") if upheld else _("刑事判决书（第二审）"))
    operative = docs._lines(docs.strip_leading(inp.get("verdict"), "裁定如下", "判决如下"))
    paragraphs = _second_instance_opening(ctx)
    if upheld:
        paragraphs.append(_("本院认为，原判认定事实和适用法律正确、量刑适当。依照%(cpl)s第二百三十六条第一款第一项的规定，"
                            "裁定如下：") % {"cpl": CPL})
        paragraphs += operative or [_("驳回上诉、抗诉，维持原判。")]
        paragraphs.append(_("本裁定为终审裁定。"))
    else:
        paragraphs.append(_("本院认为，原判认定事实没有错误，但适用法律有错误，或者量刑不当。依照%(cpl)s第二百三十六条"
                            "第一款第二项的规定，判决如下：") % {"cpl": CPL})
        paragraphs += operative
        paragraphs.append(_("本判决为终审判决。"))
    return [docs.Draft(title, docs._render(ctx, title, number=docs.latest_number(case, NumberKind.COURT_DOCKET),
                                           fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                           footer_lines=_court_footer(ctx)))]


@docs.builder("generate_remand_ruling", gettext_lazy("刑事裁定书（发回重审）"))
def remand_ruling(ctx: Any) -> list[docs.Draft]:
    """The ruling that sets aside the first-instance judgment and sends the case back for retrial (CPL
    arts. 236(1)(3), 238; final, SPC Interpretation art. 377 for a 速裁 case retried as ordinary)."""
    from workflows import appeal

    case = ctx.case
    first = _first_instance_court(case)
    reason = docs.strip_leading(ctx.inputs.get("reason"), "本院认为").rstrip("。，,")
    paragraphs = _second_instance_opening(ctx)
    paragraphs += [
        _("本院认为，%(reason)s。依照%(cpl)s第二百三十六条第一款第三项、第二百三十八条的规定，裁定如下：") % {
            "reason": reason, "cpl": CPL},
        (_("一、撤销%(court)s%(number)s刑事判决；") if not appeal.split_off(case) else
         # SPC Interpretation art. 390: the split-off defendants' judgment has taken effect and stays
         _("一、撤销%(court)s%(number)s刑事判决中对原审被告人%(names)s的判决部分；")) % {
            "court": first.name if first else "", "number": _first_instance_docket(case),
            "names": "、".join(p.name for p in before_second_instance(case))},
        _("二、本案发回%(court)s重新审判。") % {"court": first.name if first else ""},
        _("本裁定为终审裁定。"),
    ]
    title = str(docs.TITLES["generate_remand_ruling"][0])
    return [docs.Draft(title, docs._render(ctx, title, number=docs.latest_number(case, NumberKind.COURT_DOCKET),
                                           fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                           footer_lines=_court_footer(ctx)))]


# --- execution ---------------------------------------------------------------------------------


def _effective_day(case: Any) -> Any:
    log = _latest_log(case, ("judgment_effective", "decide_second_instance"))
    return log.occurred_at if log is not None else None


def executed_by(case: Any, executor: str) -> list[Any]:
    """The decisions whose sentence ``executor`` executes (the detention centre executes what the
    police would: a custodial sentence)."""
    from workflows import appeal
    from workflows.models import JudgmentDecision

    wanted = "police" if executor == "detention" else executor
    apart = appeal.separately_executed(case)  # handed over on their own (art. 233(2); SPC Interp. art. 390)
    return [d for d in JudgmentDecision.objects.filter(case=case).select_related("person").order_by("person_id")
            if appeal.executor_for(d) == wanted and d.person_id not in apart]


def _second_instance_line(case: Any) -> str:
    """Arts. 244, 259: where the judgment took effect with the second-instance decision, the 执行通知书 names
    that final decision — the court above, its number (刑终) and date, upheld or revised — before the
    judgment it executes ("" where the first-instance judgment took effect when the window expired)."""
    from casehub.cases.models import CaseNumber

    log = _latest_log(case, ("judgment_effective", "decide_second_instance"))
    if log is None or log.transition != "decide_second_instance":
        return ""
    number = (CaseNumber.objects.filter(case=case, kind=NumberKind.COURT_DOCKET, number__contains="刑终")
              .order_by("-issued_at", "-id").values_list("number", flat=True).first() or "")
    revised = (log.inputs or {}).get("result") == "revised"
    return (_("（第二审：%(court)s于%(date)s以%(number)s刑事判决改判，为终审判决。）") if revised else
            _("（第二审：%(court)s于%(date)s以%(number)s刑事裁定驳回上诉、抗诉，维持原判，为终审裁定。）")) % {
        "court": log.actor_agency.name if log.actor_agency else "", "date": docs._day(log.occurred_at),
        "number": number}


@docs.builder("generate_execution_notices", gettext_lazy("执行通知书"))
def execution_notices(ctx: Any) -> list[docs.Draft]:
    """执行通知书 (CPL arts. 264, 269; SPC Interpretation arts. 511, 519): one per convict the chosen
    authority executes, with the judgment, the day it took effect and the term from the first day in
    custody to its end."""
    from django.utils import timezone

    from workflows import appeal, sentence

    case = ctx.case
    executor = str(ctx.inputs.get("executor") or "police")
    apart = ctx.spec.name == "hand_over_separately"  # a defendant split off at the second instance
    decisions = appeal.separated_decisions(case, executor) if apart else executed_by(case, executor)
    effective = _effective_day(case)
    on = timezone.localtime(effective).date() if effective is not None else timezone.localdate()
    title = str(docs.TITLES["generate_execution_notices"][0])
    basis = _("第二百六十九条") if executor == "justice" else _("第二百六十四条")
    drafts = []
    for decision in decisions:
        person = decision.person
        if apart:
            own = appeal.effective_on(case, person)
            on = own or timezone.localdate()
            effective = own
        served = sentence.served(decision, on)
        if executor == "justice":
            term = _("依法实行社区矫正。罪犯应当自判决生效之日起十日内到执行地社区矫正机构报到（《中华人民共和国社区矫正法》"
                     "第二十条）。")
        elif served is not None:
            term = _("刑期自%(start)s起至%(end)s止（判决执行以前先行羁押的，羁押一日折抵刑期一日）。") % {
                "start": docs._day(served.start), "end": docs._day(served.term_end)}
        else:
            term = _("刑期自交付执行之日起计算。")
        text = _("%(to)s：\n罪犯%(name)s因犯%(charge)s，经%(court)s于%(date)s以%(number)s刑事判决判处：%(line)s"
                 "该判决已于%(effective)s发生法律效力。依照%(cpl)s%(basis)s的规定，现将罪犯%(name)s交付执行。%(term)s") % {
            "to": docs._to(ctx), "name": person.name, "charge": decision.charge,
            "court": (ctx.acting_user.agency if apart else ctx.holder_before).name,
            "date": _judgment_date(case), "number": _first_instance_docket(case), "line": decision.main_text,
            "effective": docs._day(effective) if effective is not None else "", "cpl": CPL, "basis": basis,
            "term": term}
        final = "" if apart else _second_instance_line(case)
        paragraphs = [docs.person_block(person, case, _("罪犯"), custody=False), text, *([final] if final else []),
                      _("附：") + docs._numbered([_("刑事判决书"), _("结案登记表")])]
        drafts.append(docs.Draft(f"{title}（{person.name}）" if len(decisions) > 1 else title, docs._render(
            ctx, title, number=_first_instance_docket(case), fields=[(_("案件名称"), case.title)],
            paragraphs=paragraphs, footer_lines=[_issuer(ctx).name, docs._day(ctx.now), _("（院印）")])))
    return drafts
