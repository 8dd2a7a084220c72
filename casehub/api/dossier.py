"""Documents and volumes through the API: upload (whole or chunked and resumable), versions,
download, assembly. Reads go through :mod:`casehub.dossier.selectors`; writes through
:mod:`casehub.dossier.services` (the same functions as the dossier pages), which check the
holder's right and write the audit events. Reading or downloading a document is audited here,
as the pages do.

Ingest and assembly are long work: the API answers 202 with a task that mirrors the dossier's own
job row (status, step, progress, and the new document or volumes, or why the file was refused).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, parsers, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from casehub.api import tasks
from casehub.api.base import accepted
from casehub.api.errors import Conflict
from casehub.api.idempotency import idempotent
from casehub.api.models import ApiTask
from casehub.api.serializers import ID_MAX, AgencyRefSerializer, TaskSerializer
from casehub.api.strict import QueryFilter, StrictModelSerializer, StrictSerializer
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.dossier import ingest
from casehub.dossier import services as dossier
from casehub.dossier.doors import DOSSIERS
from casehub.dossier.models import (
    AssemblyJob,
    Category,
    ChunkedUpload,
    Document,
    IngestJob,
    JobStatus,
    Part,
    Volume,
)
from casehub.dossier.selectors import get_visible_document, get_visible_volume, readable_versions
from casehub.objectstore import services as objectstore
from casehub.objectstore.responses import object_response
from storage import IntegrityError, StorageUnavailable

# One chunk may be at most this large (the request body is read into memory).
CHUNK_BYTES = 8 * 1024 * 1024

logger = logging.getLogger("casehub.api")


def _audit_read(request: Request, action_name: str, obj: Any, case_id: int, **details: Any) -> None:
    with transaction.atomic():
        record_event(action_name, actor=request.user, obj=obj, case=case_id, details={**details, "via": "api"})


def _reader_case(request: Request, case_pk: Any) -> Any:
    # The one rule (casehub.dossier.doors, the same door as the dossier pages'): another agency's
    # case is 404, a role of one's own agency that reads no dossiers 403.
    return DOSSIERS.get(request.user, case_pk, "read")


# --- serializers ------------------------------------------------------------------------------------


class DocumentSerializer(StrictModelSerializer):
    author_agency = AgencyRefSerializer(read_only=True, allow_null=True)
    uploaded_by = serializers.CharField(source="uploaded_by.get_username", read_only=True, allow_null=True,
                                        default=None)
    volume = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = Document
        fields = (
            "id", "case", "part", "category", "title", "doc_date", "author_agency", "page_count", "size", "sha256",
            "original_filename", "converted", "generated", "uploaded_by", "uploaded_at", "supersedes",
            "is_current", "volume", "position", "first_page",
        )


class UploadSerializer(StrictSerializer):
    """What the uploader says about a file; the file itself is judged by the ingest pipeline."""

    title = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=Category.choices)
    part = serializers.ChoiceField(choices=Part.choices, default=Part.MAIN,
                                   help_text="`work` (副卷) only for police agencies.")
    doc_date = serializers.DateField(required=False, allow_null=True, default=None)
    supersedes = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=ID_MAX,
                                          help_text="Id of the current document this one corrects (a new version).")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="",
                                   help_text="Why it is corrected (required with `supersedes`).")


class FileUploadSerializer(UploadSerializer):
    file = serializers.FileField(help_text="PDF, JPEG, PNG or TIFF.")


class ChunkedStartSerializer(StrictSerializer):
    filename = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=1, help_text="Total size in bytes, declared up front.")


class ChunkedUploadSerializer(StrictModelSerializer):
    chunk_bytes = serializers.SerializerMethodField()

    class Meta:
        model = ChunkedUpload
        fields = ("id", "case", "filename", "total_size", "received", "chunk_bytes", "completed", "created_at")

    def get_chunk_bytes(self, obj: ChunkedUpload) -> int:
        return CHUNK_BYTES


class LinkSerializer(StrictSerializer):
    url = serializers.CharField(help_text="Streams the PDF; authenticate as for any API call.")
    direct_url = serializers.CharField(help_text="Short-lived object-store link (S3: no credentials needed; "
                                                 "directory backend: needs a browser session).")
    expires_in = serializers.IntegerField(help_text="Seconds the direct link stays valid.")
    sha256 = serializers.CharField()
    size = serializers.IntegerField()


class VolumeSerializer(StrictModelSerializer):
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = Volume
        fields = ("id", "case", "part", "agency", "number", "title", "status", "sealed_at", "page_count",
                  "contents_page_count", "assembled_at", "sha256")


class VolumeDetailSerializer(VolumeSerializer):
    documents = serializers.SerializerMethodField()

    class Meta(VolumeSerializer.Meta):
        fields = (*VolumeSerializer.Meta.fields, "documents")

    @staticmethod
    def get_documents(volume: Volume) -> list[dict[str, Any]]:
        docs = volume.documents.select_related("author_agency", "uploaded_by").order_by("position", "id")
        return DocumentSerializer(docs, many=True).data


class AssembleSerializer(StrictSerializer):
    part = serializers.ChoiceField(choices=Part.choices, default=Part.MAIN)


class DocumentFilter(QueryFilter):
    current = serializers.BooleanField(required=False, default=None, allow_null=True)
    part = serializers.ChoiceField(choices=Part.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)


class PdfRenderer(renderers.BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None) -> bytes:
        return data if isinstance(data, bytes) else b""


class JsonErrorsForFiles:
    """Views that stream PDFs: whatever the client accepted, an error answers in the JSON error shape."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(response, Response) and isinstance(getattr(request, "accepted_renderer", None), PdfRenderer):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


