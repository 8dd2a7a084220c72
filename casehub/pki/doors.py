"""Who may open the PKI pages (403 otherwise): the one rule of :mod:`casehub.agencies.doors`.

Both are lists with no object to hide: the certificate list (agency administrators see their own
agency's certificates, auditors every agency's) and the signature check of an uploaded PDF (the
roles that receive signed documents). The trust bundle and the CRL are public to every user.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import ListDoor, any_capability

CERTIFICATE_VIEWERS = (p.MANAGE_AGENCY_USERS, p.VIEW_AUDIT)
VERIFIERS = (p.READ_DOSSIER, p.REVIEW_INCOMING, p.VIEW_AUDIT, p.ACKNOWLEDGE_CUSTODY)

CERTIFICATE_LIST = ListDoor("pki.certificates", any_capability(*CERTIFICATE_VIEWERS),
                            lambda: _("您的角色无权访问此页面。"))
VERIFY = ListDoor("pki.verify", any_capability(*VERIFIERS), lambda: _("您的角色无权访问此页面。"))
