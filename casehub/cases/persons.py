"""Service functions for the persons in a case."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casehub.agencies.permissions import EDIT_CASE, has_capability
from casehub.audit.services import record_event
from casehub.cases.models import Case, CustodyStatus, Person
from casehub.cases.selectors import can_act


def check_initial_custody(data: dict[str, Any]) -> None:
    """A person enters a case with a measure the registering agency decided itself (detention,
    bail, residential surveillance: CPL arts. 66, 74, 82) or none. An arrest is the
    procuratorate's decision (arts. 80, 87) and reaches a person only through the
    ``approve_arrest`` transition — never by typing it into the person's particulars."""
    if data.get("custody_status") == CustodyStatus.ARRESTED:
        raise ValidationError({"custody_status": [
            _("逮捕须经人民检察院批准（刑事诉讼法第八十条、第八十七条），由“批准逮捕”流程记录，不能在登记人员时填写。")]})


def with_initial_measure(data: dict[str, Any], agency: Any) -> dict[str, Any]:
    """The person's particulars with the measure's deciding authority and start: a measure given at
    registration is the registering agency's own decision (detention, bail, surveillance)."""
    from django.utils import timezone

    data = {k: v for k, v in data.items() if k not in ("measure_authority", "measure_since")}
    status = data.get("custody_status") or CustodyStatus.NOT_DETAINED
    if status != CustodyStatus.NOT_DETAINED:
        data["measure_authority"] = agency
        data["measure_since"] = data.get("custody_since") or timezone.now()
    return data


def add_person(case: Case, *, acting_user: Any, data: dict[str, Any]) -> Person:
    """Add a suspect or victim to a case the user's agency holds."""
    if not has_capability(acting_user, EDIT_CASE) or not can_act(acting_user, case):
        raise PermissionDenied(_("只有当前承办机关的办案人员可以添加涉案人员。"))
    check_initial_custody(data)
    with transaction.atomic():
        person = Person.objects.create(case=case, **with_initial_measure(data, acting_user.agency))
        record_event(
            "person.added", actor=acting_user, obj=person, case=case,
            details={"name": person.name, "role": person.role, "custody_status": person.custody_status},
        )
    return person
