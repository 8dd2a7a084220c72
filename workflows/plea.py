"""Plea and leniency (认罪认罚从宽, CPL art. 15): what the transitions of
:data:`workflows.definition.PLEA_TRANSITIONS` check, record and generate.

Per person (a plea is a person's, not a case's):

- the police record that the suspect pleads and accepts punishment (``record_plea``, art. 120(2));
  the 起诉意见书 then says so (art. 162(2): 犯罪嫌疑人自愿认罪的，应当记录在案，随案移送，并在起诉意见书中写明有关情况);
- the procuratorate records the counsel or duty lawyer who was present, the signed 认罪认罚具结书 (an
  uploaded document of its dossier) — not required in the three cases of art. 174(2), where the plea
  is still recorded —, the legal representative present for a minor (art. 174(1)), and the
  sentencing recommendation (``record_plea_statement``, arts. 173-174, 176(2));
- the indictment writes the recommendation per defendant or the procuratorate issues it as a
  separate 量刑建议书 (SPP Rules art. 274), and proposes the trial procedure (速裁 only when every
  defendant's plea is recorded, art. 222).

The review period: 10 days when the case fits the fast-track trial (``adopt_fast_track_review``),
15 when the possible sentence exceeds one year (``extend_fast_track_review``); a plea case that does
not fit keeps one month (+15 days) (art. 172(1); SPP Rules art. 273); the choice is reversible
(``revert_fast_track_review``: back to one month from the original receipt). The guards, effects
and the document builder below register themselves with :mod:`workflows.guards`,
:mod:`workflows.effects` and :mod:`workflows.documents` (imported by ``WorkflowsConfig.ready``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import PersonRole
from workflows import documents as docs
from workflows import effects
from workflows.guards import GuardContext, guard
from workflows.models import PleaRecord

FAST_TRACK_DAYS = 10  # art. 172(1)
FAST_TRACK_LONG_DAYS = 15  # art. 172(1): possible sentence of more than one year
NO_EXEMPTION = "none"


def is_minor(person: Any, on: date | None = None) -> bool:
    """Under 18 (CPL art. 174(1), 281: the legal representative is present). Age on ``on`` (today)."""
    born = getattr(person, "birth_date", None)
    if born is None:
        return False
    on = on or timezone.localdate()
    return (on.year - born.year - ((on.month, on.day) < (born.month, born.day))) < 18


def pleas(case: Any) -> dict[int, PleaRecord]:
    return {r.person_id: r for r in PleaRecord.objects.filter(case=case).select_related("statement")}


def all_plead(case: Any) -> bool:
    """Every suspect's plea is recorded by the procuratorate (with statement or an art. 174(2) ground)."""
    suspects = list(case.persons.filter(role=PersonRole.SUSPECT).values_list("pk", flat=True))
    recorded = pleas(case)
    return bool(suspects) and all(pk in recorded and recorded[pk].confirmed for pk in suspects)


def review_clock(case: Any) -> Any:
    from casehub.clocks.kinds import ClockKind
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    return (Clock.objects.filter(case=case, kind=ClockKind.REVIEW_PROSECUTION, status__in=ACTIVE_STATUSES)
            .order_by("-started_at", "-id").first())


def fast_track(clock: Any) -> bool:
    """The running review period is a fast-track one (counted in days, not the month of art. 172)."""
    return clock is not None and clock.period_months == 0 and clock.period_days in (FAST_TRACK_DAYS,
                                                                                    FAST_TRACK_LONG_DAYS)


# --- guards -----------------------------------------------------------------------------------


@guard
def plea_persons_valid(ctx: GuardContext) -> str | None:
    """Art. 15: a plea is a suspect's own; each person named is a suspect of the case."""
    ids = ctx.inputs.get("persons")
    if ids is None:
        return None  # listing what the user may do: the persons are chosen in the form
    if not ids:
        return _("请选择认罪认罚的犯罪嫌疑人。")
    allowed = set(ctx.case.persons.filter(role=PersonRole.SUSPECT).values_list("pk", flat=True))
    if not set(ids) <= allowed:
        return _("所选人员不是本案的犯罪嫌疑人。")
    return None


