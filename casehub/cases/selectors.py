"""The one permission-filtered way to fetch cases for a user (STYLE.md §2).

Every list and detail view, UI or API, starts from :func:`visible_cases`; a case outside it
answers 404. It is one SQL query with a sub-select on the direct FK permission table.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from casehub.agencies import permissions as p
from casehub.cases.access import ACT, VIEW
from casehub.cases.models import Case, CaseGroupObjectPermission, CaseNumber, Person

# Capabilities of the roles that work with cases (any one suffices to open case pages and lists).
CASE_READERS = (p.READ_DOSSIER, p.REGISTER_CASE, p.REVIEW_INCOMING, p.DOCKET_CASE)


def _case_ids_with(user: Any, codename: str) -> QuerySet:
    return CaseGroupObjectPermission.objects.filter(
        group__in=user.groups.all(), permission__codename=codename
    ).values("content_object_id")


def visible_cases(user: Any) -> QuerySet[Case]:
    """Cases the user's agency may see. Superusers manage the platform, not cases: they see none."""
    if not user.is_authenticated or not user.is_active or user.agency_id is None:
        return Case.objects.none()
    return Case.objects.filter(pk__in=_case_ids_with(user, VIEW))


def actionable_cases(user: Any) -> QuerySet[Case]:
    """Cases the user's agency currently holds and may act on."""
    if not user.is_authenticated or not user.is_active or user.agency_id is None:
        return Case.objects.none()
    return Case.objects.filter(pk__in=_case_ids_with(user, ACT))


def get_visible_case(user: Any, pk: Any) -> Case:
    try:
        return visible_cases(user).get(pk=pk)
    except (Case.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def can_act(user: Any, case: Case) -> bool:
    return actionable_cases(user).filter(pk=case.pk).exists()


def search_cases(qs: QuerySet[Case], *, q: str = "", stage: str = "", status: str = "",
                 by_id_number: bool = False) -> QuerySet[Case]:
    """Filter by any of the case's numbers, a person's name, an offence, or the title — and by a
    person's full ID number only when ``by_id_number`` (the user may see ID numbers: otherwise a
    search would answer whether a guessed number belongs to a visible case)."""
    q = q.strip()
    if q:
        persons = Q(name__icontains=q) | (Q(id_number=q.upper()) if by_id_number else Q(pk__in=[]))
        matching = (
            Q(title__icontains=q)
            | Q(pk__in=CaseNumber.objects.filter(number__icontains=q).values("case_id"))
            | Q(pk__in=Person.objects.filter(persons).values("case_id"))
            | Q(offences__name__icontains=q)
        )
        qs = qs.filter(pk__in=Case.objects.filter(matching).values("pk"))
    if stage:
        qs = qs.filter(stage=stage)
    if status:
        qs = qs.filter(status=status)
    return qs
