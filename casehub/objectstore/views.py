"""Object-store pages: the directory backend's signed download view and the auditor's sweep log.

The download view does not check case permissions: the link was issued by a caller that did
(see :func:`casehub.objectstore.services.download_url`), and the signed token names one object,
one file name and an expiry. It still requires a logged-in user, so a leaked link is useless
outside an authenticated intranet session.
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from casehub.audit.services import record_event
from casehub.objectstore.doors import SWEEP_LOG
from casehub.objectstore.models import StorageSweep
from casehub.objectstore.services import LinkExpired, open_for_delivery, read_download_token
from storage import IntegrityError, ObjectNotFound, StorageUnavailable
from storage.base import content_disposition

SWEEPS_SHOWN = 20
SAFE_INLINE_TYPES = frozenset({
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "text/plain",
})


logger = logging.getLogger("casehub.objectstore")


def corrupt_object_response(sha256: str) -> HttpResponse:
    """503 for an object whose stored bytes no longer match their SHA-256 (THREAT_MODEL F18.22):
    not one byte of it is sent. The integrity sweep lists it for the operators."""
    logger.error("refused to deliver object %s: its stored bytes do not match its SHA-256", sha256)
    return HttpResponse(
        _("文件完整性校验失败：存储中的内容与登记的 SHA-256 摘要不符，已拒绝发送。请联系系统管理员从备份恢复。"),
        status=503, content_type="text/plain; charset=utf-8",
    )


def _problem_labels() -> dict[str, str]:
    return {"missing": _("缺失"), "corrupt": _("损坏"), "unreadable": _("无法读取"), "unreferenced": _("未被引用")}


@require_GET
@login_required
def download(request: HttpRequest, token: str) -> HttpResponse:
    try:
        payload = read_download_token(token)
    except LinkExpired:
        return HttpResponse(_("下载链接已过期，请重新打开文件。"), status=410, content_type="text/plain; charset=utf-8")
    except (signing.BadSignature, ValueError) as exc:
        raise Http404(_("下载链接无效。")) from exc
    if "u" in payload and payload["u"] != request.user.pk:
        # A link bound to another user's session: answer as if it did not exist.
        raise Http404(_("下载链接无效。"))
    try:
        # Verified before the first byte up to CASEHUB_VERIFY_BEFORE_SEND_BYTES; larger objects
        # are cut short before their last chunk (see open_for_delivery).
        body = open_for_delivery(payload["h"])
    except ObjectNotFound as exc:
        raise Http404(_("文件不存在。")) from exc
    except StorageUnavailable:
        return HttpResponse(_("存储服务暂不可用，请稍后重试。"), status=503, content_type="text/plain; charset=utf-8")
    except IntegrityError:
        return corrupt_object_response(payload["h"])
    # The link was issued (and audited) by a view that checked permission; its use is recorded too.
    record_event("object.downloaded", actor=request.user,
                 details={"sha256": payload["h"], "filename": payload["f"], "bound_to_user": "u" in payload})
    content_type = payload["t"]
    # Only types a browser renders without running anything are shown inline; anything else
    # (HTML, SVG, …) is always a download, so a stored file can never script our origin.
    inline = bool(payload["i"]) and content_type.split(";")[0].strip().lower() in SAFE_INLINE_TYPES
    response = FileResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition(payload["f"], inline=inline)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    if inline:
        response["X-Frame-Options"] = "SAMEORIGIN"  # the dossier viewer may embed it
    else:
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Casehub-SHA256"] = payload["h"]
    return response


@login_required
def sweeps(request: HttpRequest) -> HttpResponse:
    """The integrity-sweep log for auditors (CASEHUB_STORAGE_SWEEP_INTERVAL drives the schedule)."""
    SWEEP_LOG.check(request.user)
    recent = list(StorageSweep.objects.all()[:SWEEPS_SHOWN])
    latest = recent[0] if recent else None
    labels = _problem_labels()
    problems = [{**item, "label": labels.get(item.get("problem", ""), item.get("problem", ""))}
                for item in (latest.problems if latest else [])]
    return render(request, "objectstore/sweeps.html", {"sweeps": recent, "latest": latest, "problems": problems})
