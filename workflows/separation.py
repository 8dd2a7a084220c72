"""Separate handling (分案处理 / 另案处理) and joining (并案) of cases — engine entry points.

A case and its holder, stage and persons are engine-owned state (:mod:`casehub.cases.state`), so
splitting and joining live under ``workflows/`` and follow the engine's conventions: the case rows
are locked (``select_for_update``, lowest id first when there are two), the writes run inside
:func:`~casehub.cases.state.engine_writes` in one transaction, the audit events are collected with
:func:`casehub.audit.services.deferred`, every case touched gets a transition-log row (shown in its
history) and its version moves on.

**Split** (:func:`split_case`): the holder agency moves chosen suspects into a new case — same
holder, stage, offences and officers, a new number of the holder (立案/受理/案号 series). Each
person's custody follows the person: custody record, certificates, notices and the person's own
clocks are re-attached, never restarted; the stage clocks that run for the case (review, trial…)
are copied to the new case with the same start and due date, so no period restarts (CPL art. 105
counts from the original event) — only art. 105(4) is decided again for each case, by whether any
of *its* persons is in custody (a case left with no detainee may end its period after a holiday). The documents marked as concerning a moved person
(:attr:`casehub.dossier.models.Document.concerns`) go with them: a document concerning only moved
persons and not yet bound into a volume is moved; one that also concerns a person who stays, or
one already bound into a volume (sent, signed), is copied (same stored file). Every agency that
could see the original case can see the new one.

**Join** (:func:`join_cases`): two cases held by the same agency at the same stage become one;
the absorbed case's persons (with custody and clocks), documents (moved or copied as above) and
readers go to the kept case; the absorbed case's own stage clocks stop (the kept case's run on)
and it is closed as 并案.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.models import AgencyKind
from casehub.agencies.permissions import PREPARE_OUTGOING, has_capability
from casehub.audit import services as audit
from casehub.audit.services import record_event
from casehub.cases.models import Case, CaseGroupObjectPermission, CaseStatus, NumberKind, Person, PersonRole
from casehub.cases.numbering import issue_number
from casehub.cases.state import engine_writes
from workflows import definition as d
from workflows.models import ApprovalRequest, ApprovalStatus, TransitionLog

SPLIT = "split_case"
JOIN = "join_cases"


@dataclass(frozen=True)
class SeparationSpec:
    name: str
    label: Any
    capability: str
    article: str


SPECS: dict[str, SeparationSpec] = {
    SPLIT: SeparationSpec(SPLIT, gettext_lazy("分案处理"), PREPARE_OUTGOING,
                          "公安机关办理刑事案件程序规定；人民检察院刑事诉讼规则（分案、另案处理）"),
    JOIN: SeparationSpec(JOIN, gettext_lazy("并案处理"), PREPARE_OUTGOING,
                         "公安机关办理刑事案件程序规定；人民检察院刑事诉讼规则（并案处理）"),
}

# The number the holder gives a new case: its own series for the stage it is in.
NEW_CASE_NUMBER = {
    AgencyKind.POLICE: (NumberKind.POLICE_FILING, {}),
    AgencyKind.PROCURATORATE: (NumberKind.PROCURATORATE_REVIEW, {}),
    AgencyKind.COURT: (NumberKind.COURT_DOCKET, {"type_code": "刑初"}),
}


def label(name: str) -> str:
    return str(SPECS[name].label)


def _lock(*cases: Case) -> list[Case]:
    """Lock the case rows, lowest id first (two joins of the same pair never deadlock)."""
    ids = sorted({c.pk for c in cases})
    locked = {pk: Case.objects.select_for_update().get(pk=pk) for pk in ids}
    return [locked[c.pk] for c in cases]


def _check_holder(case: Case, acting_user: Any) -> None:
    agency = getattr(acting_user, "agency", None)
    if agency is None or agency.pk != case.holder_agency_id:
        raise PermissionDenied(_("只有本案的承办机关可以分案或并案。"))
    if case.status == CaseStatus.CLOSED or case.stage not in d.STAGES or d.STAGES[case.stage].final:
        raise ValidationError(_("案件已结案，不能分案或并案。"))
    if d.STAGES[case.stage].pending:
        raise ValidationError(_("案件正在移送、待对方接收，不能分案或并案。"))
    if ApprovalRequest.objects.filter(case=case, status=ApprovalStatus.PENDING).exists():
        raise ValidationError(_("案件有待审批事项，不能分案或并案。"))


def _check_user(acting_user: Any, name: str) -> None:
    if not has_capability(acting_user, SPECS[name].capability):
        raise PermissionDenied(_("您的角色不能分案或并案。"))


def _log(case: Case, name: str, *, source: str, target: str, acting_user: Any, reason: str,
         inputs: dict[str, Any], now: Any) -> TransitionLog:
    from casehub.metrics import handlers as stays

    log = TransitionLog.objects.create(
        case=case, transition=name, source=source, target=target, actor=acting_user,
        actor_agency=acting_user.agency, from_agency=case.holder_agency, to_agency=case.holder_agency,
        case_version=case.version, occurred_at=now, reason=reason, inputs=inputs,
    )
    stays.record(log)
    return log


def _share_readers(source: Case, target: Case) -> None:
    """Every agency group that may see (or act on) ``source`` gets the same on ``target``."""
    for perm in CaseGroupObjectPermission.objects.filter(content_object=source):
        CaseGroupObjectPermission.objects.get_or_create(content_object=target, group_id=perm.group_id,
                                                        permission_id=perm.permission_id)


def _move_persons(persons: list[Person], target: Case) -> dict[str, int]:
    """Re-attach the persons and everything that follows a person to ``target`` (one save per row,
    so the dashboard's rollups stay in step)."""
    from casehub.clocks.models import Clock
    from casehub.custody.models import CustodyCertificate, CustodyNotice, CustodyRecord

    ids = [p.pk for p in persons]
    moved = {"clocks": 0, "custody_records": 0, "certificates": 0, "notices": 0}
    Person.objects.filter(pk__in=ids).update(case=target)
    for model, key in ((CustodyRecord, "custody_records"), (CustodyCertificate, "certificates"),
                       (CustodyNotice, "notices"), (Clock, "clocks")):
        for row in model.objects.select_for_update().filter(person_id__in=ids).order_by("id"):
            row.case = target
            row.save(update_fields=["case"])
            moved[key] += 1
    for person in persons:
        person.case = target
    return moved


def _copy_stage_clocks(source: Case, target: Case) -> list[int]:
    """The case's running stage clocks (person empty) run on for the new case: same start, period,
    pauses and due date — a split restarts no period."""
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    copied = []
    for clock in Clock.objects.filter(case=source, person__isnull=True, status__in=ACTIVE_STATUSES).order_by("id"):
        copy = Clock.objects.create(
            case=target, kind=clock.kind, agency_id=clock.agency_id, person=None, started_at=clock.started_at,
            period_months=clock.period_months, period_days=clock.period_days, paused_days=clock.paused_days,
            due_date=clock.due_date, provisional=clock.provisional, custody=clock.custody,
            decision=clock.decision, paused_at=clock.paused_at, extended_by=clock.extended_by,
            status=clock.status, overdue_since=clock.overdue_since,
        )
        copied.append(copy.pk)
    return copied


def _recount_custody(*cases: Case, acting_user: Any) -> None:
    """Art. 105(4) per case: a stage period ends on its last day, holiday or not, while any suspect or
    defendant *of that case* is held. Moving persons changes who that is — the case left with no one
    in custody may move its period past a holiday again, the case that gained a detainee may not."""
    from casehub.clocks.services import refresh_custody

    for case in cases:
        refresh_custody(case, acting_user=acting_user)


def _carry_documents(source: Case, target: Case, *, person_ids: set[int] | None, acting_user: Any,
                     staying_ids: set[int]) -> dict[str, list[int]]:
    """Documents of ``source`` that go to ``target``: those marked as concerning one of
    ``person_ids`` (all current documents when ``person_ids`` is None). Moved when nothing ties
    them to ``source`` (not in a sealed volume, no earlier version, no person who stays); otherwise
    copied (same stored file), so what was sent stays as it was sent."""
    from casehub.dossier.models import Document, VolumeStatus
    from casehub.dossier.services import carry_document

    docs = (Document.objects.filter(case=source, is_current=True).select_related("volume", "volume__agency")
            .prefetch_related("concerns").order_by("id"))
    if person_ids is not None:
        docs = docs.filter(concerns__in=person_ids).distinct()
    out: dict[str, list[int]] = {"moved": [], "copied": []}
    for doc in docs:
        concerns = [p for p in doc.concerns.all()]
        unbound = doc.volume_id is None or doc.volume.status == VolumeStatus.DRAFT
        if unbound and doc.supersedes_id is None and not ({p.pk for p in concerns} & staying_ids):
            carry_document(doc, target, copy=False, acting_user=acting_user)
            out["moved"].append(doc.pk)
        else:
            original = doc.pk
            carry_document(doc, target, copy=True, acting_user=acting_user,
                           concerns=[p for p in concerns if p.pk not in staying_ids])
            out["copied"].append(original)
    return out


def split_case(case: Case, *, persons: Iterable[Person | int], acting_user: Any, reason: str,
               title: str = "") -> Case:
    """分案处理: move ``persons`` (suspects of ``case``) into a new case held by the same agency."""
    _check_user(acting_user, SPLIT)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请说明分案处理的理由。")]})
    wanted = {p.pk if isinstance(p, Person) else int(p) for p in persons}
    if not wanted:
        raise ValidationError({"persons": [_("请选择分案处理的人员。")]})
    now = timezone.now()
    with engine_writes(), transaction.atomic(), audit.deferred():
        (case,) = _lock(case)
        _check_holder(case, acting_user)
        chosen = list(case.persons.filter(pk__in=wanted).order_by("id"))
        if len(chosen) != len(wanted) or any(p.role != PersonRole.SUSPECT for p in chosen):
            raise ValidationError({"persons": [_("只能选择本案的犯罪嫌疑人、被告人。")]})
        staying = list(case.persons.filter(role=PersonRole.SUSPECT).exclude(pk__in=wanted))
        if not staying:
            raise ValidationError({"persons": [_("分案后原案至少要保留一名犯罪嫌疑人、被告人。")]})
        names = "、".join(p.name for p in chosen)
        agency = case.holder_agency
        new = Case.objects.create(
            title=(title or "").strip()[:200] or _("%(title)s（%(names)s另案处理）") % {"title": case.title,
                                                                                   "names": names},
            summary=case.summary, occurred_on=case.occurred_on, occurred_place=case.occurred_place,
            origin_agency_id=case.origin_agency_id, holder_agency=agency, stage=case.stage, created_by=acting_user,
        )
        new.offences.set(list(case.offences.all()))
        new.handling_officers.set(list(case.handling_officers.all()))
        kind, extra = NEW_CASE_NUMBER.get(agency.kind, (NumberKind.POLICE_FILING, {}))
        number = issue_number(new, agency, kind, **extra)
        _share_readers(case, new)
        moved = _move_persons(chosen, new)
        clocks = _copy_stage_clocks(case, new)
        _recount_custody(case, new, acting_user=acting_user)
        documents = _carry_documents(case, new, person_ids=wanted, acting_user=acting_user,
                                     staying_ids={p.pk for p in staying})
        details = {"from_case": case.pk, "new_case": new.pk, "number": number.number,
                   "persons": sorted(wanted), "stage_clocks_copied": clocks, **moved,
                   "documents_moved": documents["moved"], "documents_copied": documents["copied"]}
        _log(case, SPLIT, source=case.stage, target=case.stage, acting_user=acting_user, reason=reason,
             inputs=details, now=now)
        _log(new, SPLIT, source="", target=new.stage, acting_user=acting_user, reason=reason, inputs=details, now=now)
        for c in (case, new):
            c.version += 1
            c.save(update_fields=["version", "updated_at"])
        record_event("case.split", actor=acting_user, agency=agency, obj=case, case=case,
                     details={**details, "reason": reason, "article": SPECS[SPLIT].article})
        record_event("case.split", actor=acting_user, agency=agency, obj=new, case=new,
                     details={**details, "reason": reason, "article": SPECS[SPLIT].article})
    return new


def join_cases(kept: Case, absorbed: Case, *, acting_user: Any, reason: str) -> Case:
    """并案处理: ``absorbed`` (same holder, same stage) is joined into ``kept`` and closed."""
    from casehub.clocks.services import stop_clocks

    _check_user(acting_user, JOIN)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请说明并案处理的理由。")]})
    if kept.pk == absorbed.pk:
        raise ValidationError({"case": [_("不能与本案自身并案。")]})
    now = timezone.now()
    with engine_writes(), transaction.atomic(), audit.deferred():
        kept, absorbed = _lock(kept, absorbed)
        _check_holder(kept, acting_user)
        _check_holder(absorbed, acting_user)
        if kept.stage != absorbed.stage:
            raise ValidationError({"case": [_("只能合并处于同一诉讼阶段的案件。")]})
        persons = list(absorbed.persons.order_by("id"))
        staying = set(kept.persons.values_list("pk", flat=True))
        documents = _carry_documents(absorbed, kept, person_ids=None, acting_user=acting_user, staying_ids=set())
        moved = _move_persons(persons, kept)
        stopped = stop_clocks(absorbed, at=now, acting_user=acting_user, reason=_("并案处理"))
        _recount_custody(kept, acting_user=acting_user)
        _share_readers(absorbed, kept)
        source = absorbed.stage
        details = {"kept_case": kept.pk, "absorbed_case": absorbed.pk, "persons": [p.pk for p in persons],
                   "kept_persons": sorted(staying), "stage_clocks_stopped": [c.pk for c in stopped], **moved,
                   "documents_moved": documents["moved"], "documents_copied": documents["copied"]}
        absorbed.stage, absorbed.status = d.Stage.CLOSED, CaseStatus.CLOSED
        _log(absorbed, JOIN, source=source, target=d.Stage.CLOSED, acting_user=acting_user, reason=reason,
             inputs=details, now=now)
        _log(kept, JOIN, source=kept.stage, target=kept.stage, acting_user=acting_user, reason=reason,
             inputs=details, now=now)
        absorbed.version += 1
        absorbed.save(update_fields=["stage", "status", "version", "updated_at"])
        kept.version += 1
        kept.save(update_fields=["version", "updated_at"])
        for c in (kept, absorbed):
            record_event("case.joined", actor=acting_user, agency=kept.holder_agency, obj=c, case=c,
                         details={**details, "reason": reason, "article": SPECS[JOIN].article})
    return kept