class OctetStreamParser(parsers.BaseParser):
    """A chunk's raw bytes, never more than CHUNK_BYTES."""

    media_type = "application/octet-stream"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> bytes:
        data = stream.read(CHUNK_BYTES + 1) if stream is not None else b""
        if len(data) > CHUNK_BYTES:
            raise exceptions.ValidationError({"body": [_("分片不得超过 %(n)s 字节。") % {"n": CHUNK_BYTES}]})
        return data


def _document_by_id(case: Any, pk: Any) -> Document | None:
    if pk is None:
        return None
    return Document.objects.filter(case=case, pk=pk).first()


def _start_ingest(request: Request, case: Any, source: Any, meta: dict[str, Any], filename: str = "") -> Response:
    supersedes_id = meta.pop("supersedes", None)
    supersedes = _document_by_id(case, supersedes_id)
    if supersedes_id is not None and supersedes is None:
        raise exceptions.ValidationError({"supersedes": [_("只能更正本机关归档的、本案同一卷别中的现行材料。")]})
    job = dossier.ingest_upload(case=case, acting_user=request.user, uploaded_file_or_path=source,
                                supersedes=supersedes, original_filename=filename, **meta)
    return accepted(tasks.track("dossier.ingest", owner=request.user, params={"job": str(job.pk)}), request)


