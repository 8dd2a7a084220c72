"""Named side effects of transitions that change data inside the transition's transaction:
document numbers, generated legal documents, custody status of the persons.

Each effect takes the engine's :class:`~workflows.engine.Context`. Work that may be slow or may
fail without invalidating the transition (verification, notifications) is not here: the engine
schedules it with ``transaction.on_commit``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import CaseNumber, CustodyStatus, NumberKind, PersonRole
from casehub.cases.numbering import issue_number

Effect = Callable[[Any], None]
EFFECTS: dict[str, Effect] = {}


def effect(fn: Effect) -> Effect:
    EFFECTS[fn.__name__] = fn
    return fn


# The legal document each generating effect adds to the dossier: the approval page and the
# transition form name what will be generated before it exists.
GENERATED_TITLES: dict[str, Any] = {
    "generate_prosecution_recommendation": gettext_lazy("起诉意见书"),
    "generate_indictment": gettext_lazy("起诉书"),
    "generate_non_prosecution_decision": gettext_lazy("不起诉决定书"),
}


def generated_titles(effects: tuple[str, ...]) -> list[Any]:
    """Titles of the documents the named effects will generate, in order."""
    return [GENERATED_TITLES[name] for name in effects if name in GENERATED_TITLES]


def run(ctx: Any) -> None:
    for name in ctx.spec.effects:
        EFFECTS[name](ctx)


def _number(ctx: Any, agency: Any, kind: str, **kw: Any) -> str:
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
def issue_docket_number(ctx: Any) -> None:
    """The court case number (SPC rules, in force 2016-01-01): （2026）粤0307刑初1号 (format per court)."""
    _number(ctx, ctx.holder_after, NumberKind.COURT_DOCKET, type_code=ctx.inputs.get("type_code") or "刑初")


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
    (decided by the police). Only the refused persons; nobody else's measure changes."""
    from workflows import persons

    _approved, refused = persons.decided(ctx.spec, ctx.inputs)
    status = str(ctx.inputs.get("refused_measure") or CustodyStatus.RELEASED)
    chosen = ctx.case.persons.filter(pk__in=refused).order_by("id")
    _change_measure(chosen, status, authority=ctx.holder_after, at=ctx.now)


@effect
def release_detained(ctx: Any) -> None:
    """Art. 178 (non-prosecution): a detained person is released at once, and any other coercive
    measure (bail, residential surveillance) is lifted with the decision."""
    held = ctx.case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=[
        CustodyStatus.DETAINED, CustodyStatus.ARRESTED, CustodyStatus.BAIL,
        CustodyStatus.RESIDENTIAL_SURVEILLANCE]).order_by("id")
    _change_measure(held, CustodyStatus.RELEASED, authority=ctx.holder_before, at=ctx.now)


# --- generated documents ----------------------------------------------------------------------


def _suspect_fields(case: Any) -> list[tuple[str, str]]:
    fields = []
    for p in case.persons.filter(role=PersonRole.SUSPECT):
        parts = [p.name, p.get_sex_display() if p.sex else "",
                 p.birth_date.strftime("%Y年%m月%d日出生") if p.birth_date else "",
                 _("身份证号 %(id)s") % {"id": p.id_number} if p.id_number else "",
                 _("住 %(addr)s") % {"addr": p.address} if p.address else ""]
        custody = p.get_custody_status_display()
        if p.is_detained and p.detention_centre_id:
            custody += _("，现羁押于%(centre)s") % {"centre": p.detention_centre.name}
        parts.append(custody)
        fields.append((_("犯罪嫌疑人"), "，".join(x for x in parts if x)))
    return fields


def _add_document(ctx: Any, *, title: str, pdf: bytes) -> None:
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Category

    doc = dossier.add_generated_document(
        case=ctx.case, acting_user=ctx.acting_user, title=title, category=Category.PROCEDURAL, pdf_bytes=pdf
    )
    ctx.documents.append(doc)


def _render(title: str, **kw: Any) -> bytes:
    from casehub.pdfgen.forms import render_form

    return render_form(title, **kw)


def _today() -> str:
    return timezone.localdate().strftime("%Y年%m月%d日")


