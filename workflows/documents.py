"""The legal documents the transitions generate, as pure builders.

A builder takes the engine's :class:`~workflows.engine.Context` (or a :class:`PreviewContext` with
the same attributes) and returns the documents as :class:`Draft` (title and PDF bytes). Builders
read the case and never write anything: the effects in :mod:`workflows.effects` file and sign
what they return (:func:`casehub.dossier.services.add_generated_document`), and the preview pages
render the same builders with the current inputs, watermarked and neither stored nor signed.

Wording follows the official forms: the police's 提请批准逮捕书 and 起诉意见书 (MPS Provisions
arts. 137, 289), the procuratorate's 批准逮捕决定书 / 不批准逮捕决定书 (CPL art. 90, SPP Rules
art. 286), 退回补充侦查决定书 with its 补充侦查提纲 (CPL art. 175(2), SPP Rules art. 257, 342),
起诉书 (CPL art. 176, SPP Rules art. 358), 不起诉决定书 (CPL arts. 177-181), and the court's
判决书 (CPL arts. 200-203). The person is a 犯罪嫌疑人 until indictment and a 被告人 from the
起诉书 on (CPL art. 176 and after); a non-prosecuted person is the 被不起诉人.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import CaseNumber, CustodyStatus, NumberKind, PersonRole

SUSPECT = gettext_lazy("犯罪嫌疑人")
DEFENDANT = gettext_lazy("被告人")
PENDING_NUMBER = gettext_lazy("（文号待编）")


@dataclass(frozen=True)
class Draft:
    title: str
    pdf: bytes


@dataclass
class PreviewContext:
    """What a builder reads, for a transition that has not run: numbers are not issued yet."""

    case: Any
    spec: Any
    actor: Any
    acting_user: Any
    inputs: dict[str, Any]
    source: str
    now: datetime
    holder_before: Any
    recipients: list[Any] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)
    preview: bool = True

    @property
    def recipient(self) -> Any:
        return self.recipients[0] if self.recipients else None


Builder = Callable[[Any], list[Draft]]
BUILDERS: dict[str, Builder] = {}
# The titles each generating effect produces, for the fire form and the approval page.
TITLES: dict[str, tuple[Any, ...]] = {}


def builder(effect_name: str, *titles: Any) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        if effect_name in BUILDERS and BUILDERS[effect_name].__qualname__ != fn.__qualname__:
            # Two modules naming their documents' effect alike: the later would silently replace the
            # earlier's documents (a reload of the same module re-registers the same function).
            raise ValueError(f"document effect {effect_name} is already built by {BUILDERS[effect_name].__module__}")
        BUILDERS[effect_name] = fn
        TITLES[effect_name] = titles
        return fn

    return register


def build(ctx: Any, effect_name: str) -> list[Draft]:
    return BUILDERS[effect_name](ctx)


def build_all(ctx: Any) -> list[Draft]:
    """Every document the transition of ``ctx`` generates, in the order of its effects."""
    return [draft for name in ctx.spec.effects if name in BUILDERS for draft in build(ctx, name)]


# --- text helpers -----------------------------------------------------------------------------

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1..9999 in Chinese numerals as statutes write them: 232 → 二百三十二, 10 → 十, 105 → 一百零五."""
    if n <= 0 or n >= 10000:
        return str(n)
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out, zero = "", False
    for value, unit in units:
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (digit == 1 and unit == "十" and not out) else _DIGITS[digit]) + unit
    return out


_ARTICLE = re.compile(r"第\s*(\d+)\s*条(之[一二三四五六七八九十]+)?")


def criminal_law_article(article: str) -> str:
    """``刑法第264条`` → ``《中华人民共和国刑法》第二百六十四条`` (already-Chinese text passes through)."""
    text = (article or "").strip()
    if not text:
        return ""
    match = _ARTICLE.search(text)
    if match:
        return f"《中华人民共和国刑法》第{chinese_number(int(match.group(1)))}条{match.group(2) or ''}"
    return text if text.startswith("《") else "《中华人民共和国刑法》" + text.removeprefix("刑法")


