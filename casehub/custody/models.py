"""Custody of detained persons (羁押) and its electronic transfer (换押).

- :class:`CustodyRecord`: one per detained person — detention centre, measure, the agency
  currently responsible 羁押权属机关, stage and statutory custody period.
- :class:`CustodyCertificate`: an electronic custody-transfer certificate 换押证 issued by the
  sending agency when the case (and so the custody) moves; the receiver's take-over and the
  detention centre's acknowledgement are recorded on it. Paper certificates are registered as
  ``channel=paper`` rows so the e-custody-transfer rate has a true denominator.
- :class:`CustodyNotice`: 变更羁押期限通知书 — changes within a stage (extension, detention → arrest,
  bail, release), signed by the deciding agency; no new transfer.
- :class:`CustodyEvent`: the history of every change of a record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from casehub.cases.state import EngineOwnedQuerySet, protect
from casehub.metrics.tracking import RolledUp


class Measure(models.TextChoices):
    DETENTION = "detained", _("刑事拘留")
    ARREST = "arrested", _("逮捕")


class RecordStatus(models.TextChoices):
    IN_CUSTODY = "in_custody", _("在押")
    BAIL = "bail", _("取保候审")
    RELEASED = "released", _("已释放")
    EXECUTED = "executed", _("已交付执行")


class Channel(models.TextChoices):
    ONLINE = "online", _("电子换押")
    PAPER = "paper", _("纸质换押（登记）")


class CertificateStatus(models.TextChoices):
    ISSUED = "issued", _("已发出，待接收")
    TAKEN_OVER = "taken_over", _("已接收")
    CANCELLED = "cancelled", _("已作废")


class CustodyRecord(models.Model):
    person = models.OneToOneField("cases.Person", on_delete=models.PROTECT, related_name="custody_record")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="custody_records")
    detention_centre = models.ForeignKey(
        "agencies.Agency", verbose_name=_("羁押场所"), on_delete=models.PROTECT, related_name="custody_records"
    )
    measure = models.CharField(_("强制措施"), max_length=10, choices=Measure.choices)
    status = models.CharField(
        _("状态"), max_length=12, choices=RecordStatus.choices, default=RecordStatus.IN_CUSTODY, db_index=True
    )
    responsible_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("羁押权属机关"), on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(_("诉讼阶段"), max_length=40)
    detained_at = models.DateTimeField(_("羁押起始时间"))
    period_kind = models.CharField(_("期限类别"), max_length=40, blank=True)
    period_start = models.DateField(_("本阶段起算日期"))
    period_end = models.DateField(_("本阶段羁押期限届满日期"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("解除羁押时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EngineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["period_end", "id"]
        verbose_name = _("羁押记录")
        verbose_name_plural = _("羁押记录")
        indexes = [models.Index(fields=["detention_centre", "status", "period_end"])]

    def __str__(self) -> str:
        return f"{self.person} @ {self.detention_centre}"

    @property
    def in_custody(self) -> bool:
        return self.status == RecordStatus.IN_CUSTODY

    @property
    def stage_label(self) -> str:
        """The stage's name from the process definition (the code if the engine does not know it)."""
        try:
            from workflows.definition import STAGES
        except ImportError:  # pragma: no cover
            return self.stage
        spec = STAGES.get(self.stage)
        return str(spec.label) if spec else self.stage


