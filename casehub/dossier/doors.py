"""Who sees a case's dossier (404 otherwise) and who may read or add to it (403): the one rule of
:mod:`casehub.agencies.doors`, used by the dossier pages and the API alike.

Seeing: the cases the user may see (:data:`casehub.cases.doors.CASES`: the agency's cases, through a
role that works with cases — a role that reads none gets 404, not 403).
Acting: reading the dossier needs a role that reads dossiers, assembling volumes one that assembles
them (whether the agency may assemble this case now is the service's check); adding documents is the handling
agency's uploaders' (:func:`casehub.dossier.services.check_can_upload`, which the services check
again whatever the caller).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door
from casehub.cases.doors import CASES
from casehub.cases.models import Case
from casehub.cases.selectors import can_act


def _read(user: Any, case: Case) -> str | None:
    return None if p.has_capability(user, p.READ_DOSSIER) else _("您的角色无权阅卷。")


def _assemble(user: Any, case: Case) -> str | None:
    return None if p.has_capability(user, p.ASSEMBLE_VOLUME) else _("您的角色无权组卷。")


def _upload(user: Any, case: Case) -> str | None:
    from casehub.dossier.services import check_can_upload

    try:
        check_can_upload(user, case)
    except PermissionDenied as exc:
        return str(exc) or _("您所在机关当前不承办此案件，不能上传材料。")
    return None


def _mark_concerns(user: Any, case: Case) -> str | None:
    if not p.has_capability(user, p.UPLOAD_DOCUMENT) or not can_act(user, case):
        return _("您所在机关当前不承办此案件，不能标注材料。")
    return None


DOSSIERS = Door("dossier", CASES.visible, {"read": _read, "assemble": _assemble, "upload": _upload,
                                           "mark_concerns": _mark_concerns})