@guard
def plea_statement_complete(ctx: GuardContext) -> str | None:
    """Art. 174(1): the statement is signed in the presence of counsel or the duty lawyer (named),
    and for a minor also of the legal representative; it is an uploaded document of this case in the
    procuratorate's dossier. Art. 174(2): not required for a blind, deaf or mute person or one not
    fully able to understand or control their conduct, for a minor whose legal representative or
    counsel objects, or in the other cases the law names — the plea is still recorded."""
    from casehub.dossier.models import Document

    inputs = ctx.inputs
    if not inputs or inputs.get("persons") is None:
        return None
    exemption = str(inputs.get("exemption") or NO_EXEMPTION)
    chosen = list(ctx.case.persons.filter(pk__in=inputs["persons"]).order_by("id"))
    if exemption == "174_2_2" and not all(is_minor(p) for p in chosen):
        return _("第一百七十四条第二款第二项只适用于未成年犯罪嫌疑人。")
    if exemption != "174_2_2":
        minors = [p.name for p in chosen if is_minor(p)]
        if minors and not str(inputs.get("guardian_name") or "").strip():
            return _("未成年犯罪嫌疑人%(names)s签署具结书时，其法定代理人应当到场（刑事诉讼法第一百七十四条第一款）。") % {
                "names": "、".join(minors)}
    document_id = inputs.get("statement_document")
    if exemption == NO_EXEMPTION and not document_id:
        return _("请先上传签署的认罪认罚具结书并填写其材料编号（刑事诉讼法第一百七十四条第一款）。")
    if document_id:
        agency_id = getattr(getattr(ctx.user, "agency", None), "pk", None)
        found = Document.objects.filter(pk=document_id, case=ctx.case, generated=False, is_current=True,
                                        withdrawn_at__isnull=True, owner_agency_id=agency_id).exists()
        if not found:
            return _("找不到本院卷宗中编号为%(id)s的具结书（须为本院上传的现行材料）。") % {"id": document_id}
    return None


@guard
def all_suspects_plead(ctx: GuardContext) -> str | None:
    """Art. 172(1), SPP Rules art. 273: the 10-day review applies only when the suspects plead and the
    case fits the fast-track trial — every suspect's plea recorded by the procuratorate."""
    if not all_plead(ctx.case):
        return _("只有每一名犯罪嫌疑人的认罪认罚均已记录，才能适用速裁案件的审查起诉期限（刑事诉讼法第一百七十二条）。")
    return None


def fast_track_excluded(case: Any) -> str | None:
    """Art. 223(1)-(2): the fast-track trial is not for a defendant who is blind, deaf or mute or a
    mentally ill person not fully unable to understand or control their conduct (the plea recorded
    under art. 174(2)(1)), nor for a minor. The other exclusions of art. 223 (major social impact, a
    co-defendant objecting, no settlement of the civil claim) are the prosecutor's judgment."""
    records = pleas(case)
    minors = [p.name for p in docs.suspects(case) if is_minor(p)]
    if minors:
        return _("%(names)s是未成年人，不适用速裁程序（刑事诉讼法第二百二十三条第二项）。") % {"names": "、".join(minors)}
    impaired = [p.name for p in docs.suspects(case)
                if p.pk in records and records[p.pk].confirmed and records[p.pk].exemption == "174_2_1"]
    if impaired:
        return _("%(names)s是盲、聋、哑人或者尚未完全丧失辨认或者控制自己行为能力的精神病人，不适用速裁程序"
                 "（刑事诉讼法第二百二十三条第一项）。") % {"names": "、".join(impaired)}
    return None


@guard
def fast_track_fits(ctx: GuardContext) -> str | None:
    """Arts. 172(1), 222, 223: the 10-day review is for a case that fits the fast-track trial — a possible
    sentence of at most three years, and none of the exclusions of art. 223 the platform knows."""
    if ctx.inputs and ctx.inputs.get("sentence_up_to_three_years") != "yes":
        return _("速裁程序只适用于可能判处三年有期徒刑以下刑罚的案件（刑事诉讼法第二百二十二条）；本案适用一个月的审查起诉期限。")
    return fast_track_excluded(ctx.case)


@guard
def review_not_fast_track(ctx: GuardContext) -> str | None:
    """Art. 172(1): the 10-day review of a fast-track case is extended only to 15 days, never by the
    fifteen days of the one-month review; a fast-track period is set once."""
    if fast_track(review_clock(ctx.case)):
        return _("本案适用速裁案件的审查起诉期限；如需延长，只能延长至十五日，或先不再适用速裁审查期限。")
    return None


