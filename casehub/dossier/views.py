"""Dossier pages: the case dossier (upload, order, assemble, progress) and the reading room.

Every view: login required, a capability check, objects only through the permission-filtered
selectors (another agency's case, document, volume or link answers 404), and every read of a
document or volume is an audit event (全程留痕).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from casehub.agencies import permissions as p
from casehub.agencies.models import AgencyKind
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.cases.models import Case
from casehub.cases.selectors import can_act
from casehub.dossier import ingest, services
from casehub.dossier.doors import DOSSIERS
from casehub.dossier.forms import (
    ChunkedStartForm,
    ConcernsForm,
    DocumentMetadataForm,
    DraftDocumentForm,
    UploadForm,
    WithdrawForm,
)
from casehub.dossier.limits import limit
from casehub.dossier.models import AssemblyJob, ChunkedUpload, Document, IngestJob, Part, VolumeStatus
from casehub.dossier.selectors import get_visible_document, get_visible_volume, readable_versions
from casehub.forms import add_service_errors
from casehub.objectstore.responses import object_response
from casehub.objectstore.views import corrupt_object_response
from storage import IntegrityError, StorageUnavailable

# The browser sends large files in pieces of this size (below DATA_UPLOAD_MAX_MEMORY_SIZE).
CHUNK_BYTES = 8 * 1024 * 1024


def _case_for_reader(request: HttpRequest, case_pk: Any) -> Case:
    # The one rule (casehub.dossier.doors, the same door as the API's): another agency's case is 404,
    # a role of one's own agency that reads no dossiers 403.
    return DOSSIERS.get(request.user, case_pk, "read")


def _can_upload(user: Any, case: Case) -> bool:
    return DOSSIERS.can(user, case, "upload")


def _current_documents(user: Any, case: Case) -> Any:
    return services.visible_documents(user, case).filter(is_current=True, owner_agency_id=user.agency_id)


# --- the case dossier page ---------------------------------------------------------------------


@login_required
@require_GET
def case_dossier(request: HttpRequest, case_pk: int) -> HttpResponse:
    return _dossier_page(request, _case_for_reader(request, case_pk))


def _dossier_page(request: HttpRequest, case: Case, form: Any = None, status: int = 200) -> HttpResponse:
    """The case dossier page; ``form``: the upload form as posted, when it failed (its input kept)."""
    user = request.user
    volumes = list(
        services.visible_volumes(user, case).select_related("agency").order_by("part", "agency_id", "number")
    )
    documents = list(
        services.visible_documents(user, case)
        .select_related("author_agency", "uploaded_by", "supersedes", "withdrawn_by")
        .order_by("position", "id")
    )
    by_volume: dict[int, list[Document]] = {}
    history, withdrawn = [], []
    for doc in documents:
        if doc.volume_id is not None:
            by_volume.setdefault(doc.volume_id, []).append(doc)
        if doc.withdrawn_at is not None:
            withdrawn.append(doc)
        elif doc.supersedes_id or not doc.is_current:
            history.append(doc)
    can_upload = _can_upload(user, case)
    can_assemble = p.has_capability(user, p.ASSEMBLE_VOLUME) and can_act(user, case)
    max_pages = limit("CASEHUB_VOLUME_MAX_PAGES")
    sections = []
    for volume in volumes:
        docs = by_volume.get(volume.pk, [])
        entry: dict[str, Any] = {"volume": volume, "documents": docs, "pages": sum(d.page_count for d in docs)}
        if volume.status == VolumeStatus.DRAFT:
            entry["editable"] = volume.agency_id == user.agency_id and can_upload
            groups = services.pack([d.page_count for d in docs], max_pages)
            # Where sealing will start a new volume, shown as a divider in the list.
            entry["breaks"] = {docs[group[0]].pk for group in groups[1:]}
            entry["predicted_volumes"] = len(groups)
        sections.append(entry)
    allow_work = user.agency is not None and user.agency.kind == AgencyKind.POLICE
    if form is None:
        form = DocumentMetadataForm(documents=_current_documents(user, case), allow_work_part=allow_work)
    return render(request, "dossier/case.html", {
        "case": case, "sections": sections, "history": history, "withdrawn": withdrawn, "can_upload": can_upload,
        "can_assemble": can_assemble, "form": form, "allow_work": allow_work, "max_pages": max_pages,
        "chunk_bytes": CHUNK_BYTES, "max_bytes": limit("CASEHUB_UPLOAD_MAX_BYTES"),
        "jobs": _recent_jobs(user, case),
    }, status=status)


def _recent_jobs(user: Any, case: Case) -> dict[str, Any]:
    ingest_jobs = list(IngestJob.objects.filter(case=case, agency_id=user.agency_id, dismissed_at__isnull=True)
                       .order_by("-created_at")[:20])
    assembly_jobs = list(AssemblyJob.objects.filter(case=case, agency_id=user.agency_id, dismissed_at__isnull=True)
                         .order_by("-created_at")[:5])
    running = any(not j.is_finished for j in ingest_jobs + assembly_jobs)
    finished = sum(1 for j in ingest_jobs + assembly_jobs if j.is_finished)
    return {"ingest": ingest_jobs, "assembly": assembly_jobs, "running": running, "finished": finished}


@login_required
@require_POST
def clear_jobs(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Clear the agency's finished jobs (done or failed) of a case from the progress panel, or one
    of them (``job``). Nothing of the dossier changes and the rows stay: a panel setting."""
    case = _case_for_reader(request, case_pk)
    now = timezone.now()
    cleared = 0
    for model in (IngestJob, AssemblyJob):
        jobs = model.objects.filter(case=case, agency_id=request.user.agency_id, dismissed_at__isnull=True,
                                    status__in=services.FINISHED)
        if request.POST.get("job"):
            try:
                jobs = jobs.filter(pk=uuid.UUID(request.POST["job"]))
            except ValueError:
                return HttpResponseBadRequest(_("任务编号无效。"))
        cleared += jobs.update(dismissed_at=now)
    if request.htmx:
        return render(request, "dossier/_jobs.html", {"case": case, "jobs": _recent_jobs(request.user, case),
                                                  "can_upload": _can_upload(request.user, case)})
    messages.info(request, _("已清除 %(n)s 个已结束的任务。") % {"n": cleared})
    return redirect("dossier:case", case_pk=case.pk)


