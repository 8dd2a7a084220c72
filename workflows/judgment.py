"""Recording the trial court's decision per defendant before the judgment is announced.

The judge records, for each defendant, guilty with the sentence and its kind, exemption from
punishment or acquittal (CPL arts. 200-201). Whether the time in custody has already reached the
sentence (SPC Interpretation art. 170(3)) is not recorded: it is computed from the custody record at
the announcement (:mod:`workflows.sentence`). The ``announce_judgment`` transition then needs a
decision for every defendant (guard ``judgment_recorded``) and generates the signed 刑事判决书 from
them (:mod:`workflows.documents`), which the ``deliver_judgment`` packages carry (art. 202).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.models import AgencyKind
from casehub.audit.services import record_event
from casehub.cases.models import Case, PersonRole
from workflows.definition import Stage
from workflows.models import JudgmentDecision, Outcome, Penalty


def may_record(user: Any, case: Case) -> bool:
    """The trial court holding the case, by a user who may deliver judgments, during the trial."""
    return (
        user is not None and getattr(user, "agency_id", None) is not None and case.stage == Stage.TRIAL
        and user.agency.kind == AgencyKind.COURT and user.agency_id == case.holder_agency_id
        and p.has_capability(user, p.DELIVER_JUDGMENT)
    )


def record_decision(case: Case, person: Any, *, outcome: str, acting_user: Any, charge: str = "", penalty: str = "",
                    term: str = "", probation: bool = False, outside_prison: bool = False) -> JudgmentDecision:
    """Record (or correct, until announcement) the decision for ``person``."""
    if not may_record(acting_user, case):
        raise PermissionDenied(_("只有审理本案的人民法院可以在宣判前记录判决结果。"))
    if person.case_id != case.pk or person.role != PersonRole.SUSPECT:
        raise ValidationError(_("只能对本案被告人记录判决结果。"))
    charge, term = (charge or "").strip(), (term or "").strip()
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": _("判决结果无效。")})
    if outcome == Outcome.GUILTY:
        if penalty not in Penalty.values:
            raise ValidationError({"penalty": _("有罪判决须写明主刑。")})
        if penalty not in (Penalty.DEATH, Penalty.LIFE) and not term:
            raise ValidationError({"term": _("请填写刑期或罚金数额。")})
        if probation and penalty not in (Penalty.FIXED_TERM, Penalty.CRIMINAL_DETENTION):
            raise ValidationError({"probation": _("缓刑只适用于被判处拘役、三年以下有期徒刑的犯罪分子（刑法第七十二条）。")})
        if outside_prison and (probation or penalty not in (Penalty.FIXED_TERM, Penalty.CRIMINAL_DETENTION,
                                                              Penalty.LIFE)):
            raise ValidationError({"outside_prison": _(
                "暂予监外执行只适用于被判处有期徒刑、拘役（怀孕或者正在哺乳自己婴儿的妇女也可以是无期徒刑）且未宣告缓刑的罪犯"
                "（刑事诉讼法第二百六十五条）。")})
    else:
        penalty, term, probation, outside_prison = "", "", False, False
    if outcome != Outcome.ACQUITTED and not charge:
        raise ValidationError({"charge": _("请填写罪名。")})
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=case.pk)
        decision, _created = JudgmentDecision.objects.update_or_create(
            person=person, defaults={"case": case, "outcome": outcome, "charge": charge, "penalty": penalty,
                                     "term": term, "probation": bool(probation),
                                     "outside_prison": bool(outside_prison),
                                     "recorded_by": acting_user, "recorded_at": timezone.now()})
        record_event("judgment.decision_recorded", actor=acting_user, obj=decision, case=case,
                     details={"person": person.pk, "outcome": outcome, "charge": charge, "penalty": penalty,
                              "term": term, "probation": bool(probation),
                              "outside_prison": bool(outside_prison)})
    return decision