@guard
def fast_track_period_open(ctx: GuardContext) -> str | None:
    """Art. 172(1): ten days from receipt; when they have passed the fast-track period cannot be chosen."""
    from casehub.clocks.counting import due_date

    clock = review_clock(ctx.case)
    if clock is None:
        return _("没有正在计算的审查起诉期限。")
    ten = due_date(clock.started_at, days=FAST_TRACK_DAYS + clock.paused_days, custody=clock.custody)
    if ten.date < timezone.localdate():
        return _("自受理之日起已超过十日，不能再适用速裁案件的审查起诉期限。")
    return None


@guard
def fast_track_review_of_ten_days(ctx: GuardContext) -> str | None:
    """Art. 172(1): a fast-track review of ten days may be extended to fifteen, once."""
    clock = review_clock(ctx.case)
    if clock is None or clock.period_months or clock.period_days != FAST_TRACK_DAYS:
        return _("只有适用十日速裁审查期限的案件可以延长至十五日。")
    return None


@guard
def fast_track_review_active(ctx: GuardContext) -> str | None:
    """Art. 172(1), SPP Rules art. 273: only a fast-track review goes back to the one-month period."""
    if not fast_track(review_clock(ctx.case)):
        return _("本案没有适用速裁案件的审查起诉期限。")
    return None


@guard
def pleas_withdrawable(ctx: GuardContext) -> str | None:
    """Art. 15; SPP Rules art. 273: only a plea that is recorded and not yet withdrawn can be
    withdrawn, by each suspect named. Not offered at all while no suspect has such a plea."""
    records = pleas(ctx.case)
    ids = ctx.inputs.get("persons")
    if ids is None:  # listing what the user may do: the persons are chosen in the form
        return None if any(r.withdrawn_at is None for r in records.values()) else _("本案没有可撤回的认罪认罚记录。")
    if not ids:
        return _("请选择撤回认罪认罚的犯罪嫌疑人。")
    missing = [p.name for p in ctx.case.persons.filter(pk__in=ids).order_by("id")
               if p.pk not in records or records[p.pk].withdrawn_at is not None]
    if missing or len(set(ids)) != ctx.case.persons.filter(pk__in=ids).count():
        return _("%(names)s没有可撤回的认罪认罚记录。") % {"names": "、".join(missing) or _("所选人员")}
    return None


@guard
def police_pleas_withdrawable(ctx: GuardContext) -> str | None:
    """CPL art. 15, arts. 120(2), 162(2): a suspect whose plea the police recorded may withdraw it before the
    case is transferred for review; each named suspect has a police record not yet withdrawn. Not
    offered at all while no suspect has one."""
    records = pleas(ctx.case)
    ids = ctx.inputs.get("persons")
    if ids is None:  # listing what the user may do: the persons are chosen in the form
        if any(r.police_recorded_at is not None and r.withdrawn_at is None for r in records.values()):
            return None
        return _("本案没有公安机关记录的、可撤回的认罪认罚。")
    if not ids:
        return _("请选择撤回认罪认罚的犯罪嫌疑人。")
    chosen = list(ctx.case.persons.filter(pk__in=ids).order_by("id"))
    missing = [p.name for p in chosen if p.pk not in records or records[p.pk].police_recorded_at is None
               or records[p.pk].withdrawn_at is not None]
    if missing or len(set(ids)) != len(chosen):
        return _("%(names)s没有公安机关记录的、可撤回的认罪认罚。") % {"names": "、".join(missing) or _("所选人员")}
    return None


@guard
def procedure_fits_plea(ctx: GuardContext) -> str | None:
    """Art. 222: the fast-track trial is proposed only when every defendant pleads and accepts
    punishment (recorded by the procuratorate), and not for a minor or a defendant of art. 223(1);
    art. 215(1): nor the summary procedure for a defendant of art. 174(2)(1)."""
    procedure = ctx.inputs.get("procedure")
    if procedure == "speedy" and not all_plead(ctx.case):
        return _("建议适用速裁程序的，每一名被告人都应当认罪认罚（刑事诉讼法第二百二十二条）。")
    if procedure == "speedy":
        return fast_track_excluded(ctx.case)
    if procedure == "summary":
        records = pleas(ctx.case)
        if any(r.confirmed and r.exemption == "174_2_1" for r in records.values()):
            return _("被告人是盲、聋、哑人或者尚未完全丧失辨认或者控制自己行为能力的精神病人的，不适用简易程序"
                     "（刑事诉讼法第二百一十五条第一项）。")
    return None