def strip_leading(text: Any, *phrases: str) -> str:
    """The user's text without a leading phrase the template already writes ("经依法侦查查明：" typed
    again must not print twice), repeated or followed by any of ：:，, and spaces."""
    value = str(text or "").strip()
    changed = True
    while changed:
        changed = False
        for phrase in phrases:
            if phrase and value.startswith(phrase):
                value = value[len(phrase):].lstrip("：:，, \u3000")
                changed = True
    return value


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def _lines(text: Any) -> list[str]:
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]


def _numbered(lines: Sequence[str]) -> str:
    return "".join(f"\n{i}. {line}" for i, line in enumerate(lines, 1))


def suspects(case: Any) -> list[Any]:
    """The suspects of the case's documents: not those whose investigation was terminated (终止侦查,
    MPS Provisions art. 186(2))."""
    return list(case.persons.filter(role=PersonRole.SUSPECT, termination__isnull=True)
                .select_related("detention_centre").order_by("id"))


def suspect_names(case: Any) -> str:
    """The suspects of the case's documents, as a decision names them: 张三、李四."""
    return "、".join(p.name for p in suspects(case))


def offences(case: Any) -> list[Any]:
    return list(case.offences.order_by("code"))


def charge_names(case: Any) -> str:
    return "、".join(o.name for o in offences(case)) or _("（罪名待定）")


def charge_articles(case: Any) -> str:
    return "、".join(a for a in (criminal_law_article(o.article) for o in offences(case)) if a)


def _number(ctx: Any, kind: str) -> str:
    issued = ctx.numbers.get(kind, "")
    if issued:
        return issued
    return str(PENDING_NUMBER) if getattr(ctx, "preview", False) else ""


def latest_number(case: Any, kind: str) -> str:
    return CaseNumber.objects.filter(case=case, kind=kind).order_by("-issued_at", "-id").values_list(
        "number", flat=True).first() or ""


def _log_time(case: Any, transition: str, *, first: bool = False) -> datetime | None:
    from workflows.models import TransitionLog

    logs = TransitionLog.objects.filter(case=case, transition=transition)
    log = logs.order_by("occurred_at", "id").first() if first else logs.order_by("-occurred_at", "-id").first()
    return log.occurred_at if log else None


def custody_facts(person: Any, case: Any) -> dict[str, Any]:
    """Dates of detention and arrest and the place of custody of ``person`` (for the person block of
    the 提请批准逮捕书, 起诉意见书 and 起诉书)."""
    try:
        record = person.custody_record
    except Exception:  # noqa: BLE001 - no custody record (never detained)
        record = None
    detained = record.detained_at if record is not None else None
    arrested = None
    if person.custody_status == CustodyStatus.ARRESTED or (record is not None and record.measure == "arrested"):
        arrested = getattr(person, "measure_since", None) or _log_time(case, "approve_arrest")
    if detained is None and person.custody_status == CustodyStatus.DETAINED:
        detained = person.custody_since
    centre = record.detention_centre if record is not None and record.in_custody else (
        person.detention_centre if person.is_detained and person.detention_centre_id else None)
    return {"detained": detained, "arrested": arrested, "centre": centre}


