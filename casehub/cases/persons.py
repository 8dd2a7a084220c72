"""Service functions for the persons in a case."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from casehub.agencies.permissions import EDIT_CASE, has_capability
from casehub.audit.services import record_event
from casehub.cases.models import Case, Person
from casehub.cases.selectors import can_act


def add_person(case: Case, *, acting_user: Any, data: dict[str, Any]) -> Person:
    """Add a suspect or victim to a case the user's agency holds."""
    if not has_capability(acting_user, EDIT_CASE) or not can_act(acting_user, case):
        raise PermissionDenied(_("只有当前承办机关的办案人员可以添加涉案人员。"))
    with transaction.atomic():
        person = Person.objects.create(case=case, **data)
        record_event(
            "person.added", actor=acting_user, obj=person, case=case,
            details={"name": person.name, "role": person.role, "custody_status": person.custody_status},
        )
    return person