class CustodyCertificate(RolledUp):  # counted by the dashboard: save()/delete() keep the rollups in step
    """换押证. ``from_agency`` hands custody of ``person`` to ``to_agency`` with the case."""

    number = models.CharField(_("编号"), max_length=80, unique=True)
    channel = models.CharField(_("方式"), max_length=10, choices=Channel.choices, default=Channel.ONLINE,
                               db_index=True)
    record = models.ForeignKey(CustodyRecord, on_delete=models.PROTECT, related_name="certificates")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="custody_certificates")
    person = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="custody_certificates")
    detention_centre = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    from_agency = models.ForeignKey("agencies.Agency", verbose_name=_("移送机关"), on_delete=models.PROTECT,
                                    related_name="+")
    to_agency = models.ForeignKey("agencies.Agency", verbose_name=_("接收机关"), on_delete=models.PROTECT,
                                  related_name="+")
    from_stage = models.CharField(max_length=40, blank=True)
    to_stage = models.CharField(_("诉讼阶段"), max_length=40, blank=True)
    reason = models.CharField(_("换押事由"), max_length=100)
    transition = models.CharField(max_length=60, blank=True)
    transfer = models.ForeignKey("workflows.Transfer", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="custody_certificates")
    status = models.CharField(_("状态"), max_length=12, choices=CertificateStatus.choices,
                              default=CertificateStatus.ISSUED, db_index=True)
    issued_at = models.DateTimeField(_("发出时间"), db_index=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    pdf = models.ForeignKey("objectstore.StoredObject", null=True, blank=True, on_delete=models.PROTECT,
                            related_name="+")
    taken_over_at = models.DateTimeField(_("接收时间"), null=True, blank=True)
    taken_over_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    period_start = models.DateField(_("法定期限起"), null=True, blank=True)
    period_end = models.DateField(_("法定期限止"), null=True, blank=True)
    receipt_pdf = models.ForeignKey("objectstore.StoredObject", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    acknowledged_at = models.DateTimeField(_("看守所确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    paper_reference = models.CharField(_("纸质换押证编号"), max_length=100, blank=True)
    cancelled_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("换押证")
        verbose_name_plural = _("换押证")
        indexes = [models.Index(fields=["detention_centre", "acknowledged_at"])]

    def __str__(self) -> str:
        return self.number


class NoticeKind(models.TextChoices):
    EXTENSION = "extension", _("延长羁押期限")
    RECALCULATION = "recalculation", _("重新计算羁押期限")
    ARREST = "arrest", _("拘留变更为逮捕")
    BAIL = "bail", _("变更为取保候审")
    RELEASE = "release", _("释放")
    EXECUTION = "execution", _("交付执行")


class CustodyNotice(models.Model):
    """变更羁押期限通知书: a change within a stage, signed by the agency that decided it."""

    number = models.CharField(_("编号"), max_length=80, unique=True)
    kind = models.CharField(_("类别"), max_length=20, choices=NoticeKind.choices)
    record = models.ForeignKey(CustodyRecord, on_delete=models.PROTECT, related_name="notices")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="custody_notices")
    person = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="custody_notices")
    detention_centre = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("决定机关"), on_delete=models.PROTECT,
                               related_name="+")
    previous_end = models.DateField(_("原届满日期"), null=True, blank=True)
    new_end = models.DateField(_("新届满日期"), null=True, blank=True)
    reason = models.TextField(_("理由"))
    issued_at = models.DateTimeField(_("发出时间"))
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    pdf = models.ForeignKey("objectstore.StoredObject", null=True, blank=True, on_delete=models.PROTECT,
                            related_name="+")
    acknowledged_at = models.DateTimeField(_("看守所确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("变更羁押期限通知书")
        verbose_name_plural = _("变更羁押期限通知书")

    def __str__(self) -> str:
        return self.number


class EventKind(models.TextChoices):
    REGISTERED = "registered", _("登记羁押")
    ISSUED = "issued", _("发出换押证")
    TAKEN_OVER = "taken_over", _("接收换押")
    CANCELLED = "cancelled", _("换押证作废")
    ACKNOWLEDGED = "acknowledged", _("看守所确认")
    NOTICE = "notice", _("羁押期限变更")
    PAPER = "paper", _("登记纸质换押")


class CustodyEvent(models.Model):
    record = models.ForeignKey(CustodyRecord, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    agency = models.ForeignKey("agencies.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    responsible_agency = models.ForeignKey("agencies.Agency", null=True, blank=True, on_delete=models.PROTECT,
                                           related_name="+")
    stage = models.CharField(max_length=40, blank=True)
    measure = models.CharField(max_length=10, blank=True)
    period_end = models.DateField(null=True, blank=True)
    certificate = models.ForeignKey(CustodyCertificate, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    notice = models.ForeignKey(CustodyNotice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class ExtensionStatus(models.TextChoices):
    REQUESTED = "requested", _("已提请，待检察院报送")
    FORWARDED = "forwarded", _("已报送，待决定")
    APPROVED = "approved", _("批准延长")
    REFUSED = "refused", _("不批准延长")


class CustodyExtension(models.Model):
    """A request to extend one arrested person's investigation custody (CPL arts. 156, 158, 159) and
    its route: the police file it with the procuratorate that approved the arrest at least 7 days
    before the period ends (SPP Rules 2019 art. 309), that procuratorate forwards it with its opinion,
    the procuratorate one level up (art. 156) or the provincial one (arts. 158-159) decides, and the
    decision — a signed 延长侦查羁押期限决定书 — comes back through the procuratorate that received it.
    Written only by :mod:`workflows.custody_terms`."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="custody_extensions")
    person = models.ForeignKey("cases.Person", on_delete=models.PROTECT, related_name="custody_extensions")
    clock = models.ForeignKey("clocks.Clock", on_delete=models.PROTECT, related_name="+")
    article = models.CharField(_("法律依据"), max_length=3)
    ground = models.CharField(_("延长情形"), max_length=20, blank=True)
    sentence_ten_years = models.BooleanField(_("可能判处十年有期徒刑以上刑罚"), default=False)
    reason = models.TextField(_("提请理由"))
    police = models.ForeignKey("agencies.Agency", verbose_name=_("提请机关"), on_delete=models.PROTECT,
                               related_name="+")
    requested_at = models.DateTimeField(_("提请时间"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    period_end = models.DateField(_("提请时羁押期限届满日期"))
    received_by = models.ForeignKey("agencies.Agency", verbose_name=_("受理机关"), on_delete=models.PROTECT,
                                    related_name="+")
    forwarded_at = models.DateTimeField(_("报送时间"), null=True, blank=True)
    forwarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    opinion = models.TextField(_("受理机关意见"), blank=True)
    decided_by = models.ForeignKey("agencies.Agency", verbose_name=_("决定机关"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_by_name = models.CharField(_("决定机关名称"), max_length=200)
    recorded_by = models.ForeignKey("agencies.Agency", verbose_name=_("登记决定的机关"), on_delete=models.PROTECT,
                                    related_name="+")
    status = models.CharField(_("状态"), max_length=12, choices=ExtensionStatus.choices,
                              default=ExtensionStatus.REQUESTED, db_index=True)
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    decider = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    decision_reason = models.TextField(_("决定理由"), blank=True)
    paper_reference = models.CharField(_("纸质决定书文号"), max_length=100, blank=True)
    number = models.CharField(_("决定书文号"), max_length=80, blank=True)
    new_end = models.DateField(_("延长后届满日期"), null=True, blank=True)
    pdf = models.ForeignKey("objectstore.StoredObject", null=True, blank=True, on_delete=models.PROTECT,
                            related_name="+")
    notice = models.ForeignKey(CustodyNotice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("延长侦查羁押期限")
        verbose_name_plural = _("延长侦查羁押期限")

    def __str__(self) -> str:
        return f"{self.person} {self.article} {self.get_status_display()}"

    @property
    def pending(self) -> bool:
        return self.status in (ExtensionStatus.REQUESTED, ExtensionStatus.FORWARDED)


# A custody measure changes only by a decision the engine records (arrest, bail, release).
protect(CustodyRecord, "measure")
