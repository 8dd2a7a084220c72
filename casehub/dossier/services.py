"""Service functions of the dossier: the only code that changes documents and volumes.

Each state change runs in one transaction with the case row locked and writes one audit event
there (STYLE.md §1). Heavy work (validating and storing uploads, building volume PDFs) runs
outside the lock; only the final recording step takes it.

Interfaces other apps use:

- :func:`ingest_upload` — queue an uploaded file for the ingest pipeline (Celery; eager in tests).
- :func:`main_file_documents` — the current versions of the main-file 正卷 documents of a case.
- :func:`seal_and_assemble_main_volumes` — seal, assemble and sign the main-file volumes (the
  transfer engine calls it when a case is sent; idempotent for an unchanged dossier).
- :func:`add_generated_document` — file an engine-generated PDF synchronously.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies.models import AgencyKind
from casehub.agencies.permissions import READ_DOSSIER, UPLOAD_DOCUMENT, has_capability
from casehub.audit.services import record_event
from casehub.cases.models import Case
from casehub.cases.selectors import can_act
from casehub.dossier import ingest
from casehub.dossier.assembly import Entry, build_volume_pdf, pack
from casehub.dossier.limits import limit
from casehub.dossier.models import (
    CATEGORY_ORDER,
    AssemblyJob,
    Category,
    ChunkedUpload,
    Document,
    IngestJob,
    JobStatus,
    Part,
    Volume,
    VolumeStatus,
)
from casehub.objectstore import services as objectstore
from casehub.pdfgen import ContentsRow
from storage import StorageUnavailable

logger = logging.getLogger(__name__)


# --- reading -----------------------------------------------------------------------------------


def visible_documents(user: Any, case: Case) -> QuerySet[Document]:
    """Documents of ``case`` the user may read. The caller got ``case`` from ``get_visible_case``;
    on top of that an agency reads its own documents and the main-file documents that reached it
    in a package it received — never another agency's work file 副卷 (DESIGN.md §3), nor what a
    later agency added unless it was sent back (docs/workflow.md, permission table)."""
    from casehub.transfers.selectors import document_access_filter

    if not has_capability(user, READ_DOSSIER) or user.agency_id is None:
        return Document.objects.none()
    return Document.objects.filter(case=case).filter(document_access_filter(user.agency_id))


def visible_volumes(user: Any, case: Case) -> QuerySet[Volume]:
    """Volumes of ``case`` the user may read: its agency's own, and main-file volumes it received."""
    from casehub.transfers.selectors import volume_access_filter

    if not has_capability(user, READ_DOSSIER) or user.agency_id is None:
        return Volume.objects.none()
    return Volume.objects.filter(case=case).filter(volume_access_filter(user.agency_id))


def main_file_documents(case: Case) -> QuerySet[Document]:
    """Current versions of the case's main-file documents, in binding order."""
    return (
        Document.objects.filter(case=case, part=Part.MAIN, is_current=True)
        .select_related("volume", "author_agency", "stored")
        # Sealed volumes in the order they were sealed, the draft (no sealing time) last, on every
        # database (SQLite and PostgreSQL sort NULLs differently by default).
        .order_by(F("volume__sealed_at").asc(nulls_last=True), "volume__number", "position", "id")
    )


# --- ingest ------------------------------------------------------------------------------------


def staging_dir() -> Path:
    """Uploads wait here, outside the object store, until validated. Workers must see the same
    directory (a shared volume when web and workers run on different machines)."""
    path = Path(settings.DATA_DIR) / "ingest" / "staged"
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_can_upload(user: Any, case: Case, part: str = Part.MAIN) -> None:
    """Raise PermissionDenied unless ``user`` may add documents to ``case`` now.

    Only the agency currently handling the case compiles its dossier: the police until they send
    it with the case (CPL art. 162), then the procuratorate (art. 176), then the court.
    """
    if not has_capability(user, UPLOAD_DOCUMENT) or not can_act(user, case):
        raise PermissionDenied(_("您所在机关当前不承办此案件，不能上传材料。"))
    if part == Part.WORK and user.agency.kind != AgencyKind.POLICE:
        raise PermissionDenied(_("只有公安机关可以建立侦查工作卷（副卷）。"))


def _clean_metadata(*, case: Case, acting_user: Any, title: str, category: str, part: str,
                    supersedes: Document | None, reason: str) -> str:
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("请填写材料标题。")
    if category not in Category.values:
        errors["category"] = _("材料类别无效。")
    if part not in Part.values:
        errors["part"] = _("卷别无效。")
    if supersedes is not None:
        if (supersedes.case_id != case.pk or not supersedes.is_current or supersedes.part != part
                or supersedes.owner_agency_id != acting_user.agency_id):
            errors["supersedes"] = _("只能更正本机关归档的、本案同一卷别中的现行材料。")
        if not (reason or "").strip():
            errors["reason"] = _("更正材料须说明理由。")
    if errors:
        raise ValidationError(errors)
    return title


def _stage(uploaded: UploadedFile | str | os.PathLike) -> tuple[Path, str, int]:
    """Put the upload in the staging directory; returns (path, original filename, size).

    A path already inside the staging directory (a finished chunked upload) is taken over; any
    other path is copied, so the caller's file is left alone.
    """
    target_dir = staging_dir()
    import uuid

    target = target_dir / f"{uuid.uuid4().hex}.upload"
    if isinstance(uploaded, str | os.PathLike):
        source = Path(uploaded).resolve()
        if source.parent == target_dir.resolve():
            os.replace(source, target)
        else:
            shutil.copyfile(source, target)
        name = source.name
    else:
        with target.open("wb") as fh:
            for chunk in uploaded.chunks():
                fh.write(chunk)
        name = os.path.basename(uploaded.name or "")
    return target, name[:255], target.stat().st_size


def ingest_upload(
    *,
    case: Case,
    acting_user: Any,
    uploaded_file_or_path: UploadedFile | str | os.PathLike,
    title: str,
    category: str,
    part: str = Part.MAIN,
    doc_date: date | None = None,
    supersedes: Document | None = None,
    reason: str = "",
    original_filename: str = "",
) -> IngestJob:
    """Accept an upload for the ingest pipeline and queue it; returns the job to poll.

    Raises PermissionDenied (not the holder, no capability) or ValidationError (bad metadata)
    before anything is staged. Whether the *file* is acceptable is decided by the pipeline; a
    rejected file ends as a failed job with the reason, and nothing is stored.
    """
    check_can_upload(acting_user, case, part)
    title = _clean_metadata(case=case, acting_user=acting_user, title=title, category=category, part=part,
                            supersedes=supersedes, reason=reason)
    staged, name, size = _stage(uploaded_file_or_path)
    job = IngestJob.objects.create(
        case=case, agency=acting_user.agency, created_by=acting_user, part=part, category=category, title=title,
        doc_date=doc_date, supersedes=supersedes, reason=(reason or "").strip(),
        original_filename=(original_filename or name)[:255], staged_path=str(staged), size=size,
    )
    _dispatch("casehub.dossier.tasks.ingest_document", str(job.pk))
    job.refresh_from_db()
    return job


