"""Named side effects of transitions that change data inside the transition's transaction:
document numbers, generated legal documents, custody status of the persons.

Each effect takes the engine's :class:`~workflows.engine.Context`. Work that may be slow or may
fail without invalidating the transition (verification, notifications) is not here: the engine
schedules it with ``transaction.on_commit``.

The engine runs the effects twice. First in its *prepare* phase, outside any transaction
(``ctx.preparing``): only the effects :func:`prepares` names run, a number is the one the counter will
give (:func:`casehub.cases.numbering.peek_number`, nothing is taken; the second number of a series
the transition takes — one decision per person — is the one after it) and a generated
document is rendered and written to the object store but not filed. Then in the transaction,
where rendering the same document again returns the prepared bytes
(:func:`casehub.objectstore.prepared.artifact`) — unless what it is made from changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from casehub.cases.models import CaseNumber, CustodyStatus, NumberKind, PersonRole
from casehub.cases.numbering import issue_number

Effect = Callable[[Any], None]
EFFECTS: dict[str, Effect] = {}


def effect(fn: Effect) -> Effect:
    EFFECTS[fn.__name__] = fn
    return fn


def generated_titles(effects: tuple[str, ...]) -> list[Any]:
    """Titles of the documents the named effects will generate, in order (the approval page and the
    transition form name what will be generated before it exists)."""
    from workflows.documents import TITLES

    return [title for name in effects for title in TITLES.get(name, ())]


def run(ctx: Any) -> None:
    for name in ctx.spec.effects:
        if getattr(ctx, "preparing", False) and not prepares(name):
            continue
        EFFECTS[name](ctx)


def _number(ctx: Any, agency: Any, kind: str, **kw: Any) -> str:
    if getattr(ctx, "preparing", False):
        from casehub.cases.numbering import peek_number

        kw.pop("person", None)
        # Every number of the series this transition takes, not only the first: one per person.
        series = (agency.pk, kind, kw.get("type_code", ""))
        ctx.peeked[series] = ctx.peeked.get(series, -1) + 1
        number = peek_number(agency, kind, offset=ctx.peeked[series], **kw)
        ctx.peeked_numbers.append((agency.pk, number))
    else:
        number = issue_number(ctx.case, agency, kind, **kw).number
    # One decision per person (art. 90): the log lists every number of the kind it issued.
    ctx.numbers[kind] = f"{ctx.numbers[kind]}、{number}" if ctx.numbers.get(kind) else number
    return number


def _latest_number(case: Any, kind: str) -> str:
    return CaseNumber.objects.filter(case=case, kind=kind).order_by("-issued_at", "-id").values_list(
        "number", flat=True).first() or ""


@effect
def issue_arrest_decision_number(ctx: Any) -> None:
    """One 批准逮捕决定书 per approved person and one 不批准逮捕决定书 per refused person, each from its
    own series of the deciding procuratorate (art. 90; 检刑批 / 检刑不批)."""
    from workflows import persons

    approved, refused = persons.decided(ctx.spec, ctx.inputs)
    for kind, ids in ((NumberKind.ARREST_DECISION, approved), (NumberKind.ARREST_REFUSAL, refused)):
        for person in ctx.case.persons.filter(pk__in=ids).order_by("id"):
            _number(ctx, ctx.holder_before, kind, person=person)


@effect
def issue_recommendation_number(ctx: Any) -> None:
    """起诉意见书 number of the police agency (art. 162)."""
    _number(ctx, ctx.holder_before, NumberKind.PROSECUTION_RECOMMENDATION)


@effect
def issue_review_number(ctx: Any) -> None:
    """The procuratorate's acceptance number, once per procuratorate (a re-transfer keeps it)."""
    agency = ctx.holder_after
    if not CaseNumber.objects.filter(case=ctx.case, agency=agency, kind=NumberKind.PROCURATORATE_REVIEW).exists():
        _number(ctx, agency, NumberKind.PROCURATORATE_REVIEW)


@effect
def issue_indictment_number(ctx: Any) -> None:
    """起诉书 number (art. 176), e.g. 深龙检刑诉〔2026〕1号."""
    _number(ctx, ctx.holder_before, NumberKind.INDICTMENT)


@effect
def issue_non_prosecution_number(ctx: Any) -> None:
    """不起诉决定书 number (art. 177), e.g. 深龙检刑不诉〔2026〕1号."""
    _number(ctx, ctx.holder_before, NumberKind.NON_PROSECUTION)


