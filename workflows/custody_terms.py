"""Investigation custody after arrest: who approves each extension, the recount of art. 160 and the
time art. 149 excludes — per person, each a recorded decision that notifies the detention centre.

- **Extensions** (arts. 156, 158, 159, in that order; :func:`request_extension` → :func:`forward_extension`
  → :func:`decide_extension`, the only way a custody period after arrest is extended):
  the police file the request at least 7 days before the period ends (SPP Rules 2019 art. 309) with
  the procuratorate that approved the arrest, which forwards it. Art. 156 (+1 month) is decided by
  the procuratorate one level above it; arts. 158 and 159 (+2, +2) by the provincial procuratorate —
  art. 158 only for its four kinds of case, art. 159 only where the possible sentence is ten years'
  imprisonment or more. :func:`extension_route` says who received and who decides; the decision
  records both.
- **Recount** (art. 160; MPS Provisions 2020 arts. 151-152): on the discovery of another major crime
  (reported within 5 days of the discovery) or once the identity of a suspect who would not give it
  is established, the custody period counts again under art. 156 from that day. It is a decision of
  a county-level police chief; the detention centre receives a 变更羁押期限通知书 and the
  procuratorate that approved the arrest is told (备案).
- **Psychiatric assessment** (art. 149): its time is not counted. The person's running periods — and
  the stage period of the agency holding the case — pause from the start of the assessment and run
  on, with the days it took added, when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.models import Agency, AgencyKind, AgencyLevel

# Art. 158: the kinds of case whose custody the provincial procuratorate may extend by two months.
ART_158_GROUNDS: dict[str, Any] = {
    "remote": gettext_lazy("交通十分不便的边远地区的重大复杂案件"),
    "group": gettext_lazy("重大的犯罪集团案件"),
    "roaming": gettext_lazy("流窜作案的重大复杂案件"),
    "wide": gettext_lazy("犯罪涉及面广，取证困难的重大复杂案件"),
}
RECOUNT_GROUNDS: dict[str, Any] = {
    "another_crime": gettext_lazy("发现犯罪嫌疑人另有重要罪行（刑事诉讼法第一百六十条第一款）"),
    "identified": gettext_lazy("查清犯罪嫌疑人身份（刑事诉讼法第一百六十条第二款）"),
}
ANOTHER_CRIME_REPORT_DAYS = 5  # MPS Provisions 2020 art. 151: reported within 5 days of the discovery
ASSESSMENT = "psychiatric_assessment"


@dataclass(frozen=True)
class Route:
    """Who received the police's request and who decides it (by name: a level not registered on the
    platform is named by its level)."""

    received_by: Agency | None
    decided_by: Agency | None
    decided_by_name: str


def arresting_procuratorate(person: Any) -> Agency | None:
    """The procuratorate that approved the person's arrest (its 批准逮捕决定书 number)."""
    from casehub.cases.models import CaseNumber, NumberKind

    number = (CaseNumber.objects.filter(person=person, kind=NumberKind.ARREST_DECISION).select_related("agency")
              .order_by("-issued_at", "-id").first())
    if number is not None:
        return number.agency
    authority = person.measure_authority
    return authority if authority is not None and authority.kind == AgencyKind.PROCURATORATE else None


def _provincial(agency: Agency | None) -> Agency | None:
    seen = 0
    while agency is not None and seen < 5:
        if agency.level == AgencyLevel.PROVINCE and agency.kind == AgencyKind.PROCURATORATE:
            return agency
        agency, seen = agency.parent, seen + 1
    return None


def extension_route(person: Any, article: str) -> Route:
    """Art. 156: one level above the procuratorate that received the request; arts. 158-159: the
    provincial procuratorate (SPP Rules 2019 arts. 309-313)."""
    received = arresting_procuratorate(person)
    if article == "156":
        above = received.parent if received is not None else None
        return Route(received, above, above.name if above is not None else _("上一级人民检察院"))
    provincial = _provincial(received)
    return Route(received, provincial, provincial.name if provincial is not None else _("省级人民检察院"))