def purge_stale_uploads(*, older_than: timedelta = timedelta(hours=24), user: Any = None) -> int:
    """Remove chunked uploads abandoned before ``older_than`` (and their partial files), staged
    files no job refers to any more, and working directories of ingest/assembly runs untouched
    since ``older_than`` (both left by a crashed worker: plaintext copies of case documents, so
    personal data as well as disk). Housekeeping of temporary data: nothing of the dossier
    changes, so there is no audit event. Returns the number removed."""
    cutoff = timezone.now() - older_than
    stale = ChunkedUpload.objects.filter(completed=False, created_at__lt=cutoff)
    if user is not None:
        stale = stale.filter(created_by=user)
    removed = 0
    for upload in stale:
        ingest.remove_quietly(upload.staged_path)
        upload.delete()
        removed += 1
    if user is None:
        referenced = set(IngestJob.objects.exclude(staged_path="").values_list("staged_path", flat=True))
        referenced |= set(ChunkedUpload.objects.filter(completed=False).values_list("staged_path", flat=True))
        for path in staging_dir().iterdir():
            if str(path) not in referenced and path.stat().st_mtime < cutoff.timestamp():
                ingest.remove_quietly(path)
                removed += 1
        for workdir in ingest.work_root().glob("tmp*"):
            # A live run touches its directory with every file it writes; a day without is a dead run.
            if workdir.is_dir() and _newest_mtime(workdir) < cutoff.timestamp():
                shutil.rmtree(workdir, ignore_errors=True)
                removed += 1
    return removed


def _newest_mtime(directory: Path) -> float:
    return max([directory.stat().st_mtime, *(p.stat().st_mtime for p in directory.rglob("*"))])


def _dispatch(task_name: str, *args: Any) -> None:
    """Queue a task after commit; with the embedded default (eager) run it now, in this process."""
    from casehub.dossier import tasks

    task = {"casehub.dossier.tasks.ingest_document": tasks.ingest_document,
            "casehub.dossier.tasks.assemble_volumes": tasks.assemble_volumes}[task_name]
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task.apply(args=args)
    else:
        transaction.on_commit(lambda: task.delay(*args))


FINISHED = (JobStatus.DONE, JobStatus.FAILED)


def _unfinished(job: IngestJob | AssemblyJob) -> Any:
    """The job's row, unless it is finished. Every write of a run goes through this: a task the
    broker delivered twice (a run outlasting the visibility timeout, a user's retry) must never
    turn a finished job back to "running", nor a done one into failed."""
    return type(job).objects.filter(pk=job.pk).exclude(status__in=FINISHED)


def _set_progress(job: IngestJob | AssemblyJob, *, step: str, progress: int, status: str = JobStatus.RUNNING) -> None:
    job.step, job.progress, job.status = step, progress, status
    _unfinished(job).update(step=step, progress=progress, status=status, updated_at=timezone.now())


def run_ingest_job(job_id: str) -> IngestJob:
    """The body of the ingest task: run the pipeline for one job and record the result."""
    job = IngestJob.objects.select_related("case", "created_by", "agency", "supersedes").get(pk=job_id)
    if job.is_finished:
        return job  # a redelivered task after success or rejection: nothing to do
    workdir = ingest.make_workdir()
    ctx = ingest.IngestContext(source=Path(job.staged_path), workdir=workdir)

    def store(c: ingest.IngestContext) -> None:
        assert c.pdf_path is not None
        with c.pdf_path.open("rb") as fh:
            c.stored = objectstore.store_stream(fh, content_type="application/pdf", size=c.pdf_path.stat().st_size)

    def record(c: ingest.IngestContext) -> None:
        c.document = _record_document(job, c)

    steps = [
        ingest.Step("validate", _("检查文件"), ingest.step_validate),
        ingest.Step("normalise", _("转换为 PDF"), ingest.step_normalise),
        ingest.Step("store", _("计算哈希并存储"), store),
        ingest.Step("count", _("统计页数"), ingest.step_count_pages),
        ingest.Step("record", _("登记入卷"), record),
    ]
    try:
        if not ctx.source.is_file():
            raise ingest.IngestRejected(_("上传的文件已不存在，请重新上传。"), code="missing")
        ingest.run_pipeline(ctx, steps, lambda step, pct: _set_progress(job, step=step.name, progress=pct))
    except ingest.IngestRejected as rejected:
        _fail(job, rejected.message, code=rejected.code, ctx=ctx)
    except PermissionDenied as denied:
        _fail(job, str(denied), code="permission", ctx=ctx)
    except StorageUnavailable:
        logger.warning("ingest job %s: object store unavailable", job.pk, exc_info=True)
        _fail(job, _("对象存储暂时不可用，文件未入卷。请稍后重新上传。"), code="storage_unavailable", ctx=ctx)
    except Exception:
        logger.exception("ingest job %s failed", job.pk)
        _fail(job, _("处理过程中发生内部错误，文件未入卷。请重试或联系系统管理员。"), code="internal", ctx=ctx)
    finally:
        ingest.remove_quietly(job.staged_path)
        shutil.rmtree(workdir, ignore_errors=True)
    job.refresh_from_db()
    return job


def _fail(job: IngestJob, message: str, *, code: str, ctx: ingest.IngestContext) -> None:
    # The refused bytes are not kept, so the trail keeps their fingerprint: whoever later holds a
    # copy of the file can prove it is the one that was refused (None if the file was already gone).
    sha256 = ctx.original_sha256 or ingest.file_sha256(ctx.source)
    with transaction.atomic():
        if not _unfinished(job).update(
            status=JobStatus.FAILED, message=message, finished_at=timezone.now(), updated_at=timezone.now(),
            staged_path="",
        ):
            return  # another delivery of this task finished the job: its outcome stands
        record_event(
            "document.rejected", actor=job.created_by, agency=job.agency, obj=job.case, case=job.case,
            details={"filename": job.original_filename, "size": job.size, "sha256": sha256, "code": code,
                     "reason": message},
        )


