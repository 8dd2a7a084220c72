"""Who may open the audit trail at all (403 otherwise): the one rule of :mod:`casehub.agencies.doors`,
used by the audit pages and the API alike.

The trail, its export and "verify now" are lists: 403 with the reason to a role without
``view_audit``. One event is an object: outside the auditor's region, or asked for by any other
role, it is 404 (:func:`casehub.audit.selectors.visible_events` is empty for them).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import ListDoor, any_capability

AUDIT_TRAIL = ListDoor("audit.trail", any_capability(p.VIEW_AUDIT), lambda: _("只有督察考核人员可以查看审计日志。"))