@effect
def generate_prosecution_recommendation(ctx: Any) -> None:
    """起诉意见书 (art. 162): suspects and custody, facts, numbered evidence, legal basis, addressee."""
    case, inp = ctx.case, ctx.inputs
    evidence = [line.strip() for line in str(inp.get("evidence", "")).splitlines() if line.strip()]
    paragraphs = [
        _("案件来源：%(source)s立案侦查。") % {"source": case.origin_agency.name},
        _("经依法侦查查明：%(facts)s") % {"facts": inp.get("facts", "")},
        _("认定上述事实的证据如下：") + "".join(f"\n{i}. {e}" for i, e in enumerate(evidence, 1)),
        _("法律依据：%(basis)s") % {"basis": inp.get("legal_basis") or _("《中华人民共和国刑事诉讼法》第一百六十二条")},
        _("此致\n%(to)s") % {"to": ctx.recipient.name},
    ]
    pdf = _render(_("起诉意见书"), number=ctx.numbers.get(NumberKind.PROSECUTION_RECOMMENDATION, ""),
                  fields=[(_("案件名称"), case.title), *_suspect_fields(case)], paragraphs=paragraphs,
                  footer_lines=[ctx.holder_before.name, _today(), _("（公章）")])
    _add_document(ctx, title=str(GENERATED_TITLES["generate_prosecution_recommendation"]), pdf=pdf)


@effect
def generate_indictment(ctx: Any) -> None:
    """起诉书 (art. 176): defendants, facts, charges and legal basis, addressed to the court."""
    case, inp = ctx.case, ctx.inputs
    paragraphs = [
        _("本案由%(police)s侦查终结，以%(number)s移送本院审查起诉。")
        % {"police": case.origin_agency.name, "number": _latest_number(case, NumberKind.PROSECUTION_RECOMMENDATION)},
        _("经依法审查查明：%(facts)s") % {"facts": inp.get("facts", "")},
        _("本院认为：%(charges)s依照《中华人民共和国刑事诉讼法》第一百七十六条的规定，提起公诉，请依法判处。")
        % {"charges": inp.get("charges", "")},
        _("此致\n%(to)s") % {"to": ctx.recipient.name},
    ]
    pdf = _render(_("起诉书"), number=ctx.numbers.get(NumberKind.INDICTMENT, ""),
                  fields=[(_("案件名称"), case.title), *_suspect_fields(case)], paragraphs=paragraphs,
                  footer_lines=[ctx.holder_before.name, _today(), _("（院印）")])
    _add_document(ctx, title=str(GENERATED_TITLES["generate_indictment"]), pdf=pdf)


@effect
def generate_non_prosecution_decision(ctx: Any) -> None:
    """不起诉决定书 (art. 177-181): investigating authority and transfer, supplementary investigations,
    facts, legal basis and the 7-day appeal window."""
    from workflows.models import TransitionLog

    case, inp = ctx.case, ctx.inputs
    returns = TransitionLog.objects.filter(case=case, transition="return_for_supplementary").order_by("occurred_at")
    first_transfer = TransitionLog.objects.filter(case=case, transition="accept_review_transfer").order_by(
        "occurred_at").first()
    paragraphs = [
        _("本案由%(police)s侦查终结，于%(date)s移送本院审查起诉。")
        % {"police": case.origin_agency.name,
           "date": timezone.localtime(first_transfer.occurred_at).strftime("%Y年%m月%d日") if first_transfer else ""},
    ]
    if returns:
        dates = "、".join(timezone.localtime(r.occurred_at).strftime("%Y年%m月%d日") for r in returns)
        paragraphs.append(_("本院于%(dates)s退回补充侦查，共%(n)d次。") % {"dates": dates, "n": len(returns)})
    paragraphs += [
        _("经本院依法审查查明：%(facts)s") % {"facts": inp.get("facts", "")},
        _("本院认为，%(basis)s决定对犯罪嫌疑人不起诉。") % {"basis": inp.get("legal_basis", "")},
        _("被不起诉人如不服本决定，可以自收到本决定书后七日以内向本院申诉。"
          "被害人如不服本决定，可以自收到本决定书后七日以内向上一级人民检察院申诉。"),
    ]
    pdf = _render(_("不起诉决定书"), number=ctx.numbers.get(NumberKind.NON_PROSECUTION, ""),
                  fields=[(_("案件名称"), case.title), *_suspect_fields(case)], paragraphs=paragraphs,
                  footer_lines=[ctx.holder_before.name, _today(), _("（院印）")])
    _add_document(ctx, title=str(GENERATED_TITLES["generate_non_prosecution_decision"]), pdf=pdf)