@login_required
@require_GET
def case_jobs(request: HttpRequest, case_pk: int) -> HttpResponse:
    """The progress panel, polled by htmx every second while something is running."""
    case = _case_for_reader(request, case_pk)
    return render(request, "dossier/_jobs.html", {"case": case, "jobs": _recent_jobs(request.user, case),
                                                  "can_upload": _can_upload(request.user, case)})


@login_required
@require_POST
def retry_job(request: HttpRequest, kind: str, pk: str) -> HttpResponse:
    """Retry a stalled ingest or assembly job of the user's agency (the panel shows the button)."""
    model = {"ingest": IngestJob, "assembly": AssemblyJob}.get(kind)
    job = model.objects.filter(pk=pk, agency_id=request.user.agency_id).select_related("case").first() if model else None
    if job is None:
        raise Http404
    CASES.get(request.user, job.case_id)
    try:
        services.retry_job(job, acting_user=request.user)  # PermissionDenied: 403
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, _("已重新提交该任务。"))
    return redirect("dossier:case", case_pk=job.case_id)


# --- uploads -----------------------------------------------------------------------------------


def _metadata_form(request: HttpRequest, case: Case, form_class: type = DocumentMetadataForm) -> Any:
    user = request.user
    allow_work = user.agency is not None and user.agency.kind == AgencyKind.POLICE
    return form_class(request.POST, request.FILES or None, documents=_current_documents(user, case),
                      allow_work_part=allow_work)


def _ingest_from_form(request: HttpRequest, case: Case, form: Any, source: Any, filename: str) -> IngestJob:
    data = form.cleaned_data
    return services.ingest_upload(
        case=case, acting_user=request.user, uploaded_file_or_path=source, title=data["title"],
        category=data["category"], part=data["part"], doc_date=data.get("doc_date"),
        supersedes=data.get("supersedes"), reason=data.get("reason") or "", original_filename=filename,
    )


@login_required
@require_POST
def upload(request: HttpRequest, case_pk: int) -> HttpResponse:
    """Plain multipart upload of one file (works without JavaScript). A refusal — of the form, of the
    metadata by the service, or of the file by the pipeline (a failed job, also listed in the
    progress panel) — shows the page again with the form as filled in (only the file must be
    chosen again: no browser refills a file input) and the error next to its field."""
    case = DOSSIERS.get(request.user, case_pk, "upload")  # 404, then 403 with the reason
    form = _metadata_form(request, case, UploadForm)
    if not form.is_valid():
        return _dossier_page(request, case, form, status=400)
    try:
        job = _ingest_from_form(request, case, form, form.cleaned_data["file"], form.cleaned_data["file"].name)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _dossier_page(request, case, form, status=400)
    if job.status == "failed":
        # The request was carried out (the job is recorded, failed); the form stays for another file.
        message = f"{job.original_filename}：{job.message}"
        messages.error(request, message)
        form.add_error("file", message)
        return _dossier_page(request, case, form)
    messages.success(request, _("已接收 %(name)s，正在处理。") % {"name": job.original_filename})
    return redirect("dossier:case", case_pk=case.pk)


