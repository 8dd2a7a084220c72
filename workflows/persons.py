"""The persons a transition concerns: the unit of arrest, custody and their clocks is the person.

A ``persons`` input (:class:`workflows.definition.InputSpec` with ``type="persons"``) names persons
of the case by id. Its ``select`` says who may be named; left empty it means the selection's default.
:func:`resolve` turns the defaults into explicit lists under the case lock, so the approval request,
the guards, the effects, the clocks and the transition log all see the same persons.

| select | who may be named | default |
| --- | --- | --- |
| ``arrest_candidates`` | suspects not arrested and not released (CPL arts. 80, 87) | the detained ones; if none is detained, all of them |
| ``arrest_pending`` | the persons named in the pending arrest request (art. 90: a decision per person) | those of them not named by the transition's other ``persons`` inputs |
| ``suspects`` | any suspect of the case (a plea, a termination of investigation: per person) | all of them |
| ``on_measure`` | suspects on bail or under residential surveillance (art. 79: the holder decides anew) | all of them |
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from casehub.cases.models import Case, CustodyStatus, Person, PersonRole

ARREST_REQUEST = "request_arrest"
NOT_CANDIDATES = (CustodyStatus.ARRESTED, CustodyStatus.RELEASED)
ON_MEASURE = (CustodyStatus.BAIL, CustodyStatus.RESIDENTIAL_SURVEILLANCE)


def arrest_candidates(case: Case) -> list[Person]:
    """Suspects the police may ask the procuratorate to arrest (art. 87): not already arrested."""
    return list(case.persons.filter(role=PersonRole.SUSPECT).exclude(custody_status__in=NOT_CANDIDATES)
                .order_by("id"))


def pending_arrest_request(case: Case) -> list[int]:
    """Ids of the persons named in the arrest request the procuratorate has not decided yet.

    The transition log is the evidence: the last ``request_arrest`` names them (a request logged
    before persons were named concerned every candidate of its day)."""
    from workflows.models import TransitionLog

    log = (TransitionLog.objects.filter(case=case, transition=ARREST_REQUEST)
           .order_by("-occurred_at", "-id").first())
    if log is None:
        return []
    named = log.inputs.get("persons")
    if named is None:
        return [p.pk for p in arrest_candidates(case)]
    return [int(pk) for pk in named]


def _default(case: Case, select: str, taken: set[int]) -> list[int]:
    if select == "arrest_candidates":
        candidates = arrest_candidates(case)
        detained = [p.pk for p in candidates if p.custody_status == CustodyStatus.DETAINED]
        return detained or [p.pk for p in candidates]
    if select == "arrest_pending":
        return [pk for pk in pending_arrest_request(case) if pk not in taken]
    if select == "suspects":
        return [p.pk for p in case.persons.filter(role=PersonRole.SUSPECT).order_by("id")]
    if select == "on_measure":
        return [p.pk for p in case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=ON_MEASURE)
                .order_by("id")]
    if select == "defendants":  # an appeal or a protest names its defendants: no default
        return []
    raise ValueError(f"unknown persons selection {select!r}")


def resolve(case: Case, spec: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` with every ``persons`` input of ``spec`` explicit (a sorted list of ids).

    Inputs given stay as given (the guards check them); the first input of a selection, left empty,
    takes the selection's default (minus the persons the other inputs name); a later one left empty
    is an empty list."""
    resolved = dict(inputs)
    person_inputs = [i for i in spec.inputs if i.type == "persons"]
    given: set[int] = set()
    for inp in person_inputs:
        if resolved.get(inp.name) is not None:
            resolved[inp.name] = sorted({int(pk) for pk in resolved[inp.name]})
            given |= set(resolved[inp.name])
    seen: set[str] = set()
    for inp in person_inputs:
        first = inp.select not in seen
        seen.add(inp.select)
        if resolved.get(inp.name) is None:
            # Only the first input of a selection has a default (e.g. "approved: the rest"); a later
            # one left empty names nobody — a refusal is never implied.
            resolved[inp.name] = sorted(_default(case, inp.select, given)) if first else []
            given |= set(resolved[inp.name])
    return resolved


def named(case: Case, inputs: dict[str, Any], source: str) -> list[Person]:
    """The persons a clock operation or an effect concerns: an input's list, or ``@arrest_request``."""
    if source == "@arrest_request":
        ids = pending_arrest_request(case)
    elif source == "@on_measure":
        ids = list(case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=ON_MEASURE)
                   .values_list("pk", flat=True))
    elif source == "@defendants":
        # Not a defendant split off at the second instance and executed on his own: his judgment took
        # effect (art. 233(2); SPC Interpretation art. 390) — a retrial after a remand is not about him.
        from workflows.appeal import separately_executed

        ids = list(case.persons.filter(role=PersonRole.SUSPECT).exclude(pk__in=separately_executed(case))
                   .values_list("pk", flat=True))
    else:
        ids = inputs.get(source) or []
    return list(case.persons.filter(pk__in=ids).order_by("id"))


def decided(spec: Any, inputs: dict[str, Any]) -> tuple[list[int], list[int]]:
    """(approved, refused) person ids of an arrest decision (``spec.extra`` names the inputs)."""
    approved = inputs.get(spec.extra.get("approved", ""), []) if spec.extra.get("approved") else []
    refused = inputs.get(spec.extra.get("refused", ""), []) if spec.extra.get("refused") else []
    return list(approved or []), list(refused or [])


# --- checks (the guards of workflows.guards call these) ---------------------------------------


def requestable_problem(case: Case, spec: Any, inputs: dict[str, Any]) -> str | None:
    """Art. 87: each person named in an arrest request is a suspect of the case not yet arrested."""
    ids = resolve(case, spec, inputs).get("persons") or []
    if not ids:
        return _("请选择提请批准逮捕的犯罪嫌疑人。")
    allowed = {p.pk for p in arrest_candidates(case)}
    wrong = [pk for pk in ids if pk not in allowed]
    if wrong:
        return _("所选人员不是本案可提请批准逮捕的犯罪嫌疑人（已逮捕、已释放或不属于本案）。")
    return None


def decision_problem(case: Case, spec: Any, inputs: dict[str, Any]) -> str | None:
    """Art. 90: the procuratorate decides on every person of the request, each either approved or
    not approved — nobody twice, nobody who was not requested."""
    pending = set(pending_arrest_request(case))
    approved, refused = decided(spec, resolve(case, spec, inputs))
    if set(approved) & set(refused):
        return _("同一人员不能既批准逮捕又不批准逮捕。")
    if not (set(approved) | set(refused)) <= pending:
        return _("只能对提请批准逮捕的人员作出决定。")
    undecided = pending - set(approved) - set(refused)
    if undecided:
        names = "、".join(case.persons.filter(pk__in=undecided).order_by("id").values_list("name", flat=True))
        return _("提请批准逮捕的每一名犯罪嫌疑人都须作出决定，尚未决定：%(names)s。") % {"names": names}
    return None
