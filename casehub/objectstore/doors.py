"""Who may open the integrity-sweep log (403 otherwise): the one rule of :mod:`casehub.agencies.doors`.
The log is a list for auditors; a download is a signed link issued after its object's own door."""

from __future__ import annotations

from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import ListDoor, any_capability

SWEEP_LOG = ListDoor("objectstore.sweeps", any_capability(p.VIEW_AUDIT), lambda: _("您的角色无权访问此页面。"))
