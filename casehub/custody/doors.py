"""Who sees a custody certificate 换押证 or change notice (404 otherwise) and who may act on one (403):
the one rule of :mod:`casehub.agencies.doors`, used by the custody pages and the API alike.

Seeing: the detention centre it is addressed to (its officers); an agency that sent or received
it (a certificate) or decided it (a notice); an agency that may see its case — each through a role
that reads cases or manages custody. Acting: only the centre's officers acknowledge.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door, nothing_for
from casehub.cases.selectors import CASE_READERS, visible_cases
from casehub.custody.models import CustodyCertificate, CustodyNotice
from casehub.custody.selectors import is_detention_officer

# Roles of an agency that read custody items of the cases they work on.
CUSTODY_READERS = (*CASE_READERS, p.MANAGE_CUSTODY)


def _visible(model: type, user: Any) -> QuerySet[Any]:
    if nothing_for(user):
        return model.objects.none()
    if is_detention_officer(user):
        return model.objects.filter(detention_centre_id=user.agency_id)
    if not any(p.has_capability(user, c) for c in CUSTODY_READERS):
        return model.objects.none()
    own = (Q(from_agency_id=user.agency_id) | Q(to_agency_id=user.agency_id) if model is CustodyCertificate
           else Q(agency_id=user.agency_id))
    return model.objects.filter(own | Q(case__in=visible_cases(user)))


def _acknowledge(user: Any, item: Any) -> str | None:
    if user.agency_id != item.detention_centre_id or not p.has_capability(user, p.ACKNOWLEDGE_CUSTODY):
        return _("只有该看守所的民警可以确认。")
    return None


CERTIFICATES = Door("custody.certificate", lambda user: _visible(CustodyCertificate, user),
                    {"acknowledge": _acknowledge})
NOTICES = Door("custody.notice", lambda user: _visible(CustodyNotice, user), {"acknowledge": _acknowledge})
DOORS = {"certificate": CERTIFICATES, "notice": NOTICES}