# --- effects ----------------------------------------------------------------------------------


def _chosen(ctx: Any) -> list[Any]:
    return list(ctx.case.persons.filter(pk__in=ctx.inputs.get("persons") or []).order_by("id"))


@effects.effect
def record_police_plea(ctx: Any) -> None:
    """Art. 120(2), 162(2): the police record the plea of each named suspect. A suspect who withdrew a
    plea and pleads again has it counted again (the withdrawal stays in the transition log)."""
    for person in _chosen(ctx):
        PleaRecord.objects.update_or_create(person=person, defaults={
            "case": ctx.case, "police_statement": str(ctx.inputs.get("statement") or ""),
            "police_recorded_at": ctx.now, "police_recorded_by": ctx.acting_user,
            "withdrawn_at": None, "withdrawn_by": None, "withdrawal_reason": ""})


@effects.effect
def withdraw_police_pleas(ctx: Any) -> None:
    """Art. 15, 162(2): the named suspects withdraw, during investigation, the plea the police recorded.
    The record is kept and marked withdrawn; the 起诉意见书 no longer states it."""
    reason = str(ctx.inputs.get("reason") or "")
    for person in _chosen(ctx):
        PleaRecord.objects.filter(person=person, withdrawn_at__isnull=True).update(
            withdrawn_at=ctx.now, withdrawn_by=ctx.acting_user, withdrawal_reason=reason)


@effects.effect
def record_procuratorate_plea(ctx: Any) -> None:
    """Arts. 173-174, 176(2): counsel or duty lawyer, the statement (or the art. 174(2) ground), the
    legal representative and the sentencing recommendation of each named suspect. A suspect who withdrew
    the plea may plead again before the indictment (art. 15): the new statement is the plea in force and
    the earlier withdrawal stays in the transition log."""
    from casehub.dossier.models import Document

    exemption = str(ctx.inputs.get("exemption") or NO_EXEMPTION)
    document = None
    if ctx.inputs.get("statement_document"):
        document = Document.objects.get(pk=ctx.inputs["statement_document"], case=ctx.case)
    for person in _chosen(ctx):
        PleaRecord.objects.update_or_create(person=person, defaults={
            "case": ctx.case, "counsel_role": str(ctx.inputs.get("counsel_role") or ""),
            "counsel_name": str(ctx.inputs.get("counsel_name") or ""), "statement": document,
            "exemption": "" if exemption == NO_EXEMPTION else exemption,
            "guardian_name": str(ctx.inputs.get("guardian_name") or ""),
            "sentencing": str(ctx.inputs.get("sentencing") or ""),
            "recorded_at": ctx.now, "recorded_by": ctx.acting_user,
            "withdrawn_at": None, "withdrawn_by": None, "withdrawal_reason": ""})
        if document is not None:
            document.concerns.add(person)


@effects.effect
def withdraw_pleas(ctx: Any) -> None:
    """Art. 15; SPP Rules art. 273: the named suspects withdraw their plea before the indictment. The
    record is kept and marked withdrawn; a fast-track review period, which needs every suspect's plea,
    goes back to one month counted from the original receipt of the case."""
    from casehub.clocks.services import set_period

    reason = str(ctx.inputs.get("reason") or "")
    for person in _chosen(ctx):
        PleaRecord.objects.filter(person=person, withdrawn_at__isnull=True).update(
            withdrawn_at=ctx.now, withdrawn_by=ctx.acting_user, withdrawal_reason=reason)
    clock = review_clock(ctx.case)
    if fast_track(clock) and not all_plead(ctx.case):
        set_period(clock, months=1, acting_user=ctx.acting_user,
                   decision=_("犯罪嫌疑人撤回认罪认罚，审查起诉期限恢复为一个月（人民检察院刑事诉讼规则第二百七十三条）：%(r)s") % {
                       "r": reason})


@effects.effect
def generate_sentencing_recommendation(ctx: Any) -> None:
    """量刑建议书 (SPP Rules art. 274), when the recommendation is not written into the 起诉书."""
    effects._generate(ctx, "generate_sentencing_recommendation")


# --- wording the other documents take from the plea ---------------------------------------------