def person_block(person: Any, case: Any, term: Any, *, custody: bool = True) -> str:
    """"犯罪嫌疑人张三，男，1990年1月1日出生，公民身份号码……，住……。因涉嫌盗窃罪于……被刑事拘留，
    于……被逮捕。现羁押于……。" — the customary opening of a person in the forms."""
    parts = [f"{term}{person.name}"]
    if person.sex:
        parts.append(person.get_sex_display())
    if person.birth_date:
        parts.append(_("%(d)s出生") % {"d": _day(person.birth_date)})
    if person.id_number:
        parts.append(_("公民身份号码%(id)s") % {"id": person.id_number})
    if person.address:
        parts.append(_("住%(addr)s") % {"addr": person.address})
    text = "，".join(parts) + "。"
    if person.record:
        text += _("%(record)s。") % {"record": person.record.rstrip("。")}
    if not custody:
        return text
    facts = custody_facts(person, case)
    charge = charge_names(case)
    if facts["detained"]:
        text += _("因涉嫌%(charge)s于%(d)s被刑事拘留") % {"charge": charge, "d": _day(facts["detained"])}
        text += (_("，于%(d)s被逮捕。") % {"d": _day(facts["arrested"])}) if facts["arrested"] else "。"
    elif facts["arrested"]:
        text += _("因涉嫌%(charge)s于%(d)s被逮捕。") % {"charge": charge, "d": _day(facts["arrested"])}
    elif person.custody_status in (CustodyStatus.BAIL, CustodyStatus.RESIDENTIAL_SURVEILLANCE):
        text += _("现被%(measure)s。") % {"measure": person.get_custody_status_display()}
    if facts["centre"] is not None:
        text += _("现羁押于%(centre)s。") % {"centre": facts["centre"].name}
    return text


def _render(ctx: Any, title: str, **kw: Any) -> bytes:
    from casehub.objectstore.prepared import artifact
    from casehub.pdfgen.forms import render_form

    watermark = _("草稿 仅供预览") if getattr(ctx, "preview", False) else ""
    # Rendered in the engine's prepare phase and reused in its transaction when the recipe (what the
    # document is made of) is the same: casehub.objectstore.prepared.
    return artifact({"kind": "pdfgen.render_form", "title": title, "watermark": watermark, **kw},
                    lambda: render_form(title, watermark=watermark, **kw), label=str(title))


def _footer(ctx: Any, seal: Any) -> list[str]:
    return [ctx.holder_before.name, _day(ctx.now), str(seal)]


def _to(ctx: Any) -> str:
    recipient = ctx.recipient
    return recipient.name if recipient is not None else ""


# --- police -----------------------------------------------------------------------------------


def arrest_candidates(case: Any) -> list[Any]:
    return [p for p in suspects(case) if p.custody_status not in (CustodyStatus.ARRESTED, CustodyStatus.RELEASED)]


