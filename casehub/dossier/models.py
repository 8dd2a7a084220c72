"""The electronic dossier 卷宗: documents, the volumes 卷 they are bound into, and the jobs that
ingest uploads and assemble volumes.

Documents are immutable: their bytes live in the write-once object store under their SHA-256 and a
correction is a new Document that ``supersedes`` the old one (both stay, with who/when/why). A
volume is ``draft`` while its documents can still be reordered, ``sealed`` once its contents and
page mapping are fixed, and ``assembled`` when its signed PDF is stored.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Part(models.TextChoices):
    MAIN = "main", _("正卷")
    WORK = "work", _("副卷")


class Category(models.TextChoices):
    PROCEDURAL = "procedural", _("诉讼文书")
    EVIDENCE = "evidence", _("证据材料")
    EXPERT = "expert", _("鉴定意见")
    OTHER = "other", _("其他材料")


# Default binding order inside a volume: procedural documents, then evidence (DESIGN.md §3).
CATEGORY_ORDER: dict[str, int] = {
    Category.PROCEDURAL: 0, Category.EVIDENCE: 1, Category.EXPERT: 2, Category.OTHER: 3,
}


class VolumeStatus(models.TextChoices):
    DRAFT = "draft", _("待组卷")
    SEALED = "sealed", _("已封卷")
    ASSEMBLED = "assembled", _("已组卷")


class Volume(models.Model):
    """One volume 卷 of a case's main file or work file.

    ``page_count`` counts the numbered document pages (1…N, stamped top-right); the contents pages
    卷内目录 in front of them are not numbered, as on paper, and are counted in
    ``contents_page_count``.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="volumes")
    part = models.CharField(_("卷别"), max_length=8, choices=Part.choices, default=Part.MAIN)
    # The agency that compiled the volume: a work file 副卷 is visible to it alone.
    agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("组卷机关"), on_delete=models.PROTECT, related_name="+"
    )
    number = models.PositiveIntegerField(_("卷号"))
    title = models.CharField(_("卷名"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=VolumeStatus.choices, default=VolumeStatus.DRAFT, db_index=True
    )
    sealed_at = models.DateTimeField(_("封卷时间"), null=True, blank=True)
    sealed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    page_count = models.PositiveIntegerField(_("页数"), default=0)
    contents_page_count = models.PositiveIntegerField(_("目录页数"), default=0)
    assembled = models.ForeignKey(
        "objectstore.StoredObject", verbose_name=_("组卷文件"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    assembled_at = models.DateTimeField(_("组卷时间"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "part", "number"]
        verbose_name = _("卷")
        verbose_name_plural = _("卷")
        constraints = [
            models.UniqueConstraint(fields=["case", "part", "agency", "number"], name="uniq_volume_number"),
        ]

    def __str__(self) -> str:
        # Stable, in Chinese: package manifests record it. Pages show ``label``.
        return self.title or f"{self.get_part_display()} 第{self.number}卷"

    @property
    def label(self) -> str:
        """"<agency> 正卷 第1卷" in the reader's language (``title`` keeps the Chinese one the
        assembled PDF carries)."""
        return gettext("%(agency)s %(part)s 第%(n)s卷") % {
            "agency": self.agency.name, "part": self.get_part_display(), "n": self.number}

    @property
    def is_editable(self) -> bool:
        return self.status == VolumeStatus.DRAFT


class Document(models.Model):
    """One dossier document: a PDF (uploaded, converted from a scan, or generated) and its facts."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="documents")
    part = models.CharField(_("卷别"), max_length=8, choices=Part.choices, default=Part.MAIN)
    category = models.CharField(_("类别"), max_length=12, choices=Category.choices)
    title = models.CharField(_("标题"), max_length=200)
    doc_date = models.DateField(_("文书日期"), null=True, blank=True)
    author_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("制作机关"), on_delete=models.PROTECT, related_name="authored_documents"
    )
    # The agency whose user put the document into the dossier; for the work file, the only reader.
    owner_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("归档机关"), on_delete=models.PROTECT, related_name="+"
    )
    page_count = models.PositiveIntegerField(_("页数"))
    size = models.BigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    stored = models.ForeignKey(
        "objectstore.StoredObject", verbose_name=_("PDF 文件"), on_delete=models.PROTECT, related_name="+"
    )
    original_filename = models.CharField(_("原文件名"), max_length=255, blank=True)
    original_sha256 = models.CharField(_("原文件 SHA-256"), max_length=64, blank=True)
    original_content_type = models.CharField(_("原文件类型"), max_length=100, blank=True)
    converted = models.BooleanField(_("由图像转换"), default=False)
    generated = models.BooleanField(_("系统生成"), default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    supersedes = models.ForeignKey(
        "self", verbose_name=_("更正的文件"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    reason = models.TextField(_("更正理由"), blank=True)
    is_current = models.BooleanField(_("现行版本"), default=True, db_index=True)
    volume = models.ForeignKey(
        Volume, verbose_name=_("所属卷"), null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    position = models.PositiveIntegerField(_("卷内顺序"), default=0)
    # A draft withdrawn before it was ever sealed or sent (uploaded by mistake): the row and its
    # bytes stay, out of every volume and no longer current; who, when and why are kept here and
    # in the trail (``document.withdrawn``). A sealed document is never withdrawn, only corrected.
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("撤回人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    withdrawal_reason = models.TextField(_("撤回理由"), blank=True)
    # Fixed when the volume is sealed: the volume page number of the document's first page.
    first_page = models.PositiveIntegerField(_("起始页"), null=True, blank=True)
    # The persons of the case this document concerns (涉及人员), e.g. one suspect's interrogation
    # record: when the case is split (分案处理), the document goes with them; empty = the whole case.
    concerns = models.ManyToManyField("cases.Person", verbose_name=_("涉及人员"), blank=True,
                                      related_name="concerning_documents")

    class Meta:
        ordering = ["case", "part", "volume__number", "position", "id"]
        verbose_name = _("卷宗材料")
        verbose_name_plural = _("卷宗材料")
        indexes = [models.Index(fields=["case", "part", "is_current"])]

    def __str__(self) -> str:
        return self.title

    @property
    def last_page(self) -> int | None:
        if self.first_page is None:
            return None
        return self.first_page + self.page_count - 1

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def is_draft(self) -> bool:
        """Current, in its agency's draft volume: never sealed, never sent, still changeable."""
        return (self.is_current and self.volume_id is not None and self.volume.status == VolumeStatus.DRAFT)

    @property
    def page_range(self) -> str:
        if self.first_page is None:
            return ""
        return str(self.first_page) if self.page_count == 1 else f"{self.first_page}-{self.last_page}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("处理中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("未通过")


class _Job(models.Model):
    """Progress of a background task, polled by the dossier page (htmx)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    step = models.CharField(_("步骤"), max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(_("进度"), default=0)  # percent
    message = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The last sign of life of a run (each progress step); a job unfinished and silent for longer
    # than the broker's redelivery time is shown as stalled and may be retried (see ``stalled``).
    updated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A finished job the user cleared from the progress panel (the row and the trail stay).
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    @property
    def stalled(self) -> bool:
        """Unfinished, and no sign of life for twice the broker's redelivery time: the broker
        would have handed a dead worker's task on by now, so the message itself is gone (a web
        process died before queueing it, the broker lost it). The user may retry such a job."""
        if self.is_finished:
            return False
        last = self.updated_at or self.created_at
        quiet = timedelta(seconds=2 * settings.CASEHUB_TASK_VISIBILITY_TIMEOUT)
        return last is not None and timezone.now() - last > quiet


class IngestJob(_Job):
    """One uploaded file on its way through validate → hash/store → count → normalise → record.

    The upload waits in ``staged_path`` (a private directory under the data directory, never the
    object store) so a rejected file leaves nothing behind: the staged file is removed either way.
    """

    part = models.CharField(max_length=8, choices=Part.choices, default=Part.MAIN)
    category = models.CharField(max_length=12, choices=Category.choices)
    title = models.CharField(max_length=200)
    doc_date = models.DateField(null=True, blank=True)
    supersedes = models.ForeignKey(Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    staged_path = models.CharField(max_length=500, blank=True)
    size = models.BigIntegerField(default=0)
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta(_Job.Meta):
        verbose_name = _("上传处理任务")
        verbose_name_plural = _("上传处理任务")

    def __str__(self) -> str:
        return f"{self.original_filename or self.title} ({self.get_status_display()})"


class AssemblyJob(_Job):
    """Sealing and assembling the draft volumes of one part of a case."""

    part = models.CharField(max_length=8, choices=Part.choices, default=Part.MAIN)
    volumes = models.ManyToManyField(Volume, blank=True, related_name="+")

    class Meta(_Job.Meta):
        verbose_name = _("组卷任务")
        verbose_name_plural = _("组卷任务")

    def __str__(self) -> str:
        return f"{self.get_part_display()} ({self.get_status_display()})"


class ChunkedUpload(models.Model):
    """A large upload arriving in pieces from the browser (resumable: the client asks for
    ``received`` and continues from there)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    total_size = models.BigIntegerField()
    received = models.BigIntegerField(default=0)
    staged_path = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    completed = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.filename} {self.received}/{self.total_size}"
