"""The signed PDFs of custody transfer: certificate 换押证, take-over receipt, change notice.

Each is rendered by :func:`casehub.pdfgen.forms.render_form` with the fields of the paper form,
signed (PAdES) with the deciding agency's key and stored write-once in the object store.

Rendering (CJK font subsetting) and signing with a visible stamp take most of a second per page, so
a signed form is a prepared artifact (:mod:`casehub.objectstore.prepared`) whose recipe is the
form itself (its fields as text), the signing agency, reason and stamp: the workflow engine's
rehearsal of a transition finds out which forms it will sign, builds them outside the transaction,
and the transaction only writes the rows that reference them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y年%m月%d日 %H时%M分") if moment else ""


def _day(value: date | None) -> str:
    return value.strftime("%Y年%m月%d日") if value else _("（待定）")


def _person_fields(person: Any) -> list[tuple[str, str]]:
    return [
        (_("姓名"), person.name),
        (_("性别"), person.get_sex_display() if person.sex else ""),
        (_("出生日期"), person.birth_date.strftime("%Y年%m月%d日") if person.birth_date else ""),
        (_("身份证号"), person.id_number),
    ]


def person_term(agency: Any) -> str:
    """犯罪嫌疑人 before indictment, 被告人 once the case is with the court (CPL art. 176 and after)."""
    from casehub.agencies.models import AgencyKind

    return _("被告人") if getattr(agency, "kind", "") == AgencyKind.COURT else _("犯罪嫌疑人")


def sign_and_store(pdf: bytes, agency: Any, *, reason: str, stamp: str) -> Any:
    """PAdES-sign ``pdf`` as ``agency`` and store it; returns the StoredObject."""
    from casehub.objectstore.services import store_bytes

    return store_bytes(_sign(pdf, agency, reason=reason, stamp=stamp), content_type="application/pdf")


def _sign(pdf: bytes, agency: Any, *, reason: str, stamp: str) -> bytes:
    from casehub.pki.services import signer_for
    from signing.pades import sign_pdf

    return sign_pdf(pdf, signer_for(agency), reason=reason, stamp_text=stamp)


def sign_and_store_form(form: dict[str, Any], agency: Any, *, reason: str, stamp: str) -> Any:
    """Render ``form`` (the keyword arguments of ``render_form``), sign it as ``agency`` and store it;
    returns the StoredObject. Prepared by the engine when it can be (a deferrable artifact)."""
    from casehub.objectstore.prepared import artifact
    from casehub.objectstore.services import store_bytes

    recipe = {"kind": "custody.signed_form", "form": form, "agency": agency.code, "reason": reason, "stamp": stamp}
    signed = artifact(recipe, lambda: _sign(_render(**form), agency, reason=reason, stamp=stamp),
                      label=f"{form['title']} {form.get('number', '')}", deferrable=True)
    return store_bytes(signed, content_type="application/pdf")


def _render(title: str, **kwargs: Any) -> bytes:
    from casehub.pdfgen.forms import render_form

    return render_form(title, **kwargs)


def _form(title: str, **kwargs: Any) -> dict[str, Any]:
    """The arguments of ``render_form`` as plain text (a recipe, and what :func:`_render` takes)."""
    kwargs["fields"] = [[str(label), str(value)] for label, value in kwargs.get("fields", [])]
    for key in ("paragraphs", "footer_lines"):
        if key in kwargs:
            kwargs[key] = [str(line) for line in kwargs[key]]
    return {"title": str(title), **kwargs}


def certificate_pdf(cert: Any, *, record: Any) -> bytes:
    return _render(**certificate_form(cert, record=record))


def certificate_form(cert: Any, *, record: Any) -> dict[str, Any]:
    """换押证 (sender's part): person, detention centre, from/to agency, stage, reason, time."""
    fields = _person_fields(cert.person) + [
        (_("案件名称"), cert.case.title),
        (_("强制措施"), record.get_measure_display()),
        (_("羁押起始时间"), _when(record.detained_at)),
        (_("羁押场所"), cert.detention_centre.name),
        (_("换押事由"), cert.reason),
        (_("移送机关"), cert.from_agency.name),
        (_("接收机关"), cert.to_agency.name),
        (_("诉讼阶段"), cert.to_stage),
        (_("移送时间"), _when(cert.issued_at)),
    ]
    return _form(
        _("换押证"), number=cert.number, fields=fields,
        paragraphs=[_("%(centre)s：\n%(term)s%(name)s一案，因%(reason)s，羁押权属自本证发出并经接收机关确认之日起"
                      "由%(from)s变更为%(to)s。") % {"centre": cert.detention_centre.name, "name": cert.person.name,
                                                  "term": person_term(cert.to_agency),
                                                  "reason": cert.reason, "from": cert.from_agency.name,
                                                  "to": cert.to_agency.name}],
        footer_lines=[cert.from_agency.name, _when(cert.issued_at), _("（电子签章）")],
    )


def receipt_pdf(cert: Any) -> bytes:
    return _render(**receipt_form(cert))


def receipt_form(cert: Any) -> dict[str, Any]:
    """换押证 (receiver's part): take-over time and the statutory start and end of the stage."""
    fields = _person_fields(cert.person) + [
        (_("换押证编号"), cert.number),
        (_("羁押场所"), cert.detention_centre.name),
        (_("移送机关"), cert.from_agency.name),
        (_("接收机关"), cert.to_agency.name),
        (_("接收时间"), _when(cert.taken_over_at)),
        (_("法定期限起"), _day(cert.period_start)),
        (_("法定期限止"), _day(cert.period_end)),
    ]
    return _form(
        _("换押证（接收回执）"), number=cert.number, fields=fields,
        paragraphs=[_("本机关已于%(when)s接收%(term)s%(name)s的羁押权属，本阶段法定羁押期限自%(start)s至%(end)s。")
                    % {"when": _when(cert.taken_over_at), "name": cert.person.name, "term": person_term(cert.to_agency),
                       "start": _day(cert.period_start), "end": _day(cert.period_end)}],
        footer_lines=[cert.to_agency.name, _when(cert.taken_over_at), _("（电子签章）")],
    )


def notice_pdf(notice: Any) -> bytes:
    return _render(**notice_form(notice))


def notice_form(notice: Any) -> dict[str, Any]:
    """变更羁押期限通知书: the new dates (or measure) of a person within the same stage."""
    fields = _person_fields(notice.person) + [
        (_("案件名称"), notice.case.title),
        (_("羁押场所"), notice.detention_centre.name),
        (_("变更事项"), notice.get_kind_display()),
        (_("原届满日期"), _day(notice.previous_end)),
        (_("新届满日期"), _day(notice.new_end) if notice.new_end else "—"),
        (_("决定机关"), notice.agency.name),
    ]
    return _form(
        _("变更羁押期限通知书"), number=notice.number, fields=fields,
        paragraphs=[_("%(centre)s：\n%(reason)s") % {"centre": notice.detention_centre.name, "reason": notice.reason}],
        footer_lines=[notice.agency.name, _when(notice.issued_at), _("（电子签章）")],
    )


def extension_decision_form(ext: Any, *, article_text: str, months: int) -> dict[str, Any]:
    """延长侦查羁押期限决定书 (CPL arts. 156, 158, 159; SPP Rules 2019 arts. 309-313) — or, refused, the
    不批准延长侦查羁押期限决定书 — addressed to the police through the procuratorate that received their
    request, signed by the procuratorate that recorded the decision (the deciding one, or the one that
    registers a decision the deciding procuratorate made on paper)."""
    approved = ext.status == "approved"
    title = _("延长侦查羁押期限决定书") if approved else _("不批准延长侦查羁押期限决定书")
    person = ext.person
    fields = _person_fields(person) + [
        (_("案件名称"), ext.case.title),
        (_("提请机关"), ext.police.name),
        (_("提请时间"), _when(ext.requested_at)),
        (_("受理机关"), ext.received_by.name),
        (_("法律依据"), article_text),
        (_("原届满日期"), _day(ext.period_end)),
        (_("延长后届满日期"), _day(ext.new_end) if approved else "—"),
        (_("决定机关"), ext.decided_by_name),
    ]
    values = {"police": ext.police.name, "received": ext.received_by.name, "name": person.name,
              "day": _when(ext.requested_at), "article": article_text, "months": months,
              "end": _day(ext.new_end), "reason": ext.decision_reason}
    if approved:
        body = _("%(police)s：\n你单位于%(day)s经%(received)s提请延长犯罪嫌疑人%(name)s的侦查羁押期限。经审查，"
                 "依照%(article)s的规定，决定批准延长犯罪嫌疑人%(name)s的侦查羁押期限%(months)d个月，至%(end)s止。"
                 "\n%(reason)s") % values
    else:
        body = _("%(police)s：\n你单位于%(day)s经%(received)s提请延长犯罪嫌疑人%(name)s的侦查羁押期限。经审查，"
                 "决定不批准延长。理由：%(reason)s") % values
    paragraphs = [body]
    if ext.recorded_by_id != getattr(ext.decided_by, "pk", None):
        paragraphs.append(_("本决定由%(decider)s以纸质决定书作出（文号：%(ref)s），由%(recorder)s登记并经%(received)s送达。")
                          % {"decider": ext.decided_by_name, "ref": ext.paper_reference,
                             "recorder": ext.recorded_by.name, "received": ext.received_by.name})
    return _form(title, number=ext.number, fields=fields, paragraphs=paragraphs,
                 footer_lines=[ext.recorded_by.name, _when(ext.decided_at), _("（电子签章）")])