@effect
def issue_withdrawal_number(ctx: Any) -> None:
    """撤销案件决定书 number of the police agency (art. 163; MPS Provisions art. 186), e.g.
    深龙公（刑）撤案字〔2026〕001号."""
    _number(ctx, ctx.holder_before, NumberKind.CASE_WITHDRAWAL)


@effect
def issue_termination_numbers(ctx: Any) -> None:
    """One 终止侦查决定书 number per named person (MPS Provisions art. 186(2)), in the order of the persons."""
    # The persons workflows.closing names in the decision (each gets one document).
    for person in ctx.case.persons.filter(pk__in=ctx.inputs.get("persons") or []).order_by("id"):
        _number(ctx, ctx.holder_before, NumberKind.INVESTIGATION_TERMINATION, person=person)


@effect
def issue_supplementary_return_number(ctx: Any) -> None:
    """退回补充侦查决定书 number of the procuratorate (art. 175(2)), e.g. 深龙检刑退查〔2026〕1号."""
    _number(ctx, ctx.holder_before, NumberKind.SUPPLEMENTARY_RETURN)


@effect
def issue_review_extension_number(ctx: Any) -> None:
    """延长审查起诉期限决定书 number of the procuratorate (art. 172(1)), e.g. 深龙检刑延〔2026〕1号."""
    _number(ctx, ctx.holder_before, NumberKind.REVIEW_EXTENSION)


def released_persons(ctx: Any) -> list[Any]:
    """The suspects a police closing releases from custody, each with a 释放证明书 (CPL art. 163; MPS
    Provisions art. 187(2)): the named ones of a termination, every one of a withdrawal."""
    if ctx.spec.name == "terminate_investigation":
        persons = ctx.case.persons.filter(pk__in=ctx.inputs.get("persons") or [])
    else:
        persons = ctx.case.persons.filter(termination__isnull=True)
    return list(persons.filter(role=PersonRole.SUSPECT, custody_status__in=(
        CustodyStatus.DETAINED, CustodyStatus.ARRESTED)).order_by("id"))


@effect
def issue_release_certificate_numbers(ctx: Any) -> None:
    """One 释放证明书 number per person released by a police closing, from the police agency's own
    series (MPS Provisions art. 187(2)), e.g. 深龙公（刑）释字〔2026〕001号."""
    for person in released_persons(ctx):
        _number(ctx, ctx.holder_before, NumberKind.RELEASE_CERTIFICATE, person=person)


@effect
def issue_conditional_non_prosecution_number(ctx: Any) -> None:
    """附条件不起诉决定书 number of the procuratorate (art. 282)."""
    _number(ctx, ctx.holder_before, NumberKind.CONDITIONAL_NON_PROSECUTION)


# The documents numbered by ``issue_issuer_number``: the series of the agency that issues them — the
# police asking for reconsideration or review, the procuratorate deciding, or the one above it (art. 179).
ISSUER_NUMBERED = {
    "generate_conditional_revocation": NumberKind.CONDITIONAL_REVOCATION,
    "generate_np_reconsideration_request": NumberKind.NP_RECONSIDERATION_REQUEST,
    "generate_np_reconsideration_decision": NumberKind.NP_RECONSIDERATION_DECISION,
    "generate_np_review_request": NumberKind.NP_REVIEW_REQUEST,
    "generate_np_review_decision": NumberKind.NP_REVIEW_DECISION,
}


@effect
def issue_issuer_number(ctx: Any) -> None:
    """The number of each document of :data:`ISSUER_NUMBERED` the transition generates, from the
    series of the issuing agency (CPL arts. 179, 284; MPS Provisions art. 294; SPP Rules arts. 379-380)."""
    for name in ctx.spec.effects:
        if name in ISSUER_NUMBERED:
            _number(ctx, ctx.acting_user.agency, ISSUER_NUMBERED[name])


@effect
def issue_docket_number(ctx: Any) -> None:
    """The court case number (SPC rules, in force 2016-01-01): （2026）粤0307刑初1号 (format per court)."""
    _number(ctx, ctx.holder_after, NumberKind.COURT_DOCKET, type_code=ctx.inputs.get("type_code") or "刑初")


