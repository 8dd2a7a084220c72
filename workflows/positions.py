"""Each person's procedural position (诉讼阶段), read from what the engine recorded for them.

The law decides per person: one suspect's investigation is terminated (终止侦查) while the case
goes on against the others, the judgment names an outcome per defendant, a plea (认罪认罚) is a
person's own. The case's stage says where the case is; a person's position says where *that
person* stands, and is the case's stage unless something the engine recorded for the person alone
says otherwise. Nothing here is stored: a position is derived from the engine's own rows
(terminations, pleas, judgment decisions, the transition log), so it can never disagree with them.

The case page shows it beside each person's measure, and the API returns it with each person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from workflows import appeal, closing, nonprosecution
from workflows.definition import BY_NAME, STAGES, Stage
from workflows.models import InvestigationTermination, JudgmentDecision, PleaRecord, TransitionLog

# Before the indictment reaches the court the person is a suspect (犯罪嫌疑人), from then on a
# defendant (被告人): CPL art. 176 and the court stages.
COURT_STAGES = frozenset({
    Stage.COURT_FILING, Stage.TRIAL, Stage.TRIAL_SUSPENDED, Stage.TRIAL_SUPPLEMENTARY, Stage.JUDGMENT_DELIVERY,
    Stage.APPEAL_PERIOD, Stage.APPEAL_FILED, Stage.SECOND_INSTANCE, Stage.FILE_REVIEW, Stage.EXECUTION,
    Stage.EXECUTION_SENT,
})
# Stages at which an announced judgment has not yet taken effect (an appeal or protest may follow
# or is being heard, CPL arts. 230, 233).
NOT_YET_EFFECTIVE = frozenset({
    Stage.JUDGMENT_DELIVERY, Stage.APPEAL_PERIOD, Stage.APPEAL_FILED, Stage.SECOND_INSTANCE, Stage.FILE_REVIEW,
})
EXECUTION_STAGES = frozenset({Stage.EXECUTION, Stage.EXECUTION_SENT})
# The executing authority's acceptance of the hand-over (art. 264) closes the case.
EXECUTED = ("accept_execution", "accept_execution_detention", "accept_execution_correction")


@dataclass(frozen=True)
class Position:
    """Where one person stands. ``code`` is stable (API, tests); ``label`` is for people."""

    code: str
    label: str
    detail: str = ""
    since: datetime | None = None
    plea: bool = False
    plea_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "label": self.label, "detail": self.detail, "since": self.since,
                "plea": self.plea, "plea_detail": self.plea_detail}


def _closing_log(case: Any) -> TransitionLog | None:
    """The transition that closed the case (not the later ones fired on a closed case, such as a
    request to reconsider a non-prosecution)."""
    return (TransitionLog.objects.filter(case=case, target=Stage.CLOSED).exclude(source=Stage.CLOSED)
            .order_by("-occurred_at", "-id").first())


def _plea_detail(plea: PleaRecord) -> tuple[bool, str]:
    if plea.recorded_at is None and plea.police_recorded_at is None:
        return False, ""
    if plea.withdrawn_at is not None:  # withdrawn before the indictment (workflows.plea.withdraw_pleas)
        return False, _("已撤回认罪认罚")
    if plea.recorded_at is None:
        return True, _("侦查阶段认罪认罚")
    if plea.statement_id:
        return True, _("已签署认罪认罚具结书")
    if plea.exemption:
        return True, _("无需签署具结书（%(ground)s）") % {"ground": plea.get_exemption_display()}
    return True, _("认罪认罚")


def _judged(decision: JudgmentDecision, stage: str, closed_by: str) -> tuple[str, str]:
    outcome = decision.get_outcome_display()
    if stage in NOT_YET_EFFECTIVE:
        return "judged", _("一审判决（尚未生效）：%(outcome)s") % {"outcome": outcome}
    if stage in EXECUTION_STAGES:
        return "judgment_effective", _("判决已生效，交付执行中：%(outcome)s") % {"outcome": outcome}
    if closed_by in EXECUTED:
        return "executed", _("已交付执行：%(outcome)s") % {"outcome": outcome}
    return "judgment_effective", _("判决已生效：%(outcome)s") % {"outcome": outcome}


def _in_stage(person: Any, case: Any) -> tuple[str, str]:
    role = _("被告人") if case.stage in COURT_STAGES else _("犯罪嫌疑人")
    spec = STAGES.get(case.stage)
    return case.stage, f"{role} · {spec.label if spec else case.stage}"


def positions(case: Any) -> dict[int, Position]:
    """Every suspect's position in ``case``, by person id (victims have none). A handful of
    queries however many persons the case has."""
    from casehub.cases.models import PersonRole

    suspects = list(case.persons.filter(role=PersonRole.SUSPECT).order_by("pk"))
    if not suspects:
        return {}
    terminations = {t.person_id: t for t in InvestigationTermination.objects.filter(case=case)}
    decisions = {j.person_id: j for j in JudgmentDecision.objects.filter(case=case).select_related("person")}
    pleas = {pl.person_id: pl for pl in PleaRecord.objects.filter(case=case)}
    closed = _closing_log(case) if case.stage == Stage.CLOSED else None
    closed_by = closed.transition if closed is not None else ""
    announced = TransitionLog.objects.filter(case=case, transition="announce_judgment").exists()
    apart = appeal.separately_executed(case) if announced else set()  # split off at the second instance
    result: dict[int, Position] = {}
    for person in suspects:
        plea, plea_detail = _plea_detail(pleas[person.pk]) if person.pk in pleas else (False, "")
        since = closed.occurred_at if closed is not None else None
        detail = ""
        termination = terminations.get(person.pk)
        if termination is not None:
            code, label, since = "terminated", _("已终止侦查"), termination.decided_at
            detail = str(closing.GROUNDS.get(termination.ground, termination.ground))
        elif person.pk in decisions and person.pk in apart:
            code, label = "executed", _("已交付执行：%(outcome)s") % {"outcome": decisions[person.pk].get_outcome_display()}
            detail = decisions[person.pk].main_text
        elif person.pk in decisions and announced:
            code, label = _judged(decisions[person.pk], case.stage, closed_by)
            detail = decisions[person.pk].main_text
        elif closed_by in nonprosecution.CLOSINGS:
            code, label = "non_prosecuted", _("不起诉")
            detail = str(nonprosecution.KIND_LABELS.get(
                nonprosecution.kind_of(BY_NAME[closed_by], closed.inputs or {}), ""))
        elif closed_by == "withdraw_case":
            code, label = "case_withdrawn", _("已撤销案件")
            detail = str(closing.GROUNDS.get(str((closed.inputs or {}).get("ground")), ""))
        elif case.stage == Stage.CONDITIONAL_NON_PROSECUTION:
            code, label = "conditional_non_prosecution", _("附条件不起诉考验期")
        elif case.stage == Stage.CLOSED:
            code, label = "closed", _("已结案")
        else:
            code, label = _in_stage(person, case)
            since = None
        result[person.pk] = Position(code, label, detail, since, plea, plea_detail)
    return result