def _chosen(ctx: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """(requested, approved, refused) persons of an arrest transition: the persons its inputs name
    (workflows.persons), never the other suspects of the case."""
    from workflows import persons as chosen

    spec = getattr(ctx, "spec", None)
    if spec is None:
        return arrest_candidates(ctx.case), [], []
    inputs = chosen.resolve(ctx.case, spec, dict(ctx.inputs or {}))
    approved, refused = chosen.decided(spec, inputs)

    def load(ids: list[int]) -> list[Any]:
        return list(ctx.case.persons.filter(pk__in=ids).order_by("id"))

    return load(inputs.get("persons") or []), load(approved), load(refused)


@builder("generate_arrest_request", gettext_lazy("提请批准逮捕书"))
def arrest_request(ctx: Any) -> list[Draft]:
    """提请批准逮捕书 (CPL art. 87, MPS Provisions art. 137): persons, facts, reasons, the request."""
    case, persons = ctx.case, _chosen(ctx)[0]  # the persons the request names
    names = "、".join(p.name for p in persons)
    paragraphs = [person_block(p, case, SUSPECT) for p in persons]
    paragraphs += [
        _("犯罪嫌疑人%(names)s涉嫌%(charge)s一案，由%(police)s立案侦查。")
        % {"names": names, "charge": charge_names(case), "police": case.origin_agency.name},
        _("经依法侦查查明：%(facts)s") % {"facts": strip_leading(ctx.inputs.get("reason"), "经依法侦查查明", "经侦查查明")},
        _("综上所述，犯罪嫌疑人%(names)s的行为已触犯%(article)s之规定，涉嫌%(charge)s，可能判处徒刑以上刑罚，"
          "采取取保候审尚不足以防止发生社会危险性。依照《中华人民共和国刑事诉讼法》第八十一条、第八十七条之规定，"
          "特提请批准逮捕。")
        % {"names": names, "article": charge_articles(case) or _("刑法有关条款"), "charge": charge_names(case)},
        _("此致\n%(to)s") % {"to": _to(ctx)},
    ]
    title = str(TITLES["generate_arrest_request"][0])
    return [Draft(title, _render(ctx, title, fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                 footer_lines=_footer(ctx, _("（公章）"))))]


@builder("generate_prosecution_recommendation", gettext_lazy("起诉意见书"))
def prosecution_recommendation(ctx: Any) -> list[Draft]:
    """起诉意见书 (CPL art. 162, MPS Provisions art. 289): each suspect with the dates of detention and
    arrest and the place of custody, facts, numbered evidence, legal basis, addressee, attachments."""
    case, inp = ctx.case, ctx.inputs
    persons = suspects(case)
    names = "、".join(p.name for p in persons)
    evidence = _lines(inp.get("evidence"))
    paragraphs = [person_block(p, case, SUSPECT) for p in persons]
    paragraphs += [
        _("犯罪嫌疑人%(names)s涉嫌%(charge)s一案，由%(police)s立案侦查。现已侦查终结。")
        % {"names": names, "charge": charge_names(case), "police": case.origin_agency.name},
        _("经依法侦查查明：%(facts)s") % {"facts": strip_leading(inp.get("facts"), "经依法侦查查明", "经侦查查明")},
        _("认定上述事实的证据如下：") + _numbered([strip_leading(e, "认定上述事实的证据如下") for e in evidence]),
        _("上述犯罪事实清楚，证据确实、充分，足以认定。"),
        *_plea().recommendation_lines(case),  # art. 162(2)
        _("犯罪嫌疑人%(names)s的行为已触犯%(article)s之规定，涉嫌%(charge)s。%(basis)s")
        % {"names": names, "article": charge_articles(case) or _("刑法有关条款"), "charge": charge_names(case),
           "basis": strip_leading(inp.get("legal_basis"), "法律依据")
           or _("依照《中华人民共和国刑事诉讼法》第一百六十二条之规定，现将此案移送审查起诉。")},
        _("此致\n%(to)s") % {"to": _to(ctx)},
        _("附：%(list)s") % {"list": _numbered([
            _("本案卷宗材料随案移送"),
            *(_("犯罪嫌疑人%(name)s现羁押于%(centre)s") % {"name": p.name, "centre": c.name}
              for p in persons if (c := custody_facts(p, case)["centre"]) is not None),
        ])},
    ]
    title = str(TITLES["generate_prosecution_recommendation"][0])
    return [Draft(title, _render(ctx, title, number=_number(ctx, NumberKind.PROSECUTION_RECOMMENDATION),
                                 fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                 footer_lines=_footer(ctx, _("（公章）"))))]


# --- procuratorate ----------------------------------------------------------------------------


def _request_date(case: Any) -> str:
    from workflows.models import Transfer

    sent = Transfer.objects.filter(case=case, kind="arrest_request", mode="online").order_by(
        "-sent_at", "-id").values_list("sent_at", flat=True).first()
    return _day(sent) if sent else ""


def _arrest_decision(ctx: Any, *, approved: bool) -> list[Draft]:
    case = ctx.case
    # One decision per decided person, numbered from its own series (批捕 / 不批捕), art. 90.
    _requested, approved_persons, refused_persons = _chosen(ctx)
    persons = approved_persons if approved else refused_persons
    title = str(_("批准逮捕决定书") if approved else _("不批准逮捕决定书"))
    numbers = [n for n in _number(ctx, NumberKind.ARREST_DECISION if approved
                                  else NumberKind.ARREST_REFUSAL).split("、")]
    drafts = []
    for index, person in enumerate(persons):
        opening = _("%(police)s：\n你局于%(date)s提请批准逮捕犯罪嫌疑人%(name)s，") % {
            "police": _to(ctx), "date": _request_date(case), "name": person.name}
        if approved:
            body = opening + _(
                "经本院审查认为，该犯罪嫌疑人涉嫌%(charge)s，符合《中华人民共和国刑事诉讼法》第八十一条规定的逮捕条件，"
                "根据《中华人民共和国刑事诉讼法》第九十条的规定，决定批准逮捕犯罪嫌疑人%(name)s。"
                "请依法立即执行，并将执行情况在三日以内通知本院。") % {"charge": charge_names(case), "name": person.name}
        else:
            body = opening + _(
                "经本院审查认为，%(reason)s根据《中华人民共和国刑事诉讼法》第九十条的规定，决定不批准逮捕犯罪嫌疑人%(name)s。"
                "请依法执行；犯罪嫌疑人已被拘留的，应当立即释放，并将执行情况在三日以内通知本院。") % {
                "reason": _sentence(strip_leading(ctx.inputs.get("reason"), "经本院审查认为", "本院认为")),
                "name": person.name}
        paragraphs = [body]
        if approved and ctx.inputs.get("reason"):
            paragraphs.append(_("说明：%(text)s") % {"text": ctx.inputs["reason"]})
        number = numbers[index] if index < len(numbers) else (numbers[-1] if numbers else "")
        drafts.append(Draft(f"{title}（{person.name}）" if len(persons) > 1 else title, _render(
            ctx, title, number=number, fields=[(_("案件名称"), case.title)],
            paragraphs=[person_block(person, case, SUSPECT, custody=False), *paragraphs],
            footer_lines=_footer(ctx, _("（院印）")))))
    return drafts


def full_sentence(text: Any, *phrases: str) -> str:
    """The user's text as one sentence ending in a single 。: without a leading phrase the template
    already writes (:func:`strip_leading`), a trailing ，；, replaced, a 。 the user typed not doubled."""
    value = strip_leading(text, *phrases).rstrip("，,；; \u3000")
    return value if not value or value.endswith(("。", "！", "？")) else value + "。"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in "。；，,;" else text + "，"


@builder("generate_arrest_approval", gettext_lazy("批准逮捕决定书"))
def arrest_approval(ctx: Any) -> list[Draft]:
    """批准逮捕决定书 (CPL arts. 81, 90; SPP Rules art. 286), one per person."""
    return _arrest_decision(ctx, approved=True)


@builder("generate_arrest_refusal", gettext_lazy("不批准逮捕决定书"))
def arrest_refusal(ctx: Any) -> list[Draft]:
    """不批准逮捕决定书 (CPL arts. 90, 91(3); SPP Rules arts. 285-286), one per person."""
    return _arrest_decision(ctx, approved=False)


@builder("generate_supplementary_return", gettext_lazy("退回补充侦查决定书"), gettext_lazy("补充侦查提纲"))
def supplementary_return(ctx: Any) -> list[Draft]:
    """退回补充侦查决定书 and 补充侦查提纲 (CPL art. 175(2); SPP Rules arts. 257, 342)."""
    from workflows.models import TransitionLog

    case = ctx.case
    names = "、".join(p.name for p in suspects(case))
    count = TransitionLog.objects.filter(case=case, transition="return_for_supplementary").count() + 1
    recommendation = latest_number(case, NumberKind.PROSECUTION_RECOMMENDATION)
    decision = _("%(police)s：\n你局以%(number)s起诉意见书移送审查起诉的犯罪嫌疑人%(names)s涉嫌%(charge)s一案，"
                 "本院经审查认为，犯罪事实不清、证据不足，需要补充侦查。根据《中华人民共和国刑事诉讼法》第一百七十五条"
                 "第二款的规定，决定退回你局补充侦查（第%(n)s次）。请按照补充侦查提纲在一个月以内补充侦查完毕，"
                 "移送本院审查起诉。") % {
        "police": _to(ctx), "number": recommendation or "", "names": names, "charge": charge_names(case),
        "n": chinese_number(count)}
    outline = [strip_leading(line, "补充侦查提纲") for line in _lines(ctx.inputs.get("reason"))]
    t_decision, t_outline = (str(t) for t in TITLES["generate_supplementary_return"])
    return [
        Draft(t_decision, _render(ctx, t_decision, number=_number(ctx, NumberKind.SUPPLEMENTARY_RETURN),
                                  fields=[(_("案件名称"), case.title)], paragraphs=[decision],
                                  footer_lines=_footer(ctx, _("（院印）")))),
        Draft(t_outline, _render(ctx, t_outline, fields=[(_("案件名称"), case.title),
                                                         (_("犯罪嫌疑人"), names)],
                                 paragraphs=[_("根据《中华人民共和国刑事诉讼法》第一百七十五条第二款和《人民检察院刑事诉讼规则》"
                                               "第三百四十二条的规定，请补充侦查以下事项：") + _numbered(outline),
                                             _("请在一个月以内补充侦查完毕，连同补充的证据材料移送本院。")],
                                 footer_lines=_footer(ctx, _("（院印）")))),
    ]


@builder("generate_review_extension", gettext_lazy("延长审查起诉期限决定书"))
def review_extension(ctx: Any) -> list[Draft]:
    """The decision to extend the review period by fifteen days (CPL art. 172(1))."""
    case = ctx.case
    names = "、".join(p.name for p in suspects(case))
    accepted = _log_time(case, "accept_review_transfer")
    reason = strip_leading(ctx.inputs.get("decision"), "经审查").rstrip("。，,")
    text = _("犯罪嫌疑人%(names)s涉嫌%(charge)s一案，本院于%(date)s受理审查起诉。%(reason)s"
             "根据《中华人民共和国刑事诉讼法》第一百七十二条第一款的规定，决定将审查起诉期限延长十五日。") % {
        "names": names, "charge": charge_names(case), "date": _day(accepted), "reason": f"{reason}。" if reason else ""}
    title = str(TITLES["generate_review_extension"][0])
    return [Draft(title, _render(ctx, title, number=_number(ctx, NumberKind.REVIEW_EXTENSION),
                                 fields=[(_("案件名称"), case.title)], paragraphs=[text],
                                 footer_lines=_footer(ctx, _("（院印）"))))]


@builder("generate_indictment", gettext_lazy("起诉书"))
def indictment(ctx: Any) -> list[Draft]:
    """起诉书 (CPL art. 176, SPP Rules art. 358): the 被告人 with custody, case source, facts, the
    Criminal Law article of the charge, the sentencing recommendation where given, the request to the
    court and the attachments list."""
    case, inp = ctx.case, ctx.inputs
    persons = suspects(case)
    names = "、".join(p.name for p in persons)
    transferred = _log_time(case, "accept_review_transfer", first=True)
    paragraphs = [person_block(p, case, DEFENDANT) for p in persons]
    paragraphs += [
        _("本案由%(police)s侦查终结，以被告人%(names)s涉嫌%(charge)s，于%(date)s向本院移送审查起诉（%(number)s）。")
        % {"police": case.origin_agency.name, "names": names, "charge": charge_names(case), "date": _day(transferred),
           "number": latest_number(case, NumberKind.PROSECUTION_RECOMMENDATION)},
        _("经依法审查查明：%(facts)s") % {"facts": strip_leading(inp.get("facts"), "经依法审查查明", "经审查查明")},
        _("本院认为，被告人%(names)s的行为触犯了%(article)s，犯罪事实清楚，证据确实、充分，应当以%(charge)s追究其刑事责任。"
          "%(charges)s")
        % {"names": names, "article": charge_articles(case) or _("刑法有关条款"), "charge": charge_names(case),
           "charges": _sentence(strip_leading(inp.get("charges"), "本院认为")).rstrip("，")},
    ]
    paragraphs += _plea().indictment_lines(case, inp)  # art. 176(2); SPP Rules art. 274
    sentencing = strip_leading(inp.get("sentencing"), "量刑建议")
    if sentencing and (inp.get("sentencing_form") or "indictment") == "indictment":
        paragraphs.append(_("量刑建议：%(text)s") % {"text": sentencing})
    paragraphs += [
        _("根据《中华人民共和国刑事诉讼法》第一百七十六条的规定，提起公诉，请依法判处。"),
        _("此致\n%(to)s") % {"to": _to(ctx)},
    ]
    attachments = [
        *(_("被告人%(name)s现羁押于%(centre)s") % {"name": p.name, "centre": c.name}
          for p in persons if (c := custody_facts(p, case)["centre"]) is not None),
        *(_("被告人%(name)s现%(status)s") % {"name": p.name, "status": p.get_custody_status_display()}
          for p in persons if custody_facts(p, case)["centre"] is None),
        _("案卷材料和证据随案移送"),
        *([_("认罪认罚具结书")] if any(r.statement_id for r in _plea().pleas(case).values()) else []),
        *([_("量刑建议书")] if inp.get("sentencing_form") == "separate" else []),
    ]
    title = str(TITLES["generate_indictment"][0])
    return [Draft(title, _render(ctx, title, number=_number(ctx, NumberKind.INDICTMENT),
                                 fields=[(_("案件名称"), case.title)],
                                 paragraphs=[*paragraphs, _("附：") + _numbered(attachments)],
                                 footer_lines=_footer(ctx, _("（院印）"))))]


def _plea() -> Any:
    from workflows import plea

    return plea


def _discretionary(basis: Any) -> bool:
    text = str(basis or "")
    return "第一百七十七条第二款" in text or "177(2)" in text or "第177条第2款" in text


@builder("generate_non_prosecution_decision", gettext_lazy("不起诉决定书"))
def non_prosecution(ctx: Any) -> list[Draft]:
    """不起诉决定书 (CPL arts. 177-181): the 被不起诉人, the investigating authority and transfer, the
    supplementary investigations, facts, legal basis, and the 7-day petition and appeal rights."""
    from workflows.models import TransitionLog

    case, inp = ctx.case, ctx.inputs
    returns = list(TransitionLog.objects.filter(case=case, transition="return_for_supplementary").order_by("occurred_at"))
    first = _log_time(case, "accept_review_transfer", first=True)
    term = _("被不起诉人")
    paragraphs = [person_block(p, case, term) for p in suspects(case)]
    paragraphs.append(_("本案由%(police)s侦查终结，于%(date)s移送本院审查起诉。")
                      % {"police": case.origin_agency.name, "date": _day(first)})
    if returns:
        paragraphs.append(_("本院于%(dates)s退回补充侦查，共%(n)s次。")
                          % {"dates": "、".join(_day(r.occurred_at) for r in returns), "n": chinese_number(len(returns))})
    paragraphs.append(_("经本院依法审查查明：%(facts)s") % {
        "facts": strip_leading(inp.get("facts"), "经本院依法审查查明", "经依法审查查明", "经审查查明")})
    # The legal formula of the decision's kind and its notices (arts. 175(4), 177, 179-181, 284).
    from workflows import nonprosecution

    paragraphs += nonprosecution.non_prosecution_paragraphs(ctx)
    title = str(TITLES["generate_non_prosecution_decision"][0])
    return [Draft(title, _render(ctx, title, number=_number(ctx, NumberKind.NON_PROSECUTION),
                                 fields=[(_("案件名称"), case.title)], paragraphs=paragraphs,
                                 footer_lines=_footer(ctx, _("（院印）"))))]


# --- court ------------------------------------------------------------------------------------


@builder("generate_judgment", gettext_lazy("刑事判决书"))
def judgment(ctx: Any) -> list[Draft]:
    """刑事判决书 (CPL arts. 200-203; SPC Interpretation arts. 302-303): the prosecuting procuratorate,
    the defendants, the indictment, the court's reasoning, the recorded decision per defendant, the
    appeal period and court (art. 230), the judge and the date of announcement."""
    from workflows.models import JudgmentDecision

    case, inp = ctx.case, ctx.inputs
    persons = suspects(case)
    decisions = {d.person_id: d for d in JudgmentDecision.objects.filter(case=case)}
    indictment_log = _log_time(case, "indict")
    prosecutor = _prosecutor(case)
    paragraphs = [_("公诉机关%(name)s。") % {"name": prosecutor.name if prosecutor else ""}]
    paragraphs += [person_block(p, case, DEFENDANT) for p in persons]
    paragraphs += [
        _("%(prosecutor)s以%(number)s起诉书指控被告人%(names)s犯%(charge)s，于%(date)s向本院提起公诉。"
          "本院依法组成合议庭，公开开庭审理了本案。现已审理终结。")
        % {"prosecutor": prosecutor.name if prosecutor else "", "number": latest_number(case, NumberKind.INDICTMENT),
           "names": "、".join(p.name for p in persons), "charge": charge_names(case), "date": _day(indictment_log)},
        _("判决如下："),
    ]
    if persons and all(p.pk in decisions for p in persons):  # the decision recorded per defendant
        lines = [decisions[p.pk].main_text for p in persons]
    else:  # as typed at the announcement
        lines = _lines(strip_leading(inp.get("verdict"), "判决如下"))
    numerals = "一二三四五六七八九十"
    paragraphs += [f"{numerals[i] if i < 10 else i + 1}、{line}" if len(lines) > 1 else line for i, line in enumerate(lines)]
    paragraphs.append(_("如不服本判决，可在接到判决书的第二日起十日内，通过本院或者直接向上一级人民法院提出上诉。"
                        "书面上诉的，应当提交上诉状正本一份，副本二份。"))
    announced = inp.get("announced_on") or timezone.localdate()
    judge = (ctx.actor.get_full_name() or ctx.actor.get_username()) if ctx.actor is not None else ""
    title = str(TITLES["generate_judgment"][0])
    footer = [_("审判员　%(name)s") % {"name": judge}, _day(announced), _("（院印）"), ctx.holder_before.name]
    return [Draft(title, _render(ctx, title, number=latest_number(case, NumberKind.COURT_DOCKET),
                                 fields=[(_("案件名称"), case.title),
                                         (_("宣判方式"), _("当庭宣判") if inp.get("in_court", "yes") == "yes"
                                          else _("定期宣判"))],
                                 paragraphs=paragraphs, footer_lines=footer))]


def _prosecutor(case: Any) -> Any:
    from workflows.models import Transfer

    sent = Transfer.objects.filter(case=case, kind="indictment", mode="online").select_related("from_agency").order_by(
        "-sent_at", "-id").first()
    return sent.from_agency if sent else None


# --- preview ----------------------------------------------------------------------------------


def preview(case: Any, spec: Any, *, user: Any, inputs: dict[str, Any]) -> list[Draft]:
    """The documents ``spec`` would generate on ``case`` from ``inputs`` now, watermarked as a draft:
    for the officer before firing and the supervisor before approving. Nothing is stored, signed or
    numbered (numbers read 「文号待编」)."""
    from workflows import engine

    ctx = PreviewContext(case=case, spec=spec, actor=user, acting_user=user, inputs=dict(inputs), source=case.stage,
                         now=timezone.now(), holder_before=case.holder_agency)
    try:
        ctx.recipients = engine._recipients(ctx)
    except engine.TransitionError:
        ctx.recipients = []  # no recipient chosen yet: the addressee line stays empty
    return build_all(ctx)


def merged(drafts: Sequence[Draft]) -> bytes:
    """One PDF of the drafts, in order (a preview of several documents opens as one file)."""
    import io

    import pikepdf

    if len(drafts) == 1:
        return drafts[0].pdf
    out = pikepdf.new()
    sources = [pikepdf.open(io.BytesIO(d.pdf)) for d in drafts]
    try:
        for src in sources:
            out.pages.extend(src.pages)
        buffer = io.BytesIO()
        out.save(buffer)
        return buffer.getvalue()
    finally:
        for src in sources:
            src.close()

