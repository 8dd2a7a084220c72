"""Object permissions on cases, granted to agency groups (django-guardian, direct FK tables).

Two levels: the *holder* agency may view and act on a case; earlier agencies keep *read*
access. The workflow engine calls these when a case moves; nothing else should.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission

from casehub.agencies.models import Agency
from casehub.cases.models import Case, CaseGroupObjectPermission

VIEW = "view_case"
ACT = "act_on_case"


def _permission(codename: str) -> Permission:
    return Permission.objects.get(content_type__app_label="cases", codename=codename)


def grant(case: Case, agency: Agency, *, act: bool) -> None:
    """Give the agency read access, and the right to act if ``act``; remove ``act`` otherwise."""
    view, act_perm = _permission(VIEW), _permission(ACT)
    CaseGroupObjectPermission.objects.get_or_create(content_object=case, group=agency.group, permission=view)
    if act:
        CaseGroupObjectPermission.objects.get_or_create(content_object=case, group=agency.group, permission=act_perm)
    else:
        CaseGroupObjectPermission.objects.filter(content_object=case, group=agency.group, permission=act_perm).delete()


def revoke_all(case: Case, agency: Agency) -> None:
    CaseGroupObjectPermission.objects.filter(content_object=case, group=agency.group).delete()


def agencies_with(case: Case, codename: str) -> set[int]:
    return set(
        Agency.objects.filter(
            group__casegroupobjectpermission__content_object=case,
            group__casegroupobjectpermission__permission__codename=codename,
        ).values_list("pk", flat=True)
    )