PROCEDURES = {"speedy": gettext_lazy("速裁程序"), "summary": gettext_lazy("简易程序"),
              "ordinary": gettext_lazy("普通程序")}


def recommendation_lines(case: Any) -> list[str]:
    """Art. 162(2): the 起诉意见书 states the plea of each suspect who pleads."""
    lines = []
    for person in docs.suspects(case):
        record = pleas(case).get(person.pk)
        if record is not None and record.police_recorded_at is not None and record.withdrawn_at is None:
            lines.append(_("犯罪嫌疑人%(name)s自愿如实供述自己的罪行，承认指控的犯罪事实，愿意接受处罚。%(text)s") % {
                "name": person.name, "text": docs.strip_leading(record.police_statement, "认罪认罚情况")})
    return lines


def _witnesses(record: PleaRecord) -> str:
    who = f"{record.get_counsel_role_display()}{record.counsel_name}"
    if record.guardian_name:
        who += _("及法定代理人%(name)s") % {"name": record.guardian_name}
    return who


def indictment_lines(case: Any, inputs: dict[str, Any]) -> list[str]:
    """Art. 176(2): the defendant's plea, the statement and, written into the 起诉书, the sentencing
    recommendation; then the proposed trial procedure."""
    lines = []
    records = pleas(case)
    in_indictment = (inputs.get("sentencing_form") or "indictment") == "indictment"
    for person in docs.suspects(case):
        record = records.get(person.pk)
        if record is None or not record.confirmed:
            continue
        if record.exemption:
            text = _("被告人%(name)s自愿认罪认罚，在%(who)s在场的情况下表示同意量刑建议；依照《中华人民共和国刑事诉讼法》"
                     "第一百七十四条第二款的规定，不需要签署认罪认罚具结书。") % {"name": person.name, "who": _witnesses(record)}
        else:
            text = _("被告人%(name)s自愿认罪认罚，在%(who)s见证下签署了认罪认罚具结书。") % {
                "name": person.name, "who": _witnesses(record)}
        if in_indictment and record.sentencing:
            text += _("建议对被告人%(name)s%(text)s") % {
                "name": person.name, "text": docs.strip_leading(record.sentencing, "量刑建议", "建议")}
        lines.append(text)
    procedure = inputs.get("procedure")
    if procedure in PROCEDURES:
        lines.append(_("建议人民法院适用%(procedure)s审理。") % {"procedure": PROCEDURES[procedure]})
    return lines


@docs.builder("generate_sentencing_recommendation", gettext_lazy("量刑建议书"))
def sentencing_recommendation(ctx: Any) -> list[docs.Draft]:
    """量刑建议书 (CPL art. 176(2); SPP Rules arts. 274-275): the procuratorate's recommendation per
    defendant, issued with the 起诉书 when it is not written into it."""
    from casehub.cases.models import NumberKind

    if (ctx.inputs.get("sentencing_form") or "indictment") != "separate":
        return []
    case, records = ctx.case, pleas(ctx.case)
    chosen = [(p, records[p.pk]) for p in docs.suspects(case) if p.pk in records and records[p.pk].sentencing]
    general = docs.strip_leading(ctx.inputs.get("sentencing"), "量刑建议")
    if not chosen and not general:
        return []
    number = docs._number(ctx, NumberKind.INDICTMENT)
    paragraphs = [_("被告人%(names)s涉嫌%(charge)s一案，经本院审查认为，被告人的行为已触犯%(article)s，"
                    "本院以%(number)s起诉书提起公诉。根据《中华人民共和国刑事诉讼法》第一百七十六条第二款的规定，"
                    "提出量刑建议如下：") % {
        "names": "、".join(p.name for p in docs.suspects(case)), "charge": docs.charge_names(case),
        "article": docs.charge_articles(case) or _("刑法有关条款"), "number": number}]
    for person, record in chosen:
        paragraphs.append(_("对被告人%(name)s：%(text)s（认罪认罚，%(who)s）") % {
            "name": person.name, "text": docs.strip_leading(record.sentencing, "量刑建议", "建议"),
            "who": _witnesses(record)})
    if general:
        paragraphs.append(general)
    paragraphs.append(_("此致\n%(to)s") % {"to": docs._to(ctx)})
    title = str(docs.TITLES["generate_sentencing_recommendation"][0])
    return [docs.Draft(title, docs._render(ctx, title, fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                           footer_lines=docs._footer(ctx, _("（院印）"))))]
