"""Investigation custody after arrest: who approves each extension, the recount of art. 160 and the
time art. 149 excludes — per person, each a recorded decision that notifies the detention centre.

- **Extensions** (arts. 156, 158, 159, in that order; :func:`workflows.engine.extend_investigation_custody`):
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
from datetime import date, datetime, time
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
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=person, case=case,
                     details={"decision": "assessment_started" if start else "assessment_ended",
                              "persons": [person.pk], "clocks": [c.pk for c in changed], "reason": reason,
                              "notice": getattr(notice, "number", ""), "article": "刑事诉讼法第一百四十九条"})
        engine._end_of_rehearsal()
    return changed
