"""Issuing case and document numbers: per agency, per kind, per year, gapless under concurrency.

The counter row is locked with ``select_for_update`` inside the caller's transaction, so two
concurrent issuers get consecutive numbers and a rolled-back transaction gives its number back.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from casehub.agencies.models import Agency
from casehub.cases.models import Case, CaseNumber, NumberFormat, NumberKind, NumberSequence

DEFAULT_PATTERNS: dict[str, str] = {
    NumberKind.POLICE_FILING: "{abbr}公（刑）立字〔{year}〕{seq:03d}号",
    NumberKind.PROSECUTION_RECOMMENDATION: "{abbr}公（刑）诉字〔{year}〕{seq:03d}号",
    NumberKind.PROCURATORATE_REVIEW: "{abbr}检刑受〔{year}〕{seq}号",
    NumberKind.ARREST_DECISION: "{abbr}检刑批〔{year}〕{seq}号",
    NumberKind.ARREST_REFUSAL: "{abbr}检刑不批〔{year}〕{seq}号",
    NumberKind.INDICTMENT: "{abbr}检刑诉〔{year}〕{seq}号",
    NumberKind.NON_PROSECUTION: "{abbr}检刑不诉〔{year}〕{seq}号",
    NumberKind.CASE_WITHDRAWAL: "{abbr}公（刑）撤案字〔{year}〕{seq:03d}号",
    NumberKind.INVESTIGATION_TERMINATION: "{abbr}公（刑）终止侦查字〔{year}〕{seq:03d}号",
    NumberKind.SUPPLEMENTARY_RETURN: "{abbr}检刑退查〔{year}〕{seq}号",
    NumberKind.CONDITIONAL_NON_PROSECUTION: "{abbr}检刑附条件不诉〔{year}〕{seq}号",
    NumberKind.CONDITIONAL_REVOCATION: "{abbr}检刑撤附条件不诉〔{year}〕{seq}号",
    NumberKind.NP_RECONSIDERATION_REQUEST: "{abbr}公（刑）要复字〔{year}〕{seq:03d}号",
    NumberKind.NP_RECONSIDERATION_DECISION: "{abbr}检刑复议〔{year}〕{seq}号",
    NumberKind.NP_REVIEW_REQUEST: "{abbr}公（刑）提复字〔{year}〕{seq:03d}号",
    NumberKind.NP_REVIEW_DECISION: "{abbr}检刑复核〔{year}〕{seq}号",
    NumberKind.NP_PETITION_DECISION: "{abbr}检刑复查〔{year}〕{seq}号",
    NumberKind.REVIEW_EXTENSION: "{abbr}检刑延〔{year}〕{seq}号",
    NumberKind.RELEASE_CERTIFICATE: "{abbr}公（刑）释字〔{year}〕{seq:03d}号",
    NumberKind.COURT_DOCKET: "（{year}）{court_code}{type_code}{seq}号",
}


def pattern_for(agency: Agency, kind: str) -> str:
    fmt = NumberFormat.objects.filter(agency=agency, kind=kind).values_list("pattern", flat=True).first()
    return fmt or DEFAULT_PATTERNS[kind]


def next_sequence(agency: Agency, kind: str, year: int, type_code: str = "") -> int:
    """Take the next number of a counter; must run inside the transaction that uses it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbers are issued inside the transaction that records them")
    for _attempt in range(2):
        counter = (
            NumberSequence.objects.select_for_update()
            .filter(agency=agency, kind=kind, type_code=type_code, year=year)
            .first()
        )
        if counter is not None:
            counter.last += 1
            counter.save(update_fields=["last"])
            return counter.last
        try:
            with transaction.atomic():
                NumberSequence.objects.create(agency=agency, kind=kind, type_code=type_code, year=year, last=0)
        except IntegrityError:
            pass  # another transaction created it first; lock it on the next pass
    raise RuntimeError("could not take a number")  # pragma: no cover


def issue_number(case: Case, agency: Agency, kind: str, *, type_code: str = "", year: int | None = None,
                 person: Any = None) -> CaseNumber:
    """Give ``case`` the next ``kind`` number of ``agency`` (e.g. 刑初 docket number at a court); a
    decision about one person (批准/不批准逮捕决定书) names the ``person``."""
    year = year or timezone.localdate().year
    seq = next_sequence(agency, kind, year, type_code)
    text = pattern_for(agency, kind).format(
        year=year, seq=seq, abbr=agency.abbreviation, court_code=agency.court_code, type_code=type_code
    )
    return CaseNumber.objects.create(case=case, agency=agency, kind=kind, type_code=type_code, year=year,
                                     sequence=seq, number=text, person=person)


def peek_number(agency: Agency, kind: str, *, type_code: str = "", year: int | None = None, offset: int = 0) -> str:
    """The number :func:`issue_number` would give next, without taking it (no lock, no write);
    with ``offset`` n, the one it would give after n more (a transition that takes several).

    The workflow engine renders a generated document before its transaction with this number; if
    another transaction takes it first, the number issued in the transaction differs and the
    document is rendered again there (:mod:`casehub.objectstore.prepared`).
    """
    year = year or timezone.localdate().year
    last = (NumberSequence.objects.filter(agency=agency, kind=kind, type_code=type_code, year=year)
            .values_list("last", flat=True).first()) or 0
    return pattern_for(agency, kind).format(
        year=year, seq=last + 1 + offset, abbr=agency.abbreviation, court_code=agency.court_code,
        type_code=type_code,
    )