# --- documents -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Documents of a case you may read", tags=["dossier"], parameters=[
        OpenApiParameter("current", bool, description="Only current versions (true) or only superseded (false)."),
        OpenApiParameter("part", str, enum=Part.values), OpenApiParameter("category", str, enum=Category.values),
    ]),
)
class CaseDocumentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DocumentSerializer
    queryset = Document.objects.none()
    ordering = "id"
    parser_classes = [parsers.MultiPartParser, parsers.JSONParser]

    def get_queryset(self) -> Any:
        case = _reader_case(self.request, self.kwargs["case_pk"])
        f = DocumentFilter(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        filters = {k: v for k, v in f.validated_data.items() if v is not None}
        if "current" in filters:
            filters["is_current"] = filters.pop("current")
        return dossier.visible_documents(self.request.user, case).filter(**filters).select_related(
            "author_agency", "uploaded_by")

    @extend_schema(
        summary="Upload a document (multipart) — 202 with the ingest task; for large files use the resumable upload",
        tags=["dossier"], request={"multipart/form-data": FileUploadSerializer}, responses={202: TaskSerializer},
    )
    @idempotent
    def create(self, request: Request, case_pk: str) -> Response:
        case = DOSSIERS.get(request.user, case_pk, "upload")  # 404, then 403 before the body is looked at
        serializer = FileUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        meta = dict(serializer.validated_data)
        upload = meta.pop("file")
        return _start_ingest(request, case, upload, meta)

    @extend_schema(
        summary="Begin a chunked, resumable upload of a large file (declare name and size first)",
        tags=["dossier"], request=ChunkedStartSerializer, responses={201: ChunkedUploadSerializer},
        examples=[OpenApiExample("400 MB scan", request_only=True, value={"filename": "卷一.pdf", "size": 419430400})],
    )
    @action(detail=False, methods=["post"], url_path="uploads", parser_classes=[parsers.JSONParser])
    @idempotent
    def start_upload(self, request: Request, case_pk: str) -> Response:
        case = DOSSIERS.get(request.user, case_pk, "upload")  # 404, then 403 before the body is looked at
        serializer = ChunkedStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            ingest.check_size(serializer.validated_data["size"])
        except ingest.IngestRejected as rejected:
            raise exceptions.ValidationError({"size": [rejected.message]}) from rejected
        staged = dossier.staging_dir() / f"{uuid.uuid4().hex}.part"
        staged.touch()
        chunked = ChunkedUpload.objects.create(
            case=case, created_by=request.user, filename=serializer.validated_data["filename"],
            total_size=serializer.validated_data["size"], staged_path=str(staged),
        )
        return Response(ChunkedUploadSerializer(chunked).data, status=status.HTTP_201_CREATED)


def _own_upload(request: Request, pk: Any) -> ChunkedUpload:
    """Your own unfinished upload to a case you still see; anything else is 404."""
    try:
        chunked = ChunkedUpload.objects.select_related("case").get(pk=pk, created_by=request.user, completed=False)
    except (ChunkedUpload.DoesNotExist, ValueError, TypeError) as exc:
        raise exceptions.NotFound() from exc
    CASES.get(request.user, chunked.case_id)
    return chunked


class UploadViewSet(viewsets.GenericViewSet):
    """``PUT /uploads/{id}/?offset=N`` appends a chunk; ``GET`` says how much arrived (resume from there)."""

    lookup_value_regex = "[0-9a-fA-F-]{32,36}"  # a UUID
    serializer_class = ChunkedUploadSerializer
    queryset = ChunkedUpload.objects.none()
    parser_classes = [OctetStreamParser]

    @extend_schema(summary="How much of the upload arrived (resume from `received`)", tags=["dossier"])
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ChunkedUploadSerializer(_own_upload(request, pk)).data)

    @extend_schema(
        summary="Append one chunk at `offset` (must equal `received`; 409 otherwise, with `received`)",
        tags=["dossier"], request={"application/octet-stream": OpenApiTypes.BINARY},
        parameters=[OpenApiParameter("offset", int, required=True, description="Byte offset of this chunk.")],
        responses={200: ChunkedUploadSerializer},
    )
    def update(self, request: Request, pk: str) -> Response:
        chunked = _own_upload(request, pk)
        try:
            offset = int(request.query_params.get("offset", ""))
        except ValueError:
            raise exceptions.ValidationError({"offset": [_("偏移量无效。")]}) from None
        body = request.data if isinstance(request.data, bytes) else b""
        try:
            locked = dossier.append_chunk(chunked, offset, body)
        except dossier.ChunkOutOfOrder as exc:
            raise Conflict(_("分片偏移量应为 %(n)s。") % {"n": exc.received}, code="offset_mismatch") from None
        except dossier.ChunkSizeMismatch:
            raise exceptions.ValidationError({"body": [_("分片大小与声明的文件大小不符。")]}) from None
        return Response(ChunkedUploadSerializer(locked).data)

    @extend_schema(summary="All chunks arrived: hand the file to the ingest pipeline (202 + task)",
                   tags=["dossier"], request=UploadSerializer, responses={202: TaskSerializer})
    @action(detail=True, methods=["post"], parser_classes=[parsers.JSONParser])
    @idempotent
    def complete(self, request: Request, pk: str) -> Response:
        chunked = _own_upload(request, pk)
        dossier.check_can_upload(request.user, chunked.case)  # the case may have moved on since
        if chunked.received != chunked.total_size:
            raise Conflict(_("文件尚未上传完整（已收到 %(r)s / %(t)s 字节）。")
                           % {"r": chunked.received, "t": chunked.total_size}, code="upload_incomplete")
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        response = _start_ingest(request, chunked.case, chunked.staged_path, dict(serializer.validated_data),
                                 filename=chunked.filename)
        ChunkedUpload.objects.filter(pk=chunked.pk).update(completed=True)
        return response