# Effects that also run in the engine's prepare phase (numbers are only peeked at there, documents
# rendered and stored but not filed); the others change rows and run in the transaction only.
PREPARED = frozenset({
    "issue_arrest_decision_number", "issue_recommendation_number", "issue_review_number",
    "issue_indictment_number", "issue_non_prosecution_number", "issue_docket_number",
    "issue_withdrawal_number", "issue_termination_numbers", "issue_supplementary_return_number",
    "issue_conditional_non_prosecution_number", "issue_issuer_number", "issue_review_extension_number",
    "issue_release_certificate_numbers",
})


def prepares(name: str) -> bool:
    """Whether effect ``name`` runs in the prepare phase: numbers and generated documents."""
    from workflows.documents import TITLES

    return name in PREPARED or name in TITLES


def _change_measure(persons: Any, status: str, *, authority: Any, at: Any) -> None:
    """The persons' measure becomes ``status``, decided by ``authority`` at ``at`` (engine-owned state,
    written inside the transition)."""
    for person in persons:
        person.custody_status, person.measure_since, person.measure_authority = status, at, authority
        if status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED) and person.custody_since is None:
            person.custody_since = at
        person.save(update_fields=["custody_status", "measure_since", "measure_authority", "custody_since"])


@effect
def mark_suspects_arrested(ctx: Any) -> None:
    """Art. 90: the police execute an approved arrest at once; custody after arrest starts (art. 156).
    Only the persons the procuratorate approved: a co-suspect on bail or already arrested is untouched."""
    from workflows import persons

    approved, _refused = persons.decided(ctx.spec, ctx.inputs)
    chosen = ctx.case.persons.filter(pk__in=approved, role=PersonRole.SUSPECT).exclude(
        custody_status__in=[CustodyStatus.ARRESTED, CustodyStatus.RELEASED]).order_by("id")
    _change_measure(chosen, CustodyStatus.ARRESTED, authority=ctx.holder_before, at=ctx.now)


@effect
def release_refused(ctx: Any) -> None:
    """Art. 91 para. 3: a person whose arrest is not approved is released at once — or, where the
    investigation goes on and the conditions are met, put on bail or under residential surveillance
    (decided by the police). Only the refused persons who are detained: a refused suspect who was on
    bail or under residential surveillance keeps that measure and its period (art. 79) — a refusal of
    arrest lifts no measure — and nobody else's measure changes."""
    from workflows import persons

    _approved, refused = persons.decided(ctx.spec, ctx.inputs)
    status = str(ctx.inputs.get("refused_measure") or CustodyStatus.RELEASED)
    chosen = ctx.case.persons.filter(pk__in=refused, custody_status=CustodyStatus.DETAINED).order_by("id")
    _change_measure(chosen, status, authority=ctx.holder_after, at=ctx.now)


@effect
def release_detained(ctx: Any) -> None:
    """Art. 178 (non-prosecution): a detained person is released at once, and any other coercive
    measure (bail, residential surveillance) is lifted with the decision."""
    held = ctx.case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=[
        CustodyStatus.DETAINED, CustodyStatus.ARRESTED, CustodyStatus.BAIL,
        CustodyStatus.RESIDENTIAL_SURVEILLANCE]).order_by("id")
    _change_measure(held, CustodyStatus.RELEASED, authority=ctx.holder_before, at=ctx.now)


@effect
def release_on_announcement(ctx: Any) -> None:
    """CPL art. 260; SPC Interpretation art. 170: a defendant in custody is released as soon as the
    judgment is announced when acquitted, not criminally responsible or exempted from punishment;
    sentenced to public surveillance, probation or a supplementary penalty alone (even before the
    judgment takes effect); or when the time in custody up to the announcement has reached the
    sentence — computed from the custody record (:mod:`workflows.sentence`). The detention centre
    receives a signed release notice that states the ground, which ends the record."""
    from datetime import date

    from django.utils.translation import gettext as _

    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus
    from workflows.models import JudgmentDecision

    announced = ctx.inputs.get("announced_on")
    if isinstance(announced, str):
        announced = date.fromisoformat(announced)
    on = announced or ctx.now.date()
    held = [CustodyStatus.DETAINED, CustodyStatus.ARRESTED]
    for decision in (JudgmentDecision.objects.filter(case=ctx.case, person__custody_status__in=held)
                     .select_related("person").order_by("person_id")):
        ground = decision.release_ground(on)
        if not ground:
            continue
        _change_measure([decision.person], CustodyStatus.RELEASED, authority=ctx.holder_before, at=ctx.now)
        record = CustodyRecord.objects.filter(person=decision.person, status=RecordStatus.IN_CUSTODY).first()
        if record is not None:
            custody.issue_notice(record, kind=NoticeKind.RELEASE, agency=ctx.holder_before, acting_user=ctx.acting_user,
                                 reason=_("%(line)s宣判后立即释放（%(ground)s）。") % {
                                     "line": decision.main_text, "ground": ground}, at=ctx.now)