def _lock_case(case_id: int) -> Case:
    return Case.objects.select_for_update().get(pk=case_id)


def _draft_volume(case: Case, part: str, agency: Any) -> Volume:
    """The draft volume of (case, part, agency), created on first use. Call with the case locked."""
    volume = Volume.objects.filter(case=case, part=part, agency=agency, status=VolumeStatus.DRAFT).first()
    if volume is None:
        last = Volume.objects.filter(case=case, part=part, agency=agency).aggregate(n=Max("number"))["n"] or 0
        volume = Volume.objects.create(case=case, part=part, agency=agency, number=last + 1)
    return volume


def _insert_position(volume: Volume, category: str) -> int:
    """Where a new document goes by default: after the last one of the same or an earlier
    category (procedural documents first, then evidence …); later ones move down by one."""
    rank = CATEGORY_ORDER.get(category, len(CATEGORY_ORDER))
    docs = list(volume.documents.order_by("position", "id").values_list("pk", "position", "category"))
    position = 1
    for _pk, pos, cat in docs:
        if CATEGORY_ORDER.get(cat, len(CATEGORY_ORDER)) <= rank:
            position = pos + 1
    to_shift = [pk for pk, pos, _cat in docs if pos >= position]
    if to_shift:
        Document.objects.filter(pk__in=to_shift).update(position=F("position") + 1)
    return position


def _record_document(job: IngestJob, ctx: ingest.IngestContext) -> Document | None:
    """File the stored PDF and finish the job in one transaction; a second delivery of the same
    task finds the job finished under the lock and files nothing (returns the first's document)."""
    user = job.created_by
    with transaction.atomic():
        case = _lock_case(job.case_id)
        locked_job = IngestJob.objects.select_for_update().get(pk=job.pk)
        if locked_job.is_finished:
            return locked_job.document
        # The case may have been transferred while the file was processed (CPL art. 162: once sent,
        # the dossier belongs to the receiving stage); the sender can no longer add to it.
        check_can_upload(user, case, job.part)
        document = _create_document(
            case=case, user=user, part=job.part, category=job.category, title=job.title, doc_date=job.doc_date,
            stored=ctx.stored, page_count=ctx.page_count, original_filename=job.original_filename,
            original_sha256=ctx.original_sha256, original_content_type=ingest.CONTENT_TYPES.get(ctx.kind or "", ""),
            converted=ctx.converted, supersedes=job.supersedes, reason=job.reason,
        )
        record_event(
            "document.uploaded", actor=user, agency=user.agency, obj=document, case=case,
            details={
                "title": document.title, "category": document.category, "part": document.part,
                "sha256": document.sha256, "pages": document.page_count, "size": document.size,
                "filename": document.original_filename, "converted": document.converted,
                "original_sha256": document.original_sha256,
                "supersedes": document.supersedes_id, "reason": document.reason,
            },
        )
        now = timezone.now()
        IngestJob.objects.filter(pk=job.pk).update(
            status=JobStatus.DONE, progress=100, step="done", document=document, finished_at=now, updated_at=now,
            message="", staged_path="",
        )
    return document


def _create_document(*, case: Case, user: Any, part: str, category: str, title: str, doc_date: date | None,
                     stored: Any, page_count: int, original_filename: str = "", original_sha256: str = "",
                     original_content_type: str = "", converted: bool = False, generated: bool = False,
                     supersedes: Document | None = None, reason: str = "") -> Document:
    """Create the row and place it in the draft volume. Call inside a transaction with the case locked."""
    agency = user.agency
    volume = _draft_volume(case, part, agency)
    position = None
    if supersedes is not None:
        supersedes = Document.objects.select_for_update().get(pk=supersedes.pk)
        if not supersedes.is_current:
            raise ValidationError({"supersedes": _("该材料已被更正，请基于最新版本更正。")})
        if supersedes.volume_id == volume.pk:
            # A correction takes the corrected document's place in the draft volume.
            position = supersedes.position
            Document.objects.filter(pk=supersedes.pk).update(is_current=False, volume=None)
        else:
            Document.objects.filter(pk=supersedes.pk).update(is_current=False)
    if position is None:
        position = _insert_position(volume, category)
    return Document.objects.create(
        case=case, part=part, category=category, title=title, doc_date=doc_date, author_agency=agency,
        owner_agency=agency, page_count=page_count, size=stored.size, sha256=stored.sha256, stored=stored,
        original_filename=original_filename, original_sha256=original_sha256 or stored.sha256,
        original_content_type=original_content_type or "application/pdf", converted=converted, generated=generated,
        uploaded_by=user, supersedes=supersedes, reason=reason, is_current=True, volume=volume, position=position,
    )


def issued_pdf(pdf_bytes: bytes, *, agency: Any, title: str) -> bytes:
    """The PDF as the agency issues it (PAdES-signed, :func:`sign_issued_document`) — an artifact of
    the unsigned bytes, prepared by the workflow engine before its transaction when it can be."""
    import hashlib

    from casehub.objectstore.prepared import artifact

    recipe = {"kind": "dossier.issued", "pdf": hashlib.sha256(pdf_bytes).hexdigest(), "agency": agency.code,
              "title": title.strip()}
    return artifact(recipe, lambda: sign_issued_document(pdf_bytes, agency, title=title.strip()),
                    label=f"signed {title.strip()}")


def describe_generated_pdf(pdf_bytes: bytes, *, title: str, category: str) -> dict[str, Any]:
    """What :func:`add_generated_document` will file for these bytes, for the engine's prepare
    phase (:func:`prepare_main_volumes`): SHA-256, pages, title and category."""
    import hashlib
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        page_count = len(pdf.pages)
    return {"sha256": hashlib.sha256(pdf_bytes).hexdigest(), "page_count": page_count, "title": title.strip(),
            "category": category}


