"""Service functions that create and edit cases. Stage changes go through ``workflows``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from casehub.agencies.models import AgencyKind
from casehub.agencies.permissions import REGISTER_CASE, has_capability
from casehub.audit.services import record_event
from casehub.cases import access
from casehub.cases.models import Case, NumberKind, Offence, Person
from casehub.cases.numbering import issue_number


def register_case(
    *,
    acting_user: Any,
    title: str,
    summary: str = "",
    occurred_on: date | None = None,
    occurred_place: str = "",
    offences: Iterable[Offence] = (),
    persons: Iterable[dict[str, Any]] = (),
) -> Case:
    """立案: an investigator registers a case at their police agency (CPL art. 112).

    The case gets the agency's filing number, the agency group gets view+act permission, the
    registering officer becomes a handling officer, and one audit event records it.
    """
    agency = acting_user.agency
    if agency is None or agency.kind != AgencyKind.POLICE or not has_capability(acting_user, REGISTER_CASE):
        raise PermissionDenied(_("只有公安机关的侦查员可以立案登记。"))
    from casehub.cases.persons import check_initial_custody, with_initial_measure

    persons = list(persons)
    for person in persons:
        check_initial_custody(person)
    with transaction.atomic(durable=True):
        case = Case.objects.create(
            title=title, summary=summary, occurred_on=occurred_on, occurred_place=occurred_place,
            origin_agency=agency, holder_agency=agency, created_by=acting_user,
        )
        case.offences.set(list(offences))
        case.handling_officers.add(acting_user)
        number = issue_number(case, agency, NumberKind.POLICE_FILING)
        access.grant(case, agency, act=True)
        for person in persons:
            Person.objects.create(case=case, **with_initial_measure(person, agency))
        # The initial transition of the process definition leaves its log row like every other.
        from workflows.engine import record_registration

        record_registration(case, acting_user=acting_user)
        record_event(
            "case.registered", actor=acting_user, agency=agency, obj=case, case=case,
            details={"number": number.number, "title": title},
        )
    return case