def _json_error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


@login_required
@require_POST
def chunked_start(request: HttpRequest, case_pk: int) -> JsonResponse:
    """Begin a chunked upload: checks permission and size before a single byte is sent."""
    case = DOSSIERS.get(request.user, case_pk, "upload")  # 404, then 403 with the reason
    form = ChunkedStartForm(request.POST)
    if not form.is_valid():
        return _json_error(_("上传参数无效。"))
    size = form.cleaned_data["size"]
    try:
        ingest.check_size(size)
    except ingest.IngestRejected as rejected:
        return _json_error(rejected.message)
    services.purge_stale_uploads(user=request.user)  # this user's abandoned uploads, cheaply
    staged = services.staging_dir() / f"{uuid.uuid4().hex}.part"
    staged.touch()
    chunked = ChunkedUpload.objects.create(
        case=case, created_by=request.user, filename=form.cleaned_data["filename"][:255], total_size=size,
        staged_path=str(staged),
    )
    return JsonResponse({
        "id": str(chunked.pk), "chunk_bytes": CHUNK_BYTES, "received": 0,
        "chunk_url": reverse("dossier:chunk", args=[chunked.pk]),
        "complete_url": reverse("dossier:chunk_complete", args=[chunked.pk]),
    })


def _own_chunked(request: HttpRequest, pk: Any) -> ChunkedUpload:
    try:
        chunked = ChunkedUpload.objects.select_related("case").get(pk=pk, created_by=request.user, completed=False)
    except (ChunkedUpload.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404 from exc
    CASES.get(request.user, chunked.case_id)  # still visible (404 otherwise)
    return chunked


@login_required
def chunk(request: HttpRequest, pk: uuid.UUID) -> JsonResponse:
    """Append one piece at ``?offset=``; GET tells how much arrived (to resume after a failure)."""
    chunked = _own_chunked(request, pk)
    if request.method == "GET":
        return JsonResponse({"received": chunked.received})
    if request.method != "POST":
        return _json_error(_("方法不允许。"), status=405)
    try:
        offset = int(request.GET.get("offset", "-1"))
    except ValueError:
        return _json_error(_("偏移量无效。"))
    try:
        locked = services.append_chunk(chunked, offset, request.body)
    except services.ChunkOutOfOrder as exc:
        return _json_error(_("分片顺序错误。"), status=409, received=exc.received)
    except services.ChunkSizeMismatch:
        return _json_error(_("分片大小与声明的文件大小不符。"))
    return JsonResponse({"received": locked.received})


@login_required
@require_POST
def chunk_complete(request: HttpRequest, pk: uuid.UUID) -> JsonResponse:
    """All pieces arrived: hand the file and its metadata to the ingest pipeline."""
    chunked = _own_chunked(request, pk)
    case = chunked.case
    services.check_can_upload(request.user, case)
    if chunked.received != chunked.total_size:
        return _json_error(_("文件尚未上传完整。"), received=chunked.received)
    form = _metadata_form(request, case)
    if not form.is_valid():
        return JsonResponse({"errors": {k: [str(e) for e in v] for k, v in form.errors.items()}}, status=400)
    try:
        job = _ingest_from_form(request, case, form, chunked.staged_path, chunked.filename)
    except ValidationError as exc:
        return _json_error("；".join(exc.messages))
    ChunkedUpload.objects.filter(pk=chunked.pk).update(completed=True)
    return JsonResponse({"job": str(job.pk), "status": job.status, "message": job.message,
                         "document": job.document_id})


# --- order and assembly ------------------------------------------------------------------------


@login_required
@require_POST
def reorder(request: HttpRequest, volume_pk: int) -> HttpResponse:
    volume = get_visible_volume(request.user, volume_pk)  # 404 to who may not see it
    DOSSIERS.check(request.user, volume.case, "upload")  # 403 with the reason: not the holder's uploader
    focus = ""
    try:
        ordered = [int(x) for x in request.POST.getlist("order")]
        move = request.POST.get("move", "")
        if move:  # an ↑/↓ button without JavaScript: move one place and save at once
            pk, _sep, direction = move.partition(":")
            ordered = _moved(ordered, int(pk), direction)
            focus = f"#doc-{int(pk)}"
        services.reorder_documents(volume=volume, acting_user=request.user, ordered_ids=ordered)
    except ValueError:
        return HttpResponseBadRequest(_("顺序参数无效。"))
    except ValidationError as exc:
        if request.htmx:
            return HttpResponse("；".join(exc.messages), status=409)
        messages.error(request, "；".join(exc.messages))
    else:
        if request.htmx:
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        messages.success(request, _("已保存卷内顺序（%(n)s 份材料）。") % {"n": len(ordered)})
    return redirect(f"{reverse('dossier:case', args=[volume.case_id])}{focus}")


def _moved(ordered: list[int], pk: int, direction: str) -> list[int]:
    """``ordered`` with ``pk`` one place up or down (unchanged at either end)."""
    if pk not in ordered or direction not in ("up", "down"):
        raise ValueError(direction)
    index = ordered.index(pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    return ordered


@login_required
@require_POST
def assemble(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = DOSSIERS.get(request.user, case_pk, "assemble")  # another agency's: 404; no such role: 403
    part = request.POST.get("part", Part.MAIN)
    if part not in Part.values:
        return HttpResponseBadRequest(_("卷别无效。"))
    job = services.start_assembly(case=case, acting_user=request.user, part=part)
    if job.status == "failed":
        messages.error(request, job.message)
    elif job.status == "done":
        messages.success(request, _("组卷完成。"))
    else:
        messages.info(request, _("组卷已开始，请稍候。"))
    return redirect("dossier:case", case_pk=case.pk)


# --- changing a draft document -----------------------------------------------------------------


def _draft_for_change(request: HttpRequest, pk: int) -> Document:
    doc = get_visible_document(request.user, pk)  # 404: not the user's to see
    services.check_can_change_draft(request.user, doc)  # 403: seen, but not changeable (says why)
    return doc


def _edit_page(request: HttpRequest, doc: Document, form: Any, withdraw: Any, status: int = 200) -> HttpResponse:
    return render(request, "dossier/document_edit.html", {
        "doc": doc, "case": doc.case, "form": form, "withdraw_form": withdraw,
    }, status=status)


@login_required
def document_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Retitle, re-date or re-categorise a draft document; the page also offers its withdrawal."""
    doc = _draft_for_change(request, pk)
    if request.method == "POST":
        form = DraftDocumentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.edit_draft_document(document=doc, acting_user=request.user, title=data["title"],
                                             category=data["category"], doc_date=data.get("doc_date"))
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                messages.success(request, _("已保存材料“%(title)s”的信息。") % {"title": data["title"].strip()})
                return redirect(f"{reverse('dossier:case', args=[doc.case_id])}#doc-{doc.pk}")
        return _edit_page(request, doc, form, WithdrawForm(), status=400)
    if request.method != "GET":
        return HttpResponse(status=405)
    form = DraftDocumentForm(initial={"title": doc.title, "category": doc.category, "doc_date": doc.doc_date})
    return _edit_page(request, doc, form, WithdrawForm())


@login_required
@require_POST
def document_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw a draft document (not yet sealed or sent); the record and the file are kept."""
    doc = _draft_for_change(request, pk)
    withdraw = WithdrawForm(request.POST)
    if withdraw.is_valid():
        services.withdraw_draft_document(document=doc, acting_user=request.user,
                                         reason=withdraw.cleaned_data["reason"])
        messages.success(request, _("已撤回材料“%(title)s”，它不会随案移送；文件和撤回记录仍保留。") % {"title": doc.title})
        return redirect("dossier:case", case_pk=doc.case_id)
    form = DraftDocumentForm(initial={"title": doc.title, "category": doc.category, "doc_date": doc.doc_date})
    return _edit_page(request, doc, form, withdraw, status=400)


# --- reading -----------------------------------------------------------------------------------


def _audit_read(request: HttpRequest, action: str, obj: Any, case_id: int, **details: Any) -> None:
    with transaction.atomic():
        record_event(action, actor=request.user, obj=obj, case=case_id, details=details)


@login_required
@require_GET
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _document_page(request, get_visible_document(request.user, pk))


def _can_mark(user: Any, doc: Document) -> bool:
    return DOSSIERS.can(user, doc.case, "mark_concerns")


def _document_page(request: HttpRequest, doc: Document, concerns_form: Any = None, status: int = 200) -> HttpResponse:
    """The document's page; ``concerns_form``: the marking of its persons as posted, when it failed."""
    versions = readable_versions(request.user, doc)
    newer = [v for v in versions if v.supersedes_id == doc.pk]
    signature = services.document_signature_status(doc)
    volume_signature = None
    if doc.volume is not None and doc.volume.status == VolumeStatus.ASSEMBLED:
        volume_signature = services.volume_signature_status(doc.volume)
    _audit_read(request, "document.viewed", doc, doc.case_id, title=doc.title, sha256=doc.sha256)
    concerns = list(doc.concerns.order_by("id"))
    can_mark = doc.is_current and _can_mark(request.user, doc)
    if concerns_form is not None and concerns_form.is_bound:
        checked = {int(v) for v in concerns_form.data.getlist("persons") if v.isdigit()}
    else:
        checked = {person.pk for person in concerns}
    return render(request, "dossier/document.html", {
        "doc": doc, "case": doc.case, "versions": versions, "newer": newer,
        "concerns": concerns, "can_mark": can_mark, "concerns_form": concerns_form, "concerns_checked": checked,
        "case_persons": list(doc.case.persons.order_by("id")) if can_mark else [],
        "signature": signature, "volume_signature": volume_signature,
        "file_url": reverse("dossier:document_file", args=[doc.pk]),
    }, status=status)


@login_required
@require_POST
def document_concerns(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark the persons a document concerns (the holder agency; anyone else: 404). Refused (a person
    no longer of the case, a version superseded meanwhile): the document's page again, with the
    boxes as the user ticked them and the reason next to them."""
    doc = get_visible_document(request.user, pk)  # 404 to who may not see it
    DOSSIERS.check(request.user, doc.case, "mark_concerns")  # 403 with the reason: not the holder's uploader
    form = ConcernsForm(request.POST, persons=doc.case.persons.all())
    if form.is_valid():
        try:
            services.mark_concerns(doc, persons=list(form.cleaned_data["persons"]), acting_user=request.user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("dossier:document", doc.pk)
    return _document_page(request, doc, concerns_form=form, status=400)


def _pdf_response(request: HttpRequest, obj: Any, stored: Any, filename: str, kind: str,
                  **details: Any) -> HttpResponse:
    """The PDF, inline (the reader's frame) or as an attachment (?download=1). ``{kind}.downloaded``
    is recorded once the last byte went out; a store that is down or bytes that no longer match
    their SHA-256 (checked before the first byte, F18.22) answer 503 and, like a stream that
    breaks, are recorded as ``{kind}.download_failed``."""
    inline = request.GET.get("download") != "1"

    def failed(reason: str) -> None:
        _audit_read(request, f"{kind}.download_failed", obj, obj.case_id, reason=reason, inline=inline, **details)

    try:
        response = object_response(
            stored, filename=filename, inline=inline, on_failed=failed,
            on_delivered=lambda: _audit_read(request, f"{kind}.downloaded", obj, obj.case_id, inline=inline,
                                             **details))
        # The reading room frames this PDF (same origin only); no page policy for the browser's viewer.
        response["Content-Security-Policy"] = "frame-ancestors 'self'"
        return response
    except IntegrityError as exc:
        failed(f"{exc.__class__.__name__}: {exc}")
        return corrupt_object_response(stored.sha256)
    except StorageUnavailable as exc:
        failed(f"{exc.__class__.__name__}: {exc}")
        return HttpResponse(_("存储服务暂不可用，请稍后重试。"), status=503, content_type="text/plain; charset=utf-8")


@xframe_options_sameorigin
@login_required
@require_GET
def document_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The document's PDF, inline (for the reader's frame) or as an attachment (?download=1)."""
    doc = get_visible_document(request.user, pk)
    return _pdf_response(request, doc, doc.stored, f"{doc.title}.pdf", "document", title=doc.title,
                         sha256=doc.sha256)


@login_required
@require_GET
def volume_detail(request: HttpRequest, pk: int) -> HttpResponse:
    volume = get_visible_volume(request.user, pk)
    docs = list(volume.documents.select_related("author_agency").order_by("position", "id"))
    for doc in docs:
        # #page= in the viewer counts the unnumbered contents pages in front.
        doc.viewer_page = (doc.first_page or 1) + volume.contents_page_count
    signature = services.volume_signature_status(volume) if volume.status == VolumeStatus.ASSEMBLED else None
    _audit_read(request, "volume.viewed", volume, volume.case_id, number=volume.number, part=volume.part,
                sha256=volume.sha256)
    return render(request, "dossier/volume.html", {
        "volume": volume, "case": volume.case, "documents": docs, "signature": signature,
        "file_url": reverse("dossier:volume_file", args=[volume.pk]) if volume.assembled_id else "",
    })


@xframe_options_sameorigin
@login_required
@require_GET
def volume_file(request: HttpRequest, pk: int) -> HttpResponse:
    volume = get_visible_volume(request.user, pk)
    if volume.assembled is None:
        raise Http404
    return _pdf_response(request, volume, volume.assembled, f"{volume.title or volume.number}.pdf", "volume",
                         number=volume.number, sha256=volume.sha256)


