"""Who sees a case (404 otherwise) and who may act on one they see (403): the one rule of
:mod:`casehub.agencies.doors`, used by the case pages and the API alike.

Seeing: the cases the user's agency may see (:func:`casehub.cases.selectors.visible_cases`), through
a role that works with cases (``CASE_READERS``). A role that never reads cases (an agency
administrator, an auditor, a detention officer) sees none: a case is 404 to it, whether or not its
agency holds it. Lists that belong to a case (its persons, clocks, custody records, dossier) start
from this door, so the case is 404 before anything else is said.

Acting: adding a person, separating or joining, notifying legal aid and issuing a custody change
notice are the handling agency's, each for the roles that do it (403 with the reason otherwise);
the services check again whatever the caller.

The lists: the case list is 403 to a role that reads no cases; registering a case (立案) is 403 to
anyone but a police investigator.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door, ListDoor, any_capability
from casehub.cases.models import Case
from casehub.cases.selectors import CASE_READERS, can_act, visible_cases


def _visible(user: Any) -> QuerySet[Case]:
    if not any(p.has_capability(user, c) for c in CASE_READERS):
        return Case.objects.none()
    return visible_cases(user)


def _add_person(user: Any, case: Case) -> str | None:
    if not p.has_capability(user, p.EDIT_CASE) or not can_act(user, case):
        return _("只有当前承办机关的办案人员可以添加涉案人员。")
    return None


def _separate(user: Any, case: Case) -> str | None:
    if not p.has_capability(user, p.PREPARE_OUTGOING):
        return _("您的角色不能分案或并案。")
    if not can_act(user, case):
        return _("只有本案的承办机关可以分案或并案。")
    return None


def _notify_legal_aid(user: Any, case: Case) -> str | None:
    if not p.has_capability(user, p.NOTIFY_LEGAL_AID):
        return _("您的角色无权通知法律援助机构。")
    if not can_act(user, case):
        return _("只有案件的承办机关可以通知法律援助机构。")
    return None


def _custody_notice(user: Any, case: Case) -> str | None:
    if not p.has_capability(user, p.MANAGE_CUSTODY):
        return _("只有羁押权属机关可以发出变更羁押期限通知书。")
    return None  # which agency answers for the person's custody now is the service's check


CASES = Door("case", _visible, {
    "add_person": _add_person,
    "separate": _separate,
    "notify_legal_aid": _notify_legal_aid,
    "custody_notice": _custody_notice,
})

CASE_LIST = ListDoor("case.list", any_capability(*CASE_READERS), lambda: _("您的角色无权查看案件。"))
CASE_REGISTER = ListDoor("case.register", any_capability(p.REGISTER_CASE),
                         lambda: _("只有公安机关的侦查员可以立案登记。"))
