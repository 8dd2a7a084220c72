"""Who may open the circulation metrics (403 otherwise): the one rule of :mod:`casehub.agencies.doors`,
used by the dashboard pages and the API alike. The metrics are aggregates over the auditor's region:
lists, with no object to hide, so any other role gets 403 with the reason."""

from __future__ import annotations

from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import ListDoor, any_capability

METRICS = ListDoor("metrics", any_capability(p.VIEW_METRICS), lambda: _("只有督察考核人员可以查看考核统计。"))