def extension_problem(article: str, *, ground: str, sentence_ten_years: bool) -> str | None:
    """Art. 158 needs one of its four kinds of case; art. 159 a possible sentence of ten years or more."""
    if article == "158" and ground not in ART_158_GROUNDS:
        return _("依照刑事诉讼法第一百五十八条延长，须属于该条规定的四类案件之一，请选择延长的情形。")
    if article == "159" and not sentence_ten_years:
        return _("依照刑事诉讼法第一百五十九条再延长二个月，须对犯罪嫌疑人可能判处十年有期徒刑以上刑罚。")
    return None


def _engine() -> Any:
    from workflows import engine

    return engine


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(0, 0)))


# --- art. 160: recount ----------------------------------------------------------------------------


def recount_investigation_custody(person: Any, *, ground: str, since: date, reason: str, acting_user: Any) -> Any:
    """重新计算侦查羁押期限 (art. 160; MPS Provisions 2020 arts. 151-152), decided by a county-level
    police chief — in casehub the approving officer of the police agency holding the case. The
    running art. 156 period of the arrested person ends and a new one of two months runs from
    ``since`` (the day the other major crime was discovered, or the identity established); the
    extensions of arts. 156-159 are again available for it. The detention centre receives a signed
    change notice; the procuratorate that approved the arrest is told (备案)."""
    engine = _engine()
    return engine._prepared_apply(lambda: _recount_once(person, ground=ground, since=since, reason=reason,
                                                         acting_user=acting_user))