def add_generated_document(
    *, case: Case, acting_user: Any, title: str, category: str, pdf_bytes: bytes, part: str = Part.MAIN,
    sign: bool = True,
) -> Document:
    """File a PDF the platform generated (certificate, decision, receipt …) into the dossier.

    Synchronous and trusted (the engine made it), so it skips the active-content scan but still
    refuses bytes that are not a readable PDF. The caller is responsible for permission; the
    document lands in ``acting_user``'s agency's draft volume of ``part``. Every document an
    agency issues carries its signature (docs/pki.md): with ``sign`` (the default) the PDF is
    PAdES-signed by ``acting_user``'s agency before it is stored, the visible stamp on its last page.
    """
    import io

    import pikepdf

    if category not in Category.values or part not in Part.values or not (title or "").strip():
        raise ValidationError(_("生成文书的标题、类别或卷别无效。"))
    try:
        with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
            page_count = len(pdf.pages)
    except pikepdf.PdfError as exc:
        raise ValidationError(_("生成的文书不是有效的 PDF。")) from exc
    if sign:
        pdf_bytes = issued_pdf(pdf_bytes, agency=acting_user.agency, title=title)
    stored = objectstore.store_bytes(pdf_bytes, content_type="application/pdf")
    with transaction.atomic():
        locked = _lock_case(case.pk)
        document = _create_document(
            case=locked, user=acting_user, part=part, category=category, title=title.strip(),
            doc_date=timezone.localdate(), stored=stored, page_count=page_count, generated=True,
            original_filename=f"{title.strip()}.pdf"[:255],
        )
        record_event(
            "document.generated", actor=acting_user, agency=acting_user.agency, obj=document, case=locked,
            details={"title": document.title, "category": category, "part": part, "sha256": document.sha256,
                     "pages": page_count},
        )
    return document


# --- changing a draft document -----------------------------------------------------------------


def check_can_change_draft(user: Any, document: Document) -> None:
    """Raise PermissionDenied unless ``user`` may retitle, re-date, re-categorise or withdraw
    ``document`` now: the agency that filed it, while it handles the case, and only while the
    document sits in that agency's draft volume (never sealed, so never sent). A generated
    document is the record of a transition and stays as the engine filed it."""
    check_can_upload(user, document.case, document.part)
    if document.owner_agency_id != user.agency_id:
        raise PermissionDenied(_("只能修改本机关归档的材料。"))
    volume = document.volume
    if not document.is_current or volume is None or volume.status != VolumeStatus.DRAFT:
        raise PermissionDenied(_("材料已封卷或已被更正，不能再修改；如有错误请上传更正材料。"))
    if volume.agency_id != user.agency_id:
        raise PermissionDenied(_("只能修改本机关的卷。"))
    if document.generated:
        raise PermissionDenied(_("系统生成的文书不能修改或撤回。"))


def _locked_draft(document: Document, acting_user: Any) -> Document:
    """Lock the case and the document, and check again under the lock (a concurrent sealing or
    sending may have fixed the document since the page was shown)."""
    _lock_case(document.case_id)
    locked = Document.objects.select_for_update(of=("self",)).select_related("case", "volume").get(pk=document.pk)
    check_can_change_draft(acting_user, locked)
    return locked