# --- generated documents ----------------------------------------------------------------------
# Built by workflows.documents (pure builders, also used by the preview pages); filed into the
# issuing agency's draft volume and PAdES-signed by it (casehub.dossier.services.add_generated_document).


def _generate(ctx: Any, name: str) -> None:
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Category
    from workflows import documents

    for draft in documents.build(ctx, name):
        if getattr(ctx, "preparing", False):
            # Not filed yet: the prepare phase signs it (as filing will) and binds it into the
            # volume it will be sealed in.
            signed = dossier.issued_pdf(draft.pdf, agency=ctx.acting_user.agency, title=draft.title)
            ctx.prepared_documents.append(dossier.describe_generated_pdf(signed, title=draft.title,
                                                                          category=Category.PROCEDURAL))
            continue
        ctx.documents.append(dossier.add_generated_document(
            case=ctx.case, acting_user=ctx.acting_user, title=draft.title, category=Category.PROCEDURAL,
            pdf_bytes=draft.pdf,
        ))


@effect
def generate_arrest_request(ctx: Any) -> None:
    """提请批准逮捕书 (art. 87)."""
    _generate(ctx, "generate_arrest_request")


@effect
def generate_arrest_approval(ctx: Any) -> None:
    """批准逮捕决定书 (art. 90), per person."""
    _generate(ctx, "generate_arrest_approval")


@effect
def generate_arrest_refusal(ctx: Any) -> None:
    """不批准逮捕决定书 (art. 90), per person."""
    _generate(ctx, "generate_arrest_refusal")


@effect
def generate_prosecution_recommendation(ctx: Any) -> None:
    """起诉意见书 (art. 162)."""
    _generate(ctx, "generate_prosecution_recommendation")


@effect
def generate_supplementary_return(ctx: Any) -> None:
    """退回补充侦查决定书 and 补充侦查提纲 (art. 175(2))."""
    _generate(ctx, "generate_supplementary_return")


@effect
def generate_review_extension(ctx: Any) -> None:
    """延长审查起诉期限决定书 (art. 172)."""
    _generate(ctx, "generate_review_extension")


@effect
def generate_judgment(ctx: Any) -> None:
    """刑事判决书 (arts. 200-203), signed by the court; the delivery packages carry it (art. 202)."""
    _generate(ctx, "generate_judgment")


@effect
def generate_indictment(ctx: Any) -> None:
    """起诉书 (art. 176)."""
    _generate(ctx, "generate_indictment")


@effect
def generate_non_prosecution_decision(ctx: Any) -> None:
    """不起诉决定书 (arts. 177-181)."""
    _generate(ctx, "generate_non_prosecution_decision")


@effect
def grant_higher_court(ctx: Any) -> None:
    """Art. 208: the next-higher court decides on the extension the trial court requests; it reads
    the case to decide (no right to act on it)."""
    from casehub.cases import access

    higher = ctx.holder_before.parent
    if higher is not None:
        access.grant(ctx.case, higher, act=False)


@effect
def grant_same_level_procuratorate(ctx: Any) -> None:
    """Art. 235: the second-instance court sends the file to the procuratorate of its own level to read
    (the city procuratorate for the intermediate court); it reads, it does not act."""
    from casehub.agencies.models import Agency, AgencyKind
    from casehub.cases import access

    for agency in Agency.objects.filter(kind=AgencyKind.PROCURATORATE, region=ctx.holder_before.region)[:1]:
        access.grant(ctx.case, agency, act=False)


@effect
def set_retrial_procedure(ctx: Any) -> None:
    """Art. 241; SPC Interpretation art. 377: the remanded case is tried again under the first-instance
    procedure it had — a 速裁 case under the ordinary procedure. Written into the transition's inputs,
    so the log records it and the trial period opens for it."""
    from workflows import appeal

    ctx.inputs["procedure"] = appeal.retrial_procedure(ctx.case)


@effect
def end_custody_for_execution(ctx: Any) -> None:
    """Art. 264: the executing authority took the convicts over; their custody records end."""
    from workflows import appeal

    appeal.end_custody_for_execution(ctx)
