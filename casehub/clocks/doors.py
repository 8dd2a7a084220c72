"""Who may open the deadline lists (403 otherwise): the one rule of :mod:`casehub.agencies.doors`,
used by the clock pages and the API alike.

A clock has no page of its own: it is read through its agency's list or its case's list. The
agency's list is 403 to a role that works on no cases (an administrator, an auditor, a detention
officer). A case's list is first the case's door (404 for a case the user may not see), then this
one (403 for a role that sees the case but reads no clocks).
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from casehub.agencies.doors import ListDoor, any_capability
from casehub.cases.selectors import CASE_READERS

CLOCK_LIST = ListDoor("clocks", any_capability(*CASE_READERS), lambda: _("您的角色无权查看办案期限。"))