def _recount_once(person: Any, *, ground: str, since: date, reason: str, acting_user: Any) -> Any:
    from casehub.agencies.permissions import APPROVE_OUTGOING, has_capability
    from casehub.audit import services as audit
    from casehub.audit.services import record_event
    from casehub.cases import access
    from casehub.cases.state import engine_writes
    from casehub.clocks import services as clocks
    from casehub.clocks.kinds import ClockKind
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus

    engine = _engine()
    reason = (reason or "").strip()
    if ground not in RECOUNT_GROUNDS:
        raise ValidationError({"ground": [_("重新计算的事由无效。")]})
    if not reason:
        raise ValidationError({"reason": [_("请写明重新计算的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = engine._lock(person.case_id)
        if (agency is None or agency.kind != AgencyKind.POLICE or agency.pk != case.holder_agency_id
                or not has_capability(acting_user, APPROVE_OUTGOING)):
            raise engine.NotAllowed(_("重新计算侦查羁押期限须经县级以上公安机关负责人批准（公安机关办理刑事案件程序规定第一百五十一条、第一百五十二条）。"))
        clock = engine._person_clock(person, ClockKind.INVESTIGATION_CUSTODY)
        if clock is None:
            raise ValidationError({"since": [_("该人员没有正在计算的侦查羁押期限。")]})
        today = timezone.localdate()
        if since > today or _aware(since) < clock.started_at.replace(hour=0, minute=0, second=0, microsecond=0):
            raise ValidationError({"since": [_("重新计算的起算日应在逮捕之后、不晚于今天。")]})
        if ground == "another_crime" and (today - since).days > ANOTHER_CRIME_REPORT_DAYS:
            raise ValidationError({"since": [_("发现另有重要罪行的，应当自发现之日起五日以内报批（公安机关办理刑事案件程序规定第一百五十一条）。")]})
        label = str(RECOUNT_GROUNDS[ground])
        decision = f"{label}；{reason}；批准人：{acting_user.get_full_name() or acting_user.get_username()}"
        clocks.stop_clocks(case, [ClockKind.INVESTIGATION_CUSTODY], at=timezone.now(), person=person,
                           acting_user=acting_user, reason="recount")
        new = clocks.open_clock(case, ClockKind.INVESTIGATION_CUSTODY, agency=clock.agency, start=_aware(since),
                                person=person, decision=decision[:200], acting_user=acting_user)
        record = CustodyRecord.objects.filter(person=person, status=RecordStatus.IN_CUSTODY).first()
        notice = None
        if record is not None:
            notice = custody.issue_notice(record, kind=NoticeKind.RECALCULATION, reason=decision, agency=agency,
                                          acting_user=acting_user)
        procuratorate = arresting_procuratorate(person)
        if procuratorate is not None:
            access.grant(case, procuratorate, act=False)
            _tell(procuratorate, case, _("重新计算侦查羁押期限备案：%(name)s") % {"name": person.name},
                  key=f"recount-{person.pk}-{since.isoformat()}")
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=new, case=case,
                     details={"decision": "custody_recount", "persons": [person.pk], "ground": ground,
                              "since": since, "due_date": new.due_date, "notice": getattr(notice, "number", ""),
                              "filed_with": getattr(procuratorate, "code", ""),
                              "article": "刑事诉讼法第一百六十条"})
        engine._end_of_rehearsal()
    return new


def _tell(agency: Agency, case: Any, title: str, *, key: str) -> None:
    """The procuratorate's officers learn of the recount (备案), after commit, best effort."""
    def _send() -> None:
        from django.urls import reverse

        from casehub.agencies.models import User
        from casehub.notifications.services import notify

        users = User.objects.filter(agency=agency, is_active=True)
        notify(users, kind="custody", title=title, url=reverse("cases:detail", args=[case.pk]), case=case,
               key=key)

    transaction.on_commit(_send)


# --- art. 96: the approving procuratorate learns of a release or change of an arrest ---------------


def tell_approving_procuratorate(case: Any, person: Any, *, procuratorate: Agency | None, agency: Agency,
                                 status: str) -> str:
    """Art. 96: the police who release an arrested person or change the arrest to another measure
    notify the procuratorate that approved the arrest (it may check the change, art. 100). The
    procuratorate gets read access and its officers a notification; returns its code ('' if none)."""
    from casehub.cases import access

    if procuratorate is None or agency.kind != AgencyKind.POLICE:
        return ""
    access.grant(case, procuratorate, act=False)
    _tell(procuratorate, case, _("公安机关释放被逮捕的人或者变更逮捕措施（刑事诉讼法第九十六条）：%(name)s") % {
        "name": person.name}, key=f"art96-{person.pk}-{status}-{timezone.now().timestamp():.0f}")
    return procuratorate.code


# --- art. 149: psychiatric assessment ---------------------------------------------------------------


def _assessment_clocks(case: Any, person: Any, *, paused: bool) -> list[Any]:
    from django.db.models import Q

    from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
    from casehub.custody.services import STAGE_CLOCKS

    statuses = (ClockStatus.PAUSED,) if paused else tuple(s for s in ACTIVE_STATUSES if s != ClockStatus.PAUSED)
    qs = Clock.objects.select_for_update().filter(case=case, status__in=statuses).filter(
        Q(person=person) | Q(person__isnull=True, kind__in=STAGE_CLOCKS, agency_id=case.holder_agency_id))
    if paused and case.stage == "trial_suspended":  # the suspension of the trial (art. 206) pauses its own
        from workflows import trial

        qs = qs.exclude(kind__in=trial.TRIAL_CLOCKS)
    return list(qs)


def start_psychiatric_assessment(person: Any, *, reason: str, acting_user: Any) -> list[Any]:
    """对犯罪嫌疑人作精神病鉴定 (art. 149): from today the person's running periods and the stage period
    of the agency holding the case do not count. Decided by the agency holding the case."""
    return _assessment(person, reason=reason, acting_user=acting_user, start=True)


def end_psychiatric_assessment(person: Any, *, reason: str, acting_user: Any) -> list[Any]:
    """The assessment ended (art. 149): the paused periods run on, their due dates moved by the days it
    took; the detention centre receives a notice of the new end."""
    return _assessment(person, reason=reason, acting_user=acting_user, start=False)


def _assessment(person: Any, *, reason: str, acting_user: Any, start: bool) -> list[Any]:
    engine = _engine()
    return engine._prepared_apply(lambda: _assessment_once(person, reason=reason, acting_user=acting_user,
                                                            start=start))


def _assessment_once(person: Any, *, reason: str, acting_user: Any, start: bool) -> list[Any]:
    from casehub.audit import services as audit
    from casehub.audit.services import record_event
    from casehub.cases.state import engine_writes
    from casehub.clocks import services as clocks
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus

    engine = _engine()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明鉴定的情况。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = engine._lock(person.case_id)
        if agency is None or agency.pk != case.holder_agency_id:
            raise engine.NotAllowed(_("只有本案的承办机关可以登记精神病鉴定。"))
        now = timezone.now()
        affected = _assessment_clocks(case, person, paused=not start)
        if start and not affected:
            raise ValidationError({"reason": [_("该人员没有正在计算的期限。")]})
        if not start and not affected:
            raise ValidationError({"reason": [_("该人员没有因精神病鉴定而中止的期限。")]})
        changed = []
        for clock in affected:
            if start:
                changed.append(clocks.pause_clock(clock, at=now, acting_user=acting_user, reason=ASSESSMENT))
            else:
                changed.append(clocks.resume_clock(clock, at=now, acting_user=acting_user))
        notice = None
        record = CustodyRecord.objects.filter(person=person, status=RecordStatus.IN_CUSTODY).first()
        if record is not None and not start and record.responsible_agency_id == agency.pk:
            text = _("精神病鉴定期间不计入办案期限（刑事诉讼法第一百四十九条）：%(reason)s") % {"reason": reason}
            notice = custody.issue_notice(record, kind=NoticeKind.RECALCULATION, reason=text, agency=agency,
                                          acting_user=acting_user)
        others = []
        if not start:  # co-defendants held under the same stage period: their date follows it
            others = _follow_stage_period(case, person, agency=agency, reason=reason, acting_user=acting_user)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=person, case=case,
                     details={"decision": "assessment_started" if start else "assessment_ended",
                              "persons": [person.pk], "clocks": [c.pk for c in changed], "reason": reason,
                              "notice": getattr(notice, "number", ""), "co_defendant_notices": others,
                              "article": "刑事诉讼法第一百四十九条"})
        engine._end_of_rehearsal()
    return changed


def _follow_stage_period(case: Any, person: Any, *, agency: Agency, reason: str, acting_user: Any) -> list[str]:
    """The other detainees whose custody the holder's stage period bounds (review, trial…) — that period
    ran on with the assessment's days added (art. 149), so the detention centre's date for them moves
    with it by a signed notice: the clock and the detainee list must say the same (art. 105(4), issue
    #15). A co-defendant bounded by their own period (custody after arrest) is not touched."""
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus

    numbers = []
    records = (CustodyRecord.objects.filter(case=case, status=RecordStatus.IN_CUSTODY, responsible_agency=agency)
               .exclude(person=person).select_related("person").order_by("id"))
    for record in records:
        clock = custody.governing_clock(record)
        if clock is None or clock.person_id is not None:
            continue
        _kind, _start, end = custody.custody_period(record)
        if end is None or end == record.period_end:
            continue
        text = _("同案犯罪嫌疑人、被告人%(name)s精神病鉴定的期间不计入办案期限（刑事诉讼法第一百四十九条），"
                 "本阶段期限相应顺延：%(reason)s") % {"name": person.name, "reason": reason}
        numbers.append(custody.issue_notice(record, kind=NoticeKind.RECALCULATION, reason=text, agency=agency,
                                            acting_user=acting_user, new_end=end).number)
    return numbers


# --- arts. 156, 158, 159: request → forward → decide ------------------------------------------------

ARTICLE_TEXT = {"156": "《中华人民共和国刑事诉讼法》第一百五十六条", "158": "《中华人民共和国刑事诉讼法》第一百五十八条",
                "159": "《中华人民共和国刑事诉讼法》第一百五十九条"}


def next_extension(clock: Any) -> tuple[str, int, str] | None:
    """(article, months, label) of the next extension the running period may have, in the order of
    arts. 156, 158, 159; None when all three were given."""
    done = clock.extensions.count()
    extensions = _engine().CUSTODY_EXTENSIONS
    return extensions[done] if done < len(extensions) else None


def pending_extension(person: Any) -> Any:
    """The person's extension request not decided yet (at most one at a time). A request whose custody
    period no longer runs (recounted under art. 160, ended by a release or a transfer) is moot: it is
    not pending any more and does not block a request for the new period."""
    from casehub.clocks.models import ACTIVE_STATUSES
    from casehub.custody.models import CustodyExtension, ExtensionStatus

    return (CustodyExtension.objects.filter(person=person, status__in=(ExtensionStatus.REQUESTED,
                                                                        ExtensionStatus.FORWARDED),
                                            clock__status__in=ACTIVE_STATUSES)
            .select_related("received_by", "recorded_by", "decided_by", "police").first())


def _recorder(route: Route, article: str) -> Agency | None:
    """The procuratorate that records the decision: the deciding one when it is on the platform;
    otherwise (a decision the higher procuratorate made on paper) the procuratorate one level above the
    one that received the request — for art. 158-159 the city procuratorate, which had forwarded it —
    or, with none above, the receiving procuratorate itself."""
    if route.decided_by is not None:
        return route.decided_by
    received = route.received_by
    if received is None:
        return None
    return received.parent if received.parent is not None and received.parent.kind == AgencyKind.PROCURATORATE \
        else received


def _officers(agency: Agency) -> Any:
    from casehub.agencies.models import User

    return User.objects.filter(agency=agency, is_active=True)


def _tell_agencies(agencies: list[Agency], case: Any, title: str, *, key: str) -> None:
    def _send() -> None:
        from django.urls import reverse

        from casehub.notifications.services import notify

        for agency in agencies:
            notify(_officers(agency), kind="custody", title=title, url=reverse("cases:detail", args=[case.pk]),
                   case=case, key=f"{key}-{agency.pk}")

    transaction.on_commit(_send)


def request_extension(person: Any, *, reason: str, acting_user: Any, ground: str = "",
                      sentence_ten_years: bool = False) -> Any:
    """提请延长侦查羁押期限 (arts. 156, 158, 159): the police responsible for the arrested person's
    custody file the request with the procuratorate that approved the arrest, at least 7 days before the
    period ends — a later request is refused (SPP Rules 2019 art. 309). The article is the next of arts.
    156, 158, 159 the period has not had; art. 158 needs one of its four kinds of case (``ground``),
    art. 159 a possible sentence of ten years or more. One request per person at a time."""
    from casehub.agencies.permissions import MANAGE_CUSTODY, has_capability
    from casehub.audit import services as audit
    from casehub.audit.services import record_event
    from casehub.cases import access
    from casehub.cases.state import engine_writes
    from casehub.clocks.kinds import ClockKind
    from casehub.custody.models import CustodyExtension

    engine = _engine()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明提请延长的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = engine._lock(person.case_id)
        clock = engine._person_clock(person, ClockKind.INVESTIGATION_CUSTODY)
        if clock is None:
            raise ValidationError({"reason": [_("该人员没有正在计算的侦查羁押期限。")]})
        if agency is None or agency.kind != AgencyKind.POLICE or agency.pk != clock.agency_id \
                or not has_capability(acting_user, MANAGE_CUSTODY):
            raise engine.NotAllowed(_("只有负责该人员侦查羁押的公安机关可以提请延长侦查羁押期限。"))
        if pending_extension(person) is not None:
            raise ValidationError({"reason": [_("该人员已有尚未决定的延长侦查羁押期限申请。")]})
        step = next_extension(clock)
        if step is None:
            raise ValidationError({"reason": [_("侦查羁押期限已依照第一百五十六条、第一百五十八条、第一百五十九条延长，不能再延长。")]})
        article = step[0]
        today = timezone.localdate()
        latest = clock.due_date - timedelta(days=engine.EXTENSION_REQUEST_LEAD_DAYS)
        if today > latest:
            raise ValidationError({"reason": [
                _("延长侦查羁押期限应当在期限届满七日前提出（人民检察院刑事诉讼规则第三百零九条）；本期限届满日为%(due)s，"
                  "最迟应于%(latest)s提出。") % {"due": clock.due_date, "latest": latest}]})
        problem = extension_problem(article, ground=ground, sentence_ten_years=sentence_ten_years)
        if problem:
            raise ValidationError({"ground" if article == "158" else "sentence_ten_years": [problem]})
        route = extension_route(person, article)
        recorder = _recorder(route, article)
        if route.received_by is None or recorder is None:
            raise ValidationError({"reason": [_("没有批准逮捕的人民检察院，无法提请延长侦查羁押期限。")]})
        ext = CustodyExtension.objects.create(
            case=case, person=person, clock=clock, article=article, ground=ground if article == "158" else "",
            sentence_ten_years=bool(sentence_ten_years), reason=reason, police=agency, requested_at=timezone.now(),
            requested_by=acting_user, period_end=clock.due_date, received_by=route.received_by,
            decided_by=route.decided_by, decided_by_name=route.decided_by_name, recorded_by=recorder)
        access.grant(case, route.received_by, act=False)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=ext, case=case,
                     details={"decision": "custody_extension_requested", "persons": [person.pk], "article": article,
                              "due_date": clock.due_date, "received_by": route.received_by.code,
                              "decided_by": getattr(route.decided_by, "code", "") or route.decided_by_name,
                              "reason": reason, "article_cited": "人民检察院刑事诉讼规则第三百零九条"})
        _tell_agencies([route.received_by], case, _("提请延长侦查羁押期限：%(name)s") % {"name": person.name},
                       key=f"extension-{ext.pk}-requested")
    return ext


def _locked_extension(extension: Any) -> Any:
    from casehub.custody.models import CustodyExtension

    return (CustodyExtension.objects.select_for_update(of=("self",))
            .select_related("person", "case", "clock", "police", "received_by", "recorded_by", "decided_by")
            .get(pk=extension.pk))


def forward_extension(extension: Any, *, opinion: str, acting_user: Any) -> Any:
    """报送 (SPP Rules 2019 arts. 309-310): the procuratorate that received the police's request reviews
    it and forwards it with its opinion to the procuratorate that decides — one level up (art. 156) or
    the provincial procuratorate (arts. 158-159; without one on the platform, to the procuratorate that
    records its paper decision). Before the period ends."""
    from casehub.agencies.permissions import DECIDE_ARREST, has_capability
    from casehub.audit import services as audit
    from casehub.audit.services import record_event
    from casehub.cases import access
    from casehub.cases.state import engine_writes
    from casehub.custody.models import ExtensionStatus

    engine = _engine()
    opinion = (opinion or "").strip()
    if not opinion:
        raise ValidationError({"opinion": [_("请写明审查意见。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = engine._lock(extension.case_id)
        ext = _locked_extension(extension)
        if agency is None or agency.pk != ext.received_by_id or not has_capability(acting_user, DECIDE_ARREST):
            raise engine.NotAllowed(_("只有受理该申请的人民检察院可以审查报送。"))
        if ext.status != ExtensionStatus.REQUESTED:
            raise ValidationError({"opinion": [_("该申请已报送或已决定。")]})
        if not ext.clock.is_active:
            raise ValidationError({"opinion": [_("申请所涉的侦查羁押期限已经结束或已重新计算，该申请不再需要决定。")]})
        if timezone.localdate() > ext.clock.due_date:
            raise ValidationError({"opinion": [_("侦查羁押期限已届满，不能再报送延长申请。")]})
        if ext.recorded_by_id == ext.received_by_id:
            raise ValidationError({"opinion": [_("没有登记上一级人民检察院，请直接登记上级人民检察院的纸质决定。")]})
        ext.status, ext.forwarded_at, ext.forwarded_by, ext.opinion = (
            ExtensionStatus.FORWARDED, timezone.now(), acting_user, opinion)
        ext.save(update_fields=["status", "forwarded_at", "forwarded_by", "opinion"])
        access.grant(case, ext.recorded_by, act=False)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=ext, case=case,
                     details={"decision": "custody_extension_forwarded", "persons": [ext.person_id],
                              "article": ext.article, "to": ext.recorded_by.code, "opinion": opinion,
                              "article_cited": "人民检察院刑事诉讼规则第三百零九条"})
        _tell_agencies([ext.recorded_by], case, _("报请延长侦查羁押期限：%(name)s") % {"name": ext.person.name},
                       key=f"extension-{ext.pk}-forwarded")
    return ext


def decide_extension(extension: Any, *, approve: bool, reason: str, acting_user: Any,
                     paper_reference: str = "") -> Any:
    """批准 / 不批准延长侦查羁押期限 (arts. 156, 158, 159): the procuratorate that decides — or, for a
    decision its higher procuratorate made on paper, the procuratorate that records it (then with the
    paper decision's number) — decides before the period ends. The decision goes back through the
    procuratorate that received the request to the police; a signed 延长侦查羁押期限决定书 (or 不批准…)
    is issued; an approval extends this person's custody clock only and the detention centre receives a
    变更羁押期限通知书 of the new end."""
    return _engine()._prepared_apply(lambda: _decide_extension_once(
        extension, approve=approve, reason=reason, acting_user=acting_user, paper_reference=paper_reference))


def _decide_extension_once(extension: Any, *, approve: bool, reason: str, acting_user: Any,
                           paper_reference: str) -> Any:
    from casehub.agencies.permissions import DECIDE_ARREST, has_capability
    from casehub.audit import services as audit
    from casehub.audit.services import record_event
    from casehub.cases.state import engine_writes
    from casehub.clocks import services as clocks
    from casehub.custody import documents
    from casehub.custody import services as custody
    from casehub.custody.models import ExtensionStatus

    engine = _engine()
    reason, paper_reference = (reason or "").strip(), (paper_reference or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明决定的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = engine._lock(extension.case_id)
        ext = _locked_extension(extension)
        if agency is None or agency.pk != ext.recorded_by_id or not has_capability(acting_user, DECIDE_ARREST):
            raise engine.NotAllowed(_("只有有权决定的人民检察院可以作出延长侦查羁押期限的决定（刑事诉讼法第一百五十六条、第一百五十八条、第一百五十九条）。"))
        paper = ext.decided_by_id != ext.recorded_by_id
        waiting = ExtensionStatus.REQUESTED if paper and ext.recorded_by_id == ext.received_by_id \
            else ExtensionStatus.FORWARDED
        if ext.status != waiting:
            raise ValidationError({"reason": [_("该申请尚未报送或已决定。")]})
        if paper and not paper_reference:
            raise ValidationError({"paper_reference": [
                _("%(decider)s不在本平台，请填写其纸质决定书的文号。") % {"decider": ext.decided_by_name}]})
        clock = ext.clock
        if not clock.is_active:
            raise ValidationError({"reason": [_("申请所涉的侦查羁押期限已经结束或已重新计算，该申请不再需要决定。")]})
        if timezone.localdate() > clock.due_date:
            raise ValidationError({"reason": [_("侦查羁押期限已届满，不能再作出延长的决定。")]})
        article, months, label = next(e for e in engine.CUSTODY_EXTENSIONS if e[0] == ext.article)
        now = timezone.now()
        ext.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
        ext.decided_at, ext.decider, ext.decision_reason, ext.paper_reference = now, acting_user, reason, paper_reference
        ext.number = custody._number(agency, "custody_extension", "延押" if approve else "不延押", now)
        notice = None
        if approve:
            text = (f"{label}；{ext.decided_by_name}批准（{paper_reference or ext.number}）；"
                    f"{timezone.localdate(ext.requested_at).isoformat()}向{ext.received_by.name}提请")
            clock = clocks.extend_clock(clock, months=months, decision=text[:200], acting_user=acting_user)
            ext.new_end = clock.due_date
        ext.pdf = documents.sign_and_store_form(
            documents.extension_decision_form(ext, article_text=ARTICLE_TEXT[article], months=months), agency,
            reason=f"{ext.number}", stamp=f"{agency.name} {ext.number}")
        if approve:
            notice = engine._notify_new_end(ext.person, agency=agency, reason=f"{text}；{ext.number}",
                                            acting_user=acting_user)
        ext.notice = notice
        ext.save()
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=ext, case=case,
                     details={"decision": "custody_extension" if approve else "custody_extension_refused",
                              "persons": [ext.person_id], "article": article, "number": ext.number,
                              "requested_on": timezone.localdate(ext.requested_at), "due_date": clock.due_date,
                              "received_by": ext.received_by.code,
                              "decided_by": getattr(ext.decided_by, "code", "") or ext.decided_by_name,
                              "paper_reference": paper_reference, "pdf_sha256": ext.pdf.sha256,
                              "notice": getattr(notice, "number", "")})
        title = (_("批准延长侦查羁押期限：%(name)s") if approve else _("不批准延长侦查羁押期限：%(name)s")) % {
            "name": ext.person.name}
        _tell_agencies([ext.received_by, ext.police], case, title, key=f"extension-{ext.pk}-decided")
        engine._end_of_rehearsal()
    return ext


# --- SPP Rules 2019 art. 282: 20 days for a major or complex case of a suspect not detained ----------

COMPLEX_DECISION_DAYS = 5  # 15 days → 20 (SPP Rules 2019 art. 282)


def complex_arrest_decision(person: Any, *, reason: str, acting_user: Any) -> Any:
    """重大、复杂案件 (SPP Rules 2019 art. 282): for a suspect who is not detained the procuratorate
    decides on the arrest within 15 days of receiving the request — within 20 in a major or complex
    case. The procuratorate deciding records, before the 15 days run out, that the case is major or
    complex (with its reason): this person's decision period becomes 20 days, once. Not for a detained
    suspect (art. 91(3): 7 days, no more), and nobody else's period moves."""
    from casehub.agencies.permissions import DECIDE_ARREST, has_capability
    from casehub.audit import services as audit
    from casehub.audit.services import record_event
    from casehub.cases.state import engine_writes
    from casehub.clocks import services as clocks
    from casehub.clocks.kinds import ClockKind

    engine = _engine()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明案件重大、复杂的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = engine._lock(person.case_id)
        clock = engine._person_clock(person, ClockKind.ARREST_DECISION_NOT_DETAINED)
        if clock is None:
            raise ValidationError({"reason": [_("该人员没有正在计算的审查批准逮捕期限（未被拘留）；对被拘留的犯罪嫌疑人应当在七日以内作出决定。")]})
        if agency is None or agency.pk != clock.agency_id or not has_capability(acting_user, DECIDE_ARREST):
            raise engine.NotAllowed(_("只有审查批准逮捕的人民检察院可以认定案件重大、复杂。"))
        if clock.period_days > ClockKind.ARREST_DECISION_NOT_DETAINED.period.days:
            raise ValidationError({"reason": [_("审查批准逮捕期限已延至二十日。")]})
        if timezone.localdate() > clock.due_date:
            raise ValidationError({"reason": [_("十五日的审查批准逮捕期限已届满，不能再延长。")]})
        text = _("重大、复杂案件，审查批准逮捕期限二十日（人民检察院刑事诉讼规则第二百八十二条）：%(reason)s") % {"reason": reason}
        clock = clocks.extend_clock(clock, days=COMPLEX_DECISION_DAYS, decision=text[:200], acting_user=acting_user)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=clock, case=case,
                     details={"decision": "arrest_decision_complex", "persons": [person.pk], "reason": reason,
                              "due_date": clock.due_date, "article": "人民检察院刑事诉讼规则第二百八十二条"})
    return clock
