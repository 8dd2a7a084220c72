"""Who sees a custody certificate 换押证 or change notice (404 otherwise) and who may act on one (403):
the one rule of :mod:`casehub.agencies.doors`, used by the custody pages and the API alike.

Seeing: the detention centre it is addressed to (its officers); an agency that sent or received
it (a certificate) or decided it (a notice); an agency that may see its case — each through a role
that reads cases or manages custody. Acting: only the centre's officers acknowledge.

The lists: the centre's pages (its inbox of items to acknowledge, its detainees) and the API's
detainee list are 403 to anyone but a detention officer; the API's lists of certificates and notices
are 403 to a role that reads neither. A single detainee record outside the officer's own centre, or
asked for by anyone else, is 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door, ListDoor, any_capability, nothing_for
from casehub.cases.selectors import CASE_READERS, visible_cases
from casehub.custody.models import CustodyCertificate, CustodyExtension, CustodyNotice, ExtensionStatus
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


def _visible_extensions(user: Any) -> QuerySet[Any]:
    """A custody-term extension (its signed decision): the police that asked, the procuratorate that
    received it and (once forwarded) the one that decides, or an agency that may see its case — through
    a role that reads cases or manages custody. The detention centre learns the new end by a notice."""
    if nothing_for(user) or is_detention_officer(user) or not any(p.has_capability(user, c) for c in CUSTODY_READERS):
        return CustodyExtension.objects.none()
    # The procuratorate that decides sees the request once it was forwarded to it.
    own = (Q(police_id=user.agency_id) | Q(received_by_id=user.agency_id)
           | (Q(recorded_by_id=user.agency_id) & ~Q(status=ExtensionStatus.REQUESTED)))
    return CustodyExtension.objects.filter(own | Q(case__in=visible_cases(user)))


def _forward(user: Any, ext: Any) -> str | None:
    if user.agency_id != ext.received_by_id or not p.has_capability(user, p.DECIDE_ARREST):
        return _("只有受理该申请的人民检察院可以审查报送。")
    return None


def _decide(user: Any, ext: Any) -> str | None:
    if user.agency_id != ext.recorded_by_id or not p.has_capability(user, p.DECIDE_ARREST):
        return _("只有有权决定的人民检察院可以作出延长侦查羁押期限的决定（刑事诉讼法第一百五十六条、第一百五十八条、第一百五十九条）。")
    return None


EXTENSIONS = Door("custody.extension", _visible_extensions, {
    "acknowledge": lambda user, item: _("延长侦查羁押期限决定书由看守所经变更羁押期限通知书获知，无需在此确认。"),
    "forward": _forward, "decide": _decide})
DOORS = {"certificate": CERTIFICATES, "notice": NOTICES, "extension": EXTENSIONS}

CENTRE_LIST = ListDoor("custody.centre", is_detention_officer, lambda: _("只有看守所民警可以查看在押人员。"))
ITEM_LIST = ListDoor("custody.items", lambda user: is_detention_officer(user) or any_capability(*CUSTODY_READERS)(user),
                     lambda: _("您的角色无权查看换押。"))