class DocumentViewSet(JsonErrorsForFiles, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DocumentSerializer
    queryset = Document.objects.none()

    def get_object(self) -> Document:
        return get_visible_document(self.request.user, self.kwargs["pk"])

    @extend_schema(summary="One document's metadata (the read is audited)", tags=["dossier"])
    def retrieve(self, request: Request, pk: str) -> Response:
        doc = self.get_object()
        _audit_read(request, "document.viewed", doc, doc.case_id, title=doc.title, sha256=doc.sha256)
        return Response(DocumentSerializer(doc).data)

    @extend_schema(summary="Every version of this document, newest first", tags=["dossier"],
                   responses=DocumentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        doc = self.get_object()
        _audit_read(request, "document.versions_viewed", doc, doc.case_id)
        chain = readable_versions(request.user, doc)
        return Response(DocumentSerializer(chain, many=True).data)

    @extend_schema(summary="A download link for the PDF (the download is audited)", tags=["dossier"],
                   responses=LinkSerializer)
    @action(detail=True, methods=["get"])
    def link(self, request: Request, pk: str) -> Response:
        doc = self.get_object()
        _audit_read(request, "document.link_issued", doc, doc.case_id, title=doc.title, sha256=doc.sha256)
        return Response(_link(request, doc.stored, f"{doc.title}.pdf", f"/api/v1/documents/{doc.pk}/file/"))

    @extend_schema(summary="The document's PDF bytes (audited)", tags=["dossier"],
                   responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def file(self, request: Request, pk: str) -> HttpResponse:
        doc = self.get_object()
        return _pdf(request, doc, doc.stored, f"{doc.title}.pdf", "document", title=doc.title, sha256=doc.sha256)


def _link(request: Request, stored: Any, filename: str, api_path: str) -> dict[str, Any]:
    lifetime = objectstore.DEFAULT_LINK_LIFETIME
    # Bound to the caller: on the directory backend the link works only in their own session, and
    # its use is recorded by the download view.
    direct = objectstore.download_url(stored, filename=filename, content_type="application/pdf", user=request.user)
    return {"url": request.build_absolute_uri(api_path), "direct_url": request.build_absolute_uri(direct),
            "expires_in": int(lifetime.total_seconds()), "sha256": stored.sha256, "size": stored.size}


class ObjectCorrupt(exceptions.APIException):
    """The stored bytes no longer match their SHA-256: nothing of them is sent (F18.22)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "object_corrupt"
    default_detail = gettext_lazy("文件完整性校验失败：存储中的内容与登记的 SHA-256 摘要不符，已拒绝发送。请联系系统管理员从备份恢复。")


def _pdf(request: Request, obj: Any, stored: Any, filename: str, kind: str, **details: Any) -> HttpResponse:
    """Stream a document's or volume's PDF. ``{kind}.downloaded`` is recorded once the last byte
    went out; ``{kind}.download_failed`` if the store is down (503 storage_unavailable) or the bytes
    no longer match their SHA-256 (503 object_corrupt, checked before the first byte, F18.22) —
    both in the API's error shape, nothing sent — or the stream breaks: never a download that did
    not happen."""
    def failed(reason: str) -> None:
        _audit_read(request, f"{kind}.download_failed", obj, obj.case_id, reason=reason, **details)

    try:
        return object_response(
            stored, filename=filename, on_failed=failed,
            on_delivered=lambda: _audit_read(request, f"{kind}.downloaded", obj, obj.case_id, **details))
    except IntegrityError as exc:
        failed(f"{exc.__class__.__name__}: {exc}")
        logger.error("refused to deliver object %s: its stored bytes do not match its SHA-256", stored.sha256)
        raise ObjectCorrupt() from None
    except StorageUnavailable as exc:
        failed(f"{exc.__class__.__name__}: {exc}")
        raise


# --- volumes ---------------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Volumes of a case you may read", tags=["dossier"]))
class CaseVolumeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = VolumeSerializer
    queryset = Volume.objects.none()
    ordering = "id"

    def get_queryset(self) -> Any:
        case = _reader_case(self.request, self.kwargs["case_pk"])
        return dossier.visible_volumes(self.request.user, case).select_related("agency")

    @extend_schema(summary="Seal and assemble your agency's draft volumes (202 + task)", tags=["dossier"],
                   request=AssembleSerializer, responses={202: TaskSerializer})
    @action(detail=False, methods=["post"])
    @idempotent
    def assemble(self, request: Request, case_pk: str) -> Response:
        case = DOSSIERS.get(request.user, case_pk, "assemble")  # the same door as the page's
        serializer = AssembleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = dossier.start_assembly(case=case, acting_user=request.user, part=serializer.validated_data["part"])
        return accepted(tasks.track("dossier.assembly", owner=request.user, params={"job": str(job.pk)}), request)


class VolumeViewSet(JsonErrorsForFiles, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = VolumeDetailSerializer
    queryset = Volume.objects.none()

    def get_object(self) -> Volume:
        return get_visible_volume(self.request.user, self.kwargs["pk"])

    @extend_schema(summary="A volume: status, pages and its documents in binding order (audited)",
                   tags=["dossier"])
    def retrieve(self, request: Request, pk: str) -> Response:
        volume = self.get_object()
        _audit_read(request, "volume.viewed", volume, volume.case_id, number=volume.number, part=volume.part)
        return Response(VolumeDetailSerializer(volume).data)

    @extend_schema(summary="A download link for the assembled, signed volume PDF (audited)", tags=["dossier"],
                   responses=LinkSerializer)
    @action(detail=True, methods=["get"])
    def link(self, request: Request, pk: str) -> Response:
        volume = self.get_object()
        if volume.assembled is None:
            raise exceptions.NotFound(_("该卷尚未组卷。"))
        _audit_read(request, "volume.link_issued", volume, volume.case_id, number=volume.number, sha256=volume.sha256)
        return Response(_link(request, volume.assembled, f"{volume.title or volume.number}.pdf",
                              f"/api/v1/volumes/{volume.pk}/file/"))

    @extend_schema(summary="The assembled volume PDF (audited)", tags=["dossier"],
                   responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    @action(detail=True, methods=["get"], renderer_classes=[renderers.JSONRenderer, PdfRenderer])
    def file(self, request: Request, pk: str) -> HttpResponse:
        volume = self.get_object()
        if volume.assembled is None:
            raise exceptions.NotFound(_("该卷尚未组卷。"))
        return _pdf(request, volume, volume.assembled, f"{volume.title or volume.number}.pdf", "volume",
                    number=volume.number, sha256=volume.sha256)


# --- task mirrors ----------------------------------------------------------------------------------

_JOB_STATUS = {JobStatus.QUEUED: "pending", JobStatus.RUNNING: "running", JobStatus.DONE: "succeeded",
               JobStatus.FAILED: "failed"}


def _job_state(job: IngestJob | AssemblyJob | None, result: Any) -> dict[str, Any]:
    if job is None:
        return {"status": "failed", "error": {"code": "not_found", "message": _("任务已不存在。")}}
    state: dict[str, Any] = {"status": _JOB_STATUS.get(job.status, "running"), "progress": job.progress,
                             "step": job.step, "finished_at": job.finished_at, "stalled": job.stalled}
    if job.status == JobStatus.DONE:
        state["result"] = result
    elif job.status == JobStatus.FAILED:
        state["error"] = {"code": "rejected", "message": job.message}
    return state


@tasks.mirror("dossier.ingest")
def _ingest_state(task: ApiTask) -> dict[str, Any]:
    job = IngestJob.objects.filter(pk=task.params.get("job")).first()
    return _job_state(job, {"document": job.document_id, "message": job.message} if job else None)


@tasks.mirror("dossier.assembly")
def _assembly_state(task: ApiTask) -> dict[str, Any]:
    job = AssemblyJob.objects.filter(pk=task.params.get("job")).first()
    return _job_state(job, {"volumes": sorted(job.volumes.values_list("pk", flat=True)), "message": job.message}
                      if job else None)


@tasks.retrier("dossier.ingest")
def _retry_ingest(task: ApiTask, user: Any) -> None:
    job = IngestJob.objects.filter(pk=task.params.get("job")).select_related("case").first()
    if job is None:
        raise exceptions.NotFound()
    dossier.retry_job(job, acting_user=user)


@tasks.retrier("dossier.assembly")
def _retry_assembly(task: ApiTask, user: Any) -> None:
    job = AssemblyJob.objects.filter(pk=task.params.get("job")).select_related("case").first()
    if job is None:
        raise exceptions.NotFound()
    dossier.retry_job(job, acting_user=user)