def edit_draft_document(*, document: Document, acting_user: Any, title: str, category: str,
                        doc_date: date | None) -> Document:
    """Retitle, re-date or re-categorise a draft document (before sealing); one audit event with
    the old and new values. Returns the document (unchanged, and nothing recorded, when nothing
    changed)."""
    title = (title or "").strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = _("请填写材料标题。")
    if category not in Category.values:
        errors["category"] = _("材料类别无效。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _locked_draft(document, acting_user)
        new = {"title": title[:200], "category": category, "doc_date": doc_date}
        changes = {field: [_plain(getattr(locked, field)), _plain(value)]
                   for field, value in new.items() if getattr(locked, field) != value}
        if not changes:
            return locked
        for field, value in new.items():
            setattr(locked, field, value)
        locked.save(update_fields=list(new))
        record_event(
            "document.edited", actor=acting_user, agency=acting_user.agency, obj=locked, case=locked.case_id,
            details={"title": locked.title, "changes": changes},
        )
    return locked


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def withdraw_draft_document(*, document: Document, acting_user: Any, reason: str) -> Document:
    """Withdraw a draft document uploaded by mistake: it leaves the draft volume and is no longer
    current, but the row, its stored bytes and the trail stay (nothing is destroyed). If it was a
    correction, the version it corrected becomes current again, in its old place when that was
    the same draft volume."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请说明撤回理由。")})
    with transaction.atomic():
        locked = _locked_draft(document, acting_user)
        volume, position = locked.volume, locked.position
        locked.is_current = False
        locked.volume = None
        locked.withdrawn_at = timezone.now()
        locked.withdrawn_by = acting_user
        locked.withdrawal_reason = reason[:2000]
        locked.save(update_fields=["is_current", "volume", "withdrawn_at", "withdrawn_by", "withdrawal_reason"])
        restored = None
        if locked.supersedes_id is not None:
            older = Document.objects.select_for_update().get(pk=locked.supersedes_id)
            if not older.is_current and older.withdrawn_at is None:
                older.is_current = True
                fields = ["is_current"]
                if older.volume_id is None:  # it had left this draft volume for its correction
                    older.volume, older.position = volume, position
                    fields += ["volume", "position"]
                older.save(update_fields=fields)
                restored = older.pk
        record_event(
            "document.withdrawn", actor=acting_user, agency=acting_user.agency, obj=locked, case=locked.case_id,
            details={"title": locked.title, "sha256": locked.sha256, "pages": locked.page_count,
                     "volume": volume.pk, "reason": locked.withdrawal_reason, "restored": restored},
        )
    return locked


# --- ordering ----------------------------------------------------------------------------------


def reorder_documents(*, volume: Volume, acting_user: Any, ordered_ids: list[int]) -> None:
    """Set the binding order of a draft volume's documents (drag to reorder).

    ``ordered_ids`` must name exactly the volume's documents. A sealed volume is never reordered:
    its page mapping travels with the case.
    """
    with transaction.atomic():
        _lock_case(volume.case_id)
        locked = Volume.objects.select_for_update().get(pk=volume.pk)
        if locked.status != VolumeStatus.DRAFT:
            raise ValidationError(_("该卷已封卷，不能再调整顺序。"))
        if locked.agency_id != acting_user.agency_id:
            raise PermissionDenied(_("只能调整本机关的卷。"))
        current = set(locked.documents.values_list("pk", flat=True))
        if len(ordered_ids) != len(current) or set(ordered_ids) != current:
            raise ValidationError(_("顺序列表与卷内材料不一致，请刷新页面后重试。"))
        for position, pk in enumerate(ordered_ids, start=1):
            Document.objects.filter(pk=pk).update(position=position)
        record_event(
            "volume.reordered", actor=acting_user, agency=acting_user.agency, obj=locked, case=locked.case_id,
            details={"order": ordered_ids},
        )


# --- sealing and assembly ----------------------------------------------------------------------


def preview_split(volume: Volume) -> list[list[Document]]:
    """How a draft volume would be split at sealing, for the page (same rule as sealing)."""
    docs = list(volume.documents.order_by("position", "id"))
    groups = pack([d.page_count for d in docs], limit("CASEHUB_VOLUME_MAX_PAGES"))
    return [[docs[i] for i in group] for group in groups]


def seal_volumes(case: Case, *, part: str, agency: Any, acting_user: Any, at: Any = None) -> list[Volume]:
    """Seal the draft volume of (case, part, agency): fix the order and page mapping, splitting
    into further volumes at document boundaries over ``CASEHUB_VOLUME_MAX_PAGES``. Returns the
    newly sealed volumes (none when the draft is empty). ``at``: the sealing time (default now;
    the engine passes the time of the transition)."""
    with transaction.atomic():
        locked_case = _lock_case(case.pk)
        draft = Volume.objects.select_for_update().filter(
            case=locked_case, part=part, agency=agency, status=VolumeStatus.DRAFT
        ).first()
        if draft is None:
            return []
        docs = list(draft.documents.order_by("position", "id"))
        if not docs:
            return []
        now = at or timezone.now()
        groups = pack([d.page_count for d in docs], limit("CASEHUB_VOLUME_MAX_PAGES"))
        sealed: list[Volume] = []
        for index, group in enumerate(groups):
            if index == 0:
                volume = draft
            else:
                volume = Volume.objects.create(case=locked_case, part=part, agency=agency, number=draft.number + index)
            page = 1
            for position, doc_index in enumerate(group, start=1):
                doc = docs[doc_index]
                Document.objects.filter(pk=doc.pk).update(volume=volume, position=position, first_page=page)
                page += doc.page_count
            volume.status = VolumeStatus.SEALED
            volume.sealed_at = now
            volume.sealed_by = acting_user
            volume.page_count = page - 1
            volume.title = _volume_title(volume, agency)
            volume.save(update_fields=["status", "sealed_at", "sealed_by", "page_count", "title"])
            sealed.append(volume)
        record_event(
            "volume.sealed", actor=acting_user, agency=agency, obj=draft, case=locked_case,
            details={"volumes": [{"id": v.pk, "number": v.number, "pages": v.page_count} for v in sealed],
                     "part": part},
        )
    return sealed


def _volume_title(volume: Volume, agency: Any) -> str:
    return f"{agency.name} {volume.get_part_display()} 第{volume.number}卷"


def _case_number(case: Case, agency: Any) -> str:
    number = case.numbers.filter(agency=agency).order_by("issued_at", "id").first() or case.numbers.first()
    return number.number if number else ""


def _page_range(first_page: int | None, page_count: int) -> str:
    if first_page is None:
        return ""
    return str(first_page) if page_count == 1 else f"{first_page}-{first_page + page_count - 1}"


def _volume_recipe(*, case: Case, agency: Any, title: str, page_count: int, sealed_at: Any,
                   documents: list[dict[str, Any]], first_case_number: str = "") -> dict[str, Any]:
    """Everything the signed PDF of a volume is made from (its recipe, :mod:`casehub.objectstore.prepared`).

    ``documents``: in binding order, each ``{"sha256", "page_count", "first_page", "title",
    "author", "date"}``. The same recipe gives the same pages (only the signature's time differs).
    """
    subtitle = [case.title]
    # The agency's first number when the transition being prepared will issue it.
    case_number = (first_case_number if first_case_number and not case.numbers.filter(agency=agency).exists()
                   else _case_number(case, agency))
    if case_number:
        subtitle.append(case_number)
    subtitle.append(f"{title}  共{page_count}页")
    return {
        "kind": "dossier.volume", "agency": agency.code, "title": title, "heading": "卷内目录",
        "subtitle": subtitle, "creation_date": (sealed_at or timezone.now()).astimezone(UTC).isoformat(),
        "documents": documents,
    }


def _build_volume(recipe: dict[str, Any], agency: Any) -> bytes:
    """Read the recipe's documents from the store, bind, stamp and sign the volume PDF."""
    from datetime import datetime

    workdir = ingest.make_workdir()
    try:
        entries = []
        for number, doc in enumerate(recipe["documents"], start=1):
            path = workdir / f"{number:04d}.pdf"
            with objectstore.open_object(doc["sha256"]) as reader, path.open("wb") as fh:
                shutil.copyfileobj(reader, fh, 1 << 20)
            entries.append(Entry(
                path=path, page_count=doc["page_count"], first_page=doc["first_page"] or 0,
                row=ContentsRow(number=number, title=doc["title"], author=doc["author"], date=doc["date"],
                                pages=_page_range(doc["first_page"], doc["page_count"])),
            ))
        out = workdir / "volume.pdf"
        build_volume_pdf(heading=recipe["heading"], subtitle_lines=recipe["subtitle"], entries=entries,
                         out_path=out, creation_date=datetime.fromisoformat(recipe["creation_date"]))
        return _sign_volume_pdf(out.read_bytes(), agency=agency, title=recipe["title"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _document_recipe(doc: Any) -> dict[str, Any]:
    return {"sha256": doc.sha256, "page_count": doc.page_count, "first_page": doc.first_page or 0,
            "title": doc.title, "author": doc.author_agency.name,
            "date": doc.doc_date.isoformat() if doc.doc_date else ""}


def assemble_volume(volume: Volume, *, acting_user: Any) -> Volume:
    """Build, sign and store the PDF of a sealed volume; idempotent (an assembled volume is
    returned unchanged). The signed PDF is an artifact of its recipe: when the workflow engine
    prepared it before its transaction, it is taken from there."""
    from casehub.objectstore.prepared import artifact

    volume = Volume.objects.select_related("case", "agency").get(pk=volume.pk)
    if volume.status == VolumeStatus.ASSEMBLED:
        return volume
    if volume.status != VolumeStatus.SEALED:
        raise ValidationError(_("只有已封卷的卷才能组卷。"))
    docs = list(volume.documents.select_related("author_agency", "stored").order_by("position", "id"))
    recipe = _volume_recipe(case=volume.case, agency=volume.agency,
                            title=volume.title or _volume_title(volume, volume.agency),
                            page_count=volume.page_count, sealed_at=volume.sealed_at,
                            documents=[_document_recipe(doc) for doc in docs])
    signed = artifact(recipe, lambda: _build_volume(recipe, volume.agency), label=f"volume {volume.number}")
    stored = objectstore.store_bytes(signed, content_type="application/pdf")
    pages = sum(doc["page_count"] for doc in recipe["documents"])
    contents_pages = _contents_page_count(signed, pages)
    with transaction.atomic():
        _lock_case(volume.case_id)
        locked = Volume.objects.select_for_update().get(pk=volume.pk)
        if locked.status == VolumeStatus.ASSEMBLED:  # a concurrent run finished first
            return locked
        locked.status = VolumeStatus.ASSEMBLED
        locked.assembled = stored
        locked.sha256 = stored.sha256
        locked.assembled_at = timezone.now()
        locked.contents_page_count = contents_pages
        locked.save(update_fields=["status", "assembled", "sha256", "assembled_at", "contents_page_count"])
        record_event(
            "volume.assembled", actor=acting_user, agency=locked.agency, obj=locked, case=locked.case_id,
            details={"number": locked.number, "part": locked.part, "pages": pages, "contents_pages": contents_pages,
                     "sha256": stored.sha256, "size": stored.size, "documents": [d.pk for d in docs]},
        )
    return locked


def sign_issued_document(pdf_bytes: bytes, agency: Any, *, title: str) -> bytes:
    """PAdES-sign a document ``agency`` issues (generated legal documents): its key, its name on the
    visible stamp on the last page."""
    from casehub.pki.services import signer_for
    from signing.pades import sign_pdf

    return sign_pdf(pdf_bytes, signer_for(agency), reason=f"签发：{title}", stamp_text=agency.name)


def sign_volume(pdf_bytes: bytes, volume: Volume) -> bytes:
    """Sign the assembled volume with its agency's key (PAdES, signing issue)."""
    return _sign_volume_pdf(pdf_bytes, agency=volume.agency, title=volume.title)


def _sign_volume_pdf(pdf_bytes: bytes, *, agency: Any, title: str) -> bytes:
    from casehub.pki.services import signer_for
    from signing.pades import sign_pdf

    signer = signer_for(agency)
    # The visible stamp goes on the first contents page, where a reader looks for the seal.
    return sign_pdf(pdf_bytes, signer, reason=f"组卷：{title}", stamp_text=agency.name, stamp_page=0)


def _contents_page_count(pdf_bytes: bytes, numbered_pages: int) -> int:
    """The 卷内目录 pages in front of the numbered document pages of a built volume."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        return len(pdf.pages) - numbered_pages


@dataclass(frozen=True)
class SignatureStatus:
    valid: bool
    summary: str
    details: tuple[str, ...] = ()
    signed: bool = True


def document_signature_status(document: Document) -> SignatureStatus:
    """Signatures inside one document's own PDF (an expert's or another agency's), if any.

    Unsigned documents are normal (scans, most uploads): they are reported as ``signed=False``,
    not as invalid; their integrity rests on the SHA-256 checked on every read and on the
    signature of the volume they are bound into.
    """
    from django.core.cache import cache

    key = f"dossier:docsig:{document.sha256}"
    cached = cache.get(key)
    if cached is not None:
        return SignatureStatus(*cached)
    try:
        data = objectstore.read_bytes(document.stored)  # the store verifies the SHA-256
        if b"/ByteRange" not in data:
            status = SignatureStatus(False, _("文件本身未签名。"), signed=False)
        else:
            from casehub.pki.services import trust_store
            from signing.pades import verify_pdf

            status = _status_from(verify_pdf(data, trust_store(), expected_sha256=document.sha256))
    except Exception as exc:  # noqa: BLE001 - unreadable object or broken signature: shown as invalid, logged
        logger.warning("signature check of document %s failed: %r", document.pk, exc)
        status = SignatureStatus(False, _("签名无效：%(reason)s") % {"reason": str(exc) or exc.__class__.__name__})
    cache.set(key, (status.valid, status.summary, status.details, status.signed), 60)
    return status


def volume_signature_status(volume: Volume) -> SignatureStatus:
    """Check the assembled volume's signature and that the stored bytes are the recorded ones.

    A signature check alone does not prove the bytes are ours (pyHanko tolerates some incremental
    updates after a signature; DESIGN.md §5), so the SHA-256 recorded at assembly is checked too.
    Cached per content hash for a minute: opening a large volume repeatedly should not re-verify.
    """
    from django.core.cache import cache

    if volume.assembled_id is None:
        return SignatureStatus(False, _("尚未组卷，没有签名。"))
    key = f"dossier:sig:{volume.sha256}"
    cached = cache.get(key)
    if cached is not None:
        return SignatureStatus(*cached)
    try:
        from casehub.pki.services import trust_store
        from signing.pades import verify_pdf

        data = objectstore.read_bytes(volume.assembled)
        result = verify_pdf(data, trust_store(), expected_sha256=volume.sha256)
        status = _status_from(result)
    except Exception as exc:  # noqa: BLE001 - an unreadable object or a broken signature both mean "invalid"
        logger.warning("signature check of volume %s failed: %r", volume.pk, exc)
        status = SignatureStatus(False, _("签名无效：%(reason)s") % {"reason": str(exc) or exc.__class__.__name__})
    cache.set(key, (status.valid, status.summary, status.details, status.signed), 60)
    return status


def _status_from(result: Any) -> SignatureStatus:
    """Summarise a ``signing.pades.PdfVerification`` for the reader."""
    details: list[str] = list(result.problems)
    signers = []
    for sig in result.signatures:
        when = f" {timezone.localtime(sig.signing_time):%Y-%m-%d %H:%M}" if sig.signing_time else ""
        signers.append(f"{sig.signer_name}{when}")
        details.extend(f"{sig.signer_name or sig.field_name}: {problem}" for problem in sig.problems)
    if result.valid:
        return SignatureStatus(True, _("签名有效：%(who)s") % {"who": "；".join(signers)}, tuple(details))
    reason = "；".join(details) or _("未说明原因")
    return SignatureStatus(False, _("签名无效：%(reason)s") % {"reason": reason}, tuple(details))


def seal_and_assemble(case: Case, *, part: str, agency: Any, acting_user: Any,
                      job: AssemblyJob | None = None, at: Any = None) -> list[Volume]:
    """Seal the draft of (case, part, agency) and assemble every sealed volume not yet assembled."""
    seal_volumes(case, part=part, agency=agency, acting_user=acting_user, at=at)
    pending = list(Volume.objects.filter(case=case, part=part, agency=agency, status=VolumeStatus.SEALED)
                   .order_by("number"))
    for index, volume in enumerate(pending):
        if job is not None:
            _set_progress(job, step=f"volume {volume.number}", progress=int(100 * index / max(len(pending), 1)))
            job.volumes.add(volume)
        assemble_volume(volume, acting_user=acting_user)
    return list(Volume.objects.filter(case=case, part=part, agency=agency).exclude(status=VolumeStatus.DRAFT)
                .order_by("number"))


def seal_and_assemble_main_volumes(case: Case, *, acting_user: Any, at: Any = None) -> list[Volume]:
    """Seal and assemble the sending agency's main-file volumes; return every assembled main-file
    volume of the case (all agencies), in the order they were bound.

    Called by the transfer engine when a case is sent (CPL art. 162/176: the dossier travels with
    the case). Idempotent: with no new documents it seals nothing and returns the same volumes.
    The work file 副卷 is never included.
    """
    agency = getattr(acting_user, "agency", None) or case.holder_agency
    seal_and_assemble(case, part=Part.MAIN, agency=agency, acting_user=acting_user, at=at)
    return list(Volume.objects.filter(case=case, part=Part.MAIN, status=VolumeStatus.ASSEMBLED)
                .select_related("agency", "assembled").order_by("sealed_at", "agency_id", "number"))


def prepare_main_volumes(case: Case, *, acting_user: Any, at: Any,
                         new_documents: list[dict[str, Any]] = (),  # type: ignore[assignment]
                         first_case_number: str = "") -> int:
    """The engine's prepare phase of :func:`seal_and_assemble_main_volumes`, outside any transaction.

    Works out, from the rows as they are now, the volumes that sealing at ``at`` will produce —
    the sealed volumes still to be assembled and the draft volume with ``new_documents`` (generated
    documents the transition will file: ``{"sha256", "page_count", "title", "category"}``, already
    in the store) inserted where :func:`add_generated_document` will put them, split as
    :func:`seal_volumes` splits — and builds and signs each volume's PDF as a prepared artifact
    (:mod:`casehub.objectstore.prepared`). Writes no row. Returns how many volumes it prepared.
    The transaction that follows uses a prepared PDF only if the recipe it reads under the lock is
    the same; otherwise it builds it there, as before.
    """
    from casehub.objectstore.prepared import artifact

    agency = getattr(acting_user, "agency", None) or case.holder_agency
    recipes: list[tuple[dict[str, Any], str]] = []
    for volume in (Volume.objects.filter(case=case, part=Part.MAIN, agency=agency, status=VolumeStatus.SEALED)
                   .order_by("number")):
        docs = volume.documents.select_related("author_agency").order_by("position", "id")
        recipes.append((_volume_recipe(case=case, agency=agency, title=volume.title or _volume_title(volume, agency),
                                       page_count=volume.page_count, sealed_at=volume.sealed_at,
                                       documents=[_document_recipe(d) for d in docs],
                                       first_case_number=first_case_number),
                        f"volume {volume.number}"))
    draft = Volume.objects.filter(case=case, part=Part.MAIN, agency=agency, status=VolumeStatus.DRAFT).first()
    if draft is not None:
        rows = [(doc.position, _document_recipe(doc), doc.category)
                for doc in draft.documents.select_related("author_agency").order_by("position", "id")]
        first_number = draft.number
    else:
        rows = []
        first_number = (Volume.objects.filter(case=case, part=Part.MAIN, agency=agency)
                        .aggregate(n=Max("number"))["n"] or 0) + 1
    today = timezone.localdate().isoformat()
    for new in new_documents:
        # As _insert_position: after the last document of the same or an earlier category.
        rank = CATEGORY_ORDER.get(new["category"], len(CATEGORY_ORDER))
        position = 1
        for pos, _doc, category in rows:
            if CATEGORY_ORDER.get(category, len(CATEGORY_ORDER)) <= rank:
                position = pos + 1
        rows = [(pos + 1 if pos >= position else pos, doc, category) for pos, doc, category in rows]
        entry = {"sha256": new["sha256"], "page_count": new["page_count"], "first_page": 0,
                 "title": new["title"], "author": agency.name, "date": today}
        rows.append((position, entry, new["category"]))
        rows.sort(key=lambda row: row[0])  # stable: the new document after the others at its position
    groups = pack([doc["page_count"] for _pos, doc, _cat in rows], limit("CASEHUB_VOLUME_MAX_PAGES")) if rows else []
    for index, group in enumerate(groups):
        number = first_number + index
        title = _volume_title(Volume(case=case, part=Part.MAIN, agency=agency, number=number), agency)
        page = 1
        documents = []
        for doc_index in group:
            doc = dict(rows[doc_index][1], first_page=page)
            page += doc["page_count"]
            documents.append(doc)
        recipes.append((_volume_recipe(case=case, agency=agency, title=title, page_count=page - 1, sealed_at=at,
                                       documents=documents, first_case_number=first_case_number), f"volume {number}"))
    for recipe, label in recipes:
        artifact(recipe, lambda recipe=recipe: _build_volume(recipe, agency), label=label)
    return len(recipes)


def start_assembly(*, case: Case, acting_user: Any, part: str = Part.MAIN) -> AssemblyJob:
    """Queue sealing + assembly of the user's agency's draft volume of ``part`` (the page's button)."""
    from casehub.agencies.permissions import ASSEMBLE_VOLUME

    if not has_capability(acting_user, ASSEMBLE_VOLUME) or not can_act(acting_user, case):
        raise PermissionDenied(_("您所在机关当前不承办此案件，不能组卷。"))
    job = AssemblyJob.objects.create(case=case, agency=acting_user.agency, created_by=acting_user, part=part)
    _dispatch("casehub.dossier.tasks.assemble_volumes", str(job.pk))
    job.refresh_from_db()
    return job


def retry_job(job: IngestJob | AssemblyJob, *, acting_user: Any) -> IngestJob | AssemblyJob:
    """Queue a stalled job's task again (the page's and the API's "retry").

    Only a job of the user's own agency, and only a stalled one (``_Job.stalled``): a job that is
    moving is left to its worker. Safe even if the "stalled" run is in fact alive: both deliveries
    meet at the job row and the case lock, and the second files nothing. An upload whose staged
    file is gone ends as a failed job saying so.
    """
    if acting_user.agency_id != job.agency_id or not can_act(acting_user, job.case):
        raise PermissionDenied(_("只能重试本机关承办案件的任务。"))
    # The right that starts the job also retries it.
    if isinstance(job, IngestJob):
        check_can_upload(acting_user, job.case, job.part)
    else:
        from casehub.agencies.permissions import ASSEMBLE_VOLUME

        if not has_capability(acting_user, ASSEMBLE_VOLUME):
            raise PermissionDenied(_("只能重试本机关承办案件的任务。"))
    if not job.stalled:
        raise ValidationError(_("该任务未停滞，无需重试。"))
    with transaction.atomic():
        _unfinished(job).update(updated_at=timezone.now())  # a fresh window before it counts as stalled again
        kind = "ingest" if isinstance(job, IngestJob) else "assembly"
        record_event(f"{kind}.retried", actor=acting_user, agency=acting_user.agency, obj=job.case, case=job.case,
                     details={"job": str(job.pk), "status": job.status, "step": job.step, "progress": job.progress})
    _dispatch("casehub.dossier.tasks.ingest_document" if kind == "ingest" else "casehub.dossier.tasks.assemble_volumes",
              str(job.pk))
    job.refresh_from_db()
    return job


def run_assembly_job(job_id: str) -> AssemblyJob:
    job = AssemblyJob.objects.select_related("case", "agency", "created_by").get(pk=job_id)
    if job.is_finished:
        return job
    try:
        _set_progress(job, step="seal", progress=0)
        volumes = seal_and_assemble(job.case, part=job.part, agency=job.agency, acting_user=job.created_by, job=job)
    except (ValidationError, PermissionDenied) as exc:
        _unfinished(job).update(
            status=JobStatus.FAILED, message="; ".join(getattr(exc, "messages", [str(exc)])), finished_at=timezone.now(), updated_at=timezone.now()
        )
    except StorageUnavailable:
        logger.warning("assembly job %s: object store unavailable", job.pk, exc_info=True)
        _unfinished(job).update(
            status=JobStatus.FAILED, message=_("对象存储暂时不可用，组卷未完成。请稍后重试。"), finished_at=timezone.now(), updated_at=timezone.now()
        )
    except Exception:
        logger.exception("assembly job %s failed", job.pk)
        _unfinished(job).update(
            status=JobStatus.FAILED, message=_("组卷过程中发生内部错误，请重试或联系系统管理员。"),
            finished_at=timezone.now(), updated_at=timezone.now(),
        )
    else:
        job.volumes.add(*volumes)
        _unfinished(job).update(
            status=JobStatus.DONE, progress=100, step="done", finished_at=timezone.now(), updated_at=timezone.now()
        )
    job.refresh_from_db()
    return job


__all__ = [
    "add_generated_document", "assemble_volume", "describe_generated_pdf", "edit_draft_document", "ingest_upload",
    "issued_pdf", "main_file_documents", "prepare_main_volumes", "reorder_documents", "retry_job",
    "withdraw_draft_document",
    "seal_and_assemble_main_volumes", "seal_volumes", "start_assembly", "visible_documents", "visible_volumes",
]


# --- chunked uploads ---------------------------------------------------------------------------


class ChunkOutOfOrder(Exception):
    """The piece does not start where the upload stands; ``received`` says where it does."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received


class ChunkSizeMismatch(Exception):
    """An empty piece, or one that would run past the declared file size."""


def append_chunk(upload: ChunkedUpload, offset: int, data: bytes) -> ChunkedUpload:
    """Append ``data`` at ``offset`` to a staged upload (browser and API share this).

    The upload row is locked so two retries of the same piece cannot both be written; a piece must
    start exactly at ``received`` (resume by asking how much arrived). Returns the updated row.
    """
    with transaction.atomic():
        locked = ChunkedUpload.objects.select_for_update().get(pk=upload.pk)
        if offset != locked.received:
            raise ChunkOutOfOrder(locked.received)
        if not data or locked.received + len(data) > locked.total_size:
            raise ChunkSizeMismatch
        with open(locked.staged_path, "r+b") as fh:
            fh.seek(offset)
            fh.write(data)
        locked.received += len(data)
        locked.save(update_fields=["received"])
    return locked


# --- persons a document concerns --------------------------------------------------------------


def mark_concerns(document: Document, *, persons: list[Any], acting_user: Any) -> Document:
    """Mark the persons of the case ``document`` concerns (涉及人员), so that separate handling
    (:func:`workflows.separation.split_case`) carries it with them. The agency handling the case
    marks its current documents; an empty list means the document concerns the whole case."""
    from casehub.cases.models import Person

    case = document.case
    if not has_capability(acting_user, UPLOAD_DOCUMENT) or not can_act(acting_user, case):
        raise PermissionDenied(_("您所在机关当前不承办此案件，不能标注材料。"))
    if not document.is_current:
        raise ValidationError({"persons": [_("只能标注现行版本的材料。")]})
    ids = {p.pk if hasattr(p, "pk") else int(p) for p in persons}
    chosen = list(Person.objects.filter(case=case, pk__in=ids).order_by("id"))
    if len(chosen) != len(ids):
        raise ValidationError({"persons": [_("只能选择本案的涉案人员。")]})
    with transaction.atomic():
        before = sorted(document.concerns.values_list("pk", flat=True))
        document.concerns.set(chosen)
        record_event("document.concerns_changed", actor=acting_user, obj=document, case=case,
                     details={"title": document.title, "before": before, "after": [p.pk for p in chosen]})
    return document


def carry_document(document: Document, target: Case, *, copy: bool, acting_user: Any,
                   concerns: list[Any] | None = None) -> Document:
    """Put ``document`` into ``target``'s dossier for separate handling or joining
    (:mod:`workflows.separation`, which holds the case locks and checks who acts).

    ``copy=False`` moves the row (for a document bound into no sealed volume: it leaves its draft
    volume); ``copy=True`` adds a new row for the same stored file, leaving the original where it
    was (a sealed or sent volume keeps its documents). Either way the document lands in the
    target's draft volume in the usual category order, so the target's next package binds it.
    ``concerns``: the persons the copy concerns (default: those of the original).
    """
    agency = document.volume.agency if (document.volume_id and not copy) else acting_user.agency
    volume = _draft_volume(target, document.part, agency)
    position = _insert_position(volume, document.category)
    if not copy:
        document.case, document.volume, document.position, document.first_page = target, volume, position, None
        document.save(update_fields=["case", "volume", "position", "first_page"])
        return document
    persons = list(document.concerns.all()) if concerns is None else concerns
    original = document.pk
    document.pk = document.id = None
    document._state.adding = True
    document._prefetched_objects_cache = {}  # the original's persons, not the copy's
    document.case, document.volume, document.position, document.first_page = target, volume, position, None
    document.supersedes, document.reason, document.is_current = None, "", True
    document.save()
    document.concerns.set(persons)
    record_event("document.uploaded", actor=acting_user, obj=document, case=target,
                 details={"title": document.title, "sha256": document.sha256, "copied_from": original})
    return document
