"""The rows the workflow engine writes: transfers between agencies, the transition log, approvals.

A :class:`Transfer` is a signed package one agency sends another: the canonical manifest
bytes exactly as signed, the detached CMS signature, the receiver's verification result and
its signed receipt. The workflow engine (:mod:`workflows.engine`) is the only writer of
:class:`TransitionLog`, :class:`Transfer` (online) and :class:`ApprovalRequest`; a paper
hand-over registered by a clerk (:func:`casehub.transfers.services.register_paper_transfer`)
is a Transfer with ``mode=paper``.

These models were declared in ``casehub.transfers`` until the engine became a Django app; their
tables keep the old names (``db_table``) so existing databases keep their rows untouched.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casehub.metrics.tracking import RolledUp


class TransferKind(models.TextChoices):
    ARREST_REQUEST = "arrest_request", _("提请批准逮捕")
    ARREST_DECISION = "arrest_decision", _("审查逮捕决定")
    REVIEW_TRANSFER = "review_transfer", _("移送审查起诉")
    SUPPLEMENTARY_RETURN = "supplementary_return", _("退回补充侦查")
    NON_PROSECUTION = "non_prosecution", _("不起诉决定")
    INDICTMENT = "indictment", _("提起公诉")
    INDICTMENT_RETURN = "indictment_return", _("退回起诉")
    JUDGMENT = "judgment", _("判决送达")
    POLICE_CLOSING = "police_closing", _("撤销案件、终止侦查通知")
    TRIAL_SUPPLEMENTARY = "trial_supplementary", _("延期审理补充侦查")
    SUPPLEMENTARY_EVIDENCE = "supplementary_evidence", _("补充侦查完毕移送人民法院")
    APPEAL = "appeal", _("上诉、抗诉案件移送")
    REMAND = "remand", _("发回重审")
    EXECUTION = "execution", _("交付执行")
    PROSECUTION_WITHDRAWAL = "prosecution_withdrawal", _("准许撤回起诉退卷")
    JURISDICTION_TRANSFER = "jurisdiction_transfer", _("移送管辖")
    CORRECTION_NOTICE = "correction_notice", _("社区矫正通知")
    CORRECTION_COPY = "correction_copy", _("社区矫正法律文书抄送")


class TransferMode(models.TextChoices):
    ONLINE = "online", _("网上流转")
    PAPER = "paper", _("纸质移送（登记）")


class TransferStatus(models.TextChoices):
    SENT = "sent", _("已送达，待接收")
    DELIVERED = "delivered", _("已送达")
    ACCEPTED = "accepted", _("已接收")
    REJECTED = "rejected", _("已退回")
    WITHDRAWN = "withdrawn", _("已撤回")


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("待校验")
    RUNNING = "running", _("校验中")
    PASSED = "passed", _("校验通过")
    FAILED = "failed", _("校验失败")


class Transfer(RolledUp):  # counted by the dashboard: save()/delete() keep the rollups in step
    """One package from one agency to another, online (signed) or registered from paper."""

    case = models.ForeignKey(
        "cases.Case", verbose_name=_("案件"), null=True, blank=True, on_delete=models.PROTECT, related_name="transfers"
    )
    kind = models.CharField(_("移送类别"), max_length=30, choices=TransferKind.choices)
    mode = models.CharField(_("方式"), max_length=10, choices=TransferMode.choices, default=TransferMode.ONLINE)
    transition = models.CharField(_("流程节点"), max_length=60, blank=True)
    requires_acceptance = models.BooleanField(_("需接收审查"), default=True)
    from_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("移送机关"), on_delete=models.PROTECT, related_name="transfers_sent"
    )
    to_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("接收机关"), on_delete=models.PROTECT, related_name="transfers_received"
    )
    sender_stage = models.CharField(_("移送时阶段"), max_length=40, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=TransferStatus.choices, default=TransferStatus.SENT)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("移送人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("移送时间"), default=timezone.now, db_index=True)

    # The manifest exactly as signed (canonical JSON bytes), its hash and detached CMS signature.
    manifest = models.JSONField(_("移送清单"), default=dict, blank=True)
    manifest_bytes = models.BinaryField(default=b"", editable=False)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    manifest_signature = models.BinaryField(default=b"", editable=False)
    document_count = models.PositiveIntegerField(_("文书数"), default=0)
    volume_count = models.PositiveIntegerField(_("卷数"), default=0)
    page_count = models.PositiveIntegerField(_("页数"), default=0)
    total_bytes = models.BigIntegerField(default=0)
    # What travelled: the receiving agency may read these once it has accepted the package.
    documents = models.ManyToManyField("dossier.Document", blank=True, related_name="transfers")
    volumes = models.ManyToManyField("dossier.Volume", blank=True, related_name="transfers")
    # For the e-dossier rate: was the dossier complete and electronic when it was sent?
    dossier_complete = models.BooleanField(_("卷宗齐全"), default=False)
    electronic = models.BooleanField(_("电子卷宗"), default=True)

    verification_status = models.CharField(
        _("校验状态"), max_length=10, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    verification_progress = models.PositiveSmallIntegerField(default=0)  # percent
    verification_errors = models.JSONField(default=list, blank=True)
    verification_report = models.JSONField(default=dict, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("接收/退回时间"), null=True, blank=True)
    decision_reason = models.TextField(_("理由"), blank=True)
    # The receiver's signed answer.
    receipt = models.JSONField(_("回执"), default=dict, blank=True)
    receipt_bytes = models.BinaryField(default=b"", editable=False)
    receipt_sha256 = models.CharField(max_length=64, blank=True)
    receipt_signature = models.BinaryField(default=b"", editable=False)

    # Paper hand-overs registered by the receiving clerk.
    paper_received_on = models.DateField(_("纸质卷宗接收日期"), null=True, blank=True)
    paper_volumes = models.PositiveIntegerField(_("接收卷数"), null=True, blank=True)
    paper_pages = models.PositiveIntegerField(_("接收页数"), null=True, blank=True)
    external_reference = models.CharField(_("案件名称或文号"), max_length=200, blank=True)

    class Meta:
        db_table = "transfers_transfer"
        ordering = ["-sent_at", "-id"]
        verbose_name = _("移送")
        verbose_name_plural = _("移送")
        indexes = [
            models.Index(fields=["to_agency", "status"]),
            models.Index(fields=["from_agency", "status"]),
            models.Index(fields=["case", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.status == TransferStatus.SENT

    @property
    def can_be_accepted(self) -> bool:
        return self.is_pending and self.verification_status == VerificationStatus.PASSED


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("未批准")
    CANCELLED = "cancelled", _("已撤销")


class ApprovalRequest(models.Model):
    """An outgoing transition prepared by an officer, waiting for a supervisor of the same agency."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="approval_requests")
    transition = models.CharField(_("流程节点"), max_length=60)
    source_stage = models.CharField(max_length=40)
    inputs = models.JSONField(default=dict, blank=True)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(_("审批意见"), blank=True)

    class Meta:
        db_table = "transfers_approvalrequest"
        ordering = ["-requested_at", "-id"]
        verbose_name = _("内部审批")
        verbose_name_plural = _("内部审批")
        constraints = [
            # At most one outgoing action waits for approval per case.
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="pending"), name="one_pending_approval_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transition} ({self.get_status_display()})"

    @property
    def transition_label(self) -> str:
        from workflows.definition import BY_NAME

        spec = BY_NAME.get(self.transition)
        return str(spec.label) if spec else self.transition


class TransitionLog(models.Model):
    """Evidence of one transition: who, which agency, from, to, when, why, with what inputs."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="transition_log")
    transition = models.CharField(_("流程节点"), max_length=60, db_index=True)
    source = models.CharField(_("原阶段"), max_length=40, blank=True)
    target = models.CharField(_("新阶段"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("操作机关"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    from_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("原承办机关"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    to_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("新承办机关"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(_("时间"), default=timezone.now)
    reason = models.TextField(_("理由"), blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    transfer = models.ForeignKey(Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approval = models.ForeignKey(ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审批人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    case_version = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "transfers_transitionlog"
        ordering = ["occurred_at", "id"]
        verbose_name = _("流转记录")
        verbose_name_plural = _("流转记录")
        indexes = [models.Index(fields=["case", "transition"])]

    def __str__(self) -> str:
        return f"{self.transition}: {self.source} → {self.target}"


class Outcome(models.TextChoices):
    GUILTY = "guilty", _("有罪判处刑罚")
    EXEMPTED = "exempted", _("有罪免予刑事处罚")
    ACQUITTED = "acquitted", _("无罪")


class Penalty(models.TextChoices):
    DEATH = "death", _("死刑")
    LIFE = "life", _("无期徒刑")
    FIXED_TERM = "fixed_term", _("有期徒刑")
    CRIMINAL_DETENTION = "criminal_detention", _("拘役")
    PUBLIC_SURVEILLANCE = "public_surveillance", _("管制")
    FINE_ONLY = "fine_only", _("单处罚金")


class JudgmentDecision(models.Model):
    """The judge's decision for one defendant (CPL arts. 200-201): guilty with the sentence and its
    kind, exempted from punishment (Criminal Law art. 37), or acquitted. Recorded by the trial court
    before the announcement; ``announce_judgment`` generates the signed 刑事判决书 from it."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="judgment_decisions")
    person = models.OneToOneField("cases.Person", on_delete=models.PROTECT, related_name="judgment_decision")
    outcome = models.CharField(_("判决结果"), max_length=12, choices=Outcome.choices)
    charge = models.CharField(_("罪名"), max_length=200, blank=True)
    penalty = models.CharField(_("主刑"), max_length=24, choices=Penalty.choices, blank=True)
    term = models.CharField(_("刑期"), max_length=100, blank=True, help_text=_("如“一年六个月”；缓刑、附加刑写在此处。"))
    probation = models.BooleanField(_("宣告缓刑"), default=False)
    outside_prison = models.BooleanField(
        _("暂予监外执行"), default=False,
        help_text=_("判处有期徒刑、拘役，符合刑事诉讼法第二百六十五条条件的，人民法院在判决时决定暂予监外执行。"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["person_id"]
        verbose_name = _("判决结果")
        verbose_name_plural = _("判决结果")

    def __str__(self) -> str:
        return f"{self.person}: {self.get_outcome_display()}"

    def release_ground(self, on: Any = None) -> str:
        """Why a defendant held in custody is released on the announcement made on ``on``, or "" (CPL
        art. 260; SPC Interpretation art. 170: acquittal, no criminal responsibility or exemption;
        public surveillance, probation or a supplementary penalty alone even before the judgment takes
        effect; time in custody reaching the sentence — computed from the custody record,
        :mod:`workflows.sentence`)."""
        from workflows import sentence

        if self.outcome in (Outcome.ACQUITTED, Outcome.EXEMPTED):
            return "刑事诉讼法第二百六十条；最高人民法院解释第一百七十条第一项"
        if self.probation or self.penalty in (Penalty.PUBLIC_SURVEILLANCE, Penalty.FINE_ONLY):
            return "最高人民法院解释第一百七十条第二项"
        served = sentence.served(self, on or timezone.localdate())
        if served is not None and served.reached:
            return f"最高人民法院解释第一百七十条第三项：{served.text}"
        return ""

    @property
    def main_text(self) -> str:
        """The operative line of the judgment for this defendant (判决主文)."""
        name = self.person.name
        if self.outcome == Outcome.ACQUITTED:
            return _("被告人%(name)s无罪。") % {"name": name}
        if self.outcome == Outcome.EXEMPTED:
            return _("被告人%(name)s犯%(charge)s，免予刑事处罚。") % {"name": name, "charge": self.charge}
        if self.penalty == Penalty.FINE_ONLY:
            return _("被告人%(name)s犯%(charge)s，判处罚金%(term)s。") % {
                "name": name, "charge": self.charge, "term": self.term}
        text = _("被告人%(name)s犯%(charge)s，判处%(penalty)s%(term)s") % {
            "name": name, "charge": self.charge, "penalty": self.get_penalty_display(), "term": self.term}
        if self.probation and "缓刑" not in self.term:
            text += _("，宣告缓刑")
        if self.outside_prison:
            text += _("，暂予监外执行")
        return text + "。"


class CounselRole(models.TextChoices):
    DEFENCE_COUNSEL = "counsel", _("辩护人")
    DUTY_LAWYER = "duty_lawyer", _("值班律师")


class PleaExemption(models.TextChoices):
    """CPL art. 174(2): the cases in which a plea needs no signed statement (认罪认罚具结书)."""

    NONE = "", _("不适用（应当签署具结书）")
    DISABLED = "174_2_1", _("盲、聋、哑人或者尚未完全丧失辨认或者控制自己行为能力的精神病人（第一百七十四条第二款第一项）")
    MINOR_OBJECTION = "174_2_2", _("未成年犯罪嫌疑人的法定代理人、辩护人对认罪认罚有异议（第一百七十四条第二款第二项）")
    OTHER = "174_2_3", _("其他不需要签署认罪认罚具结书的情形（第一百七十四条第二款第三项）")


class PleaRecord(models.Model):
    """A suspect's plea and acceptance of punishment (认罪认罚, CPL art. 15), per person.

    The police record it during investigation (art. 120(2); written into the 起诉意见书, art. 162(2));
    the procuratorate records the counsel or duty lawyer who was present, the signed statement
    (认罪认罚具结书, an uploaded document; not required in the cases of art. 174(2)), the legal
    representative of a minor, and the sentencing recommendation (art. 176(2); SPP Rules art. 274).
    Written only by the plea transitions (:mod:`workflows.plea`)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="pleas")
    person = models.OneToOneField("cases.Person", on_delete=models.PROTECT, related_name="plea")
    police_statement = models.TextField(_("侦查阶段认罪认罚情况"), blank=True)
    police_recorded_at = models.DateTimeField(_("公安机关记录时间"), null=True, blank=True)
    police_recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    counsel_role = models.CharField(_("在场律师身份"), max_length=12, choices=CounselRole.choices, blank=True)
    counsel_name = models.CharField(_("辩护人或值班律师"), max_length=60, blank=True)
    statement = models.ForeignKey("dossier.Document", verbose_name=_("认罪认罚具结书"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    exemption = models.CharField(_("无需签署具结书的情形"), max_length=8, choices=PleaExemption.choices,
                                 blank=True)
    guardian_name = models.CharField(_("在场的法定代理人"), max_length=60, blank=True)
    sentencing = models.TextField(_("量刑建议"), blank=True)
    recorded_at = models.DateTimeField(_("检察院记录时间"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    # The suspect withdrew the plea before the indictment (反悔): kept, not deleted, and no longer counted.
    withdrawn_at = models.DateTimeField(_("撤回认罪认罚时间"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    withdrawal_reason = models.TextField(_("撤回认罪认罚情况"), blank=True)

    class Meta:
        ordering = ["person_id"]
        verbose_name = _("认罪认罚")
        verbose_name_plural = _("认罪认罚")

    def __str__(self) -> str:
        return f"{self.person}: {self.get_counsel_role_display() or '-'}"

    @property
    def confirmed(self) -> bool:
        """The procuratorate recorded the plea (art. 173-174): with a statement or an art. 174(2) ground,
        and the suspect has not withdrawn it."""
        return self.recorded_at is not None and self.withdrawn_at is None


class InvestigationTermination(models.Model):
    """终止侦查: the police end the investigation of one suspect while the case goes on (MPS
    Provisions 2020 arts. 186(2), 187). The person stays on the case's record but is no longer a
    suspect of its documents and transfers (:func:`workflows.documents.suspects`)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="terminations")
    person = models.OneToOneField("cases.Person", on_delete=models.PROTECT, related_name="termination")
    ground = models.CharField(_("终止侦查的情形"), max_length=20)
    reason = models.TextField(_("理由"), blank=True)
    decided_at = models.DateTimeField(_("决定时间"))
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["person_id"]
        verbose_name = _("终止侦查")
        verbose_name_plural = _("终止侦查")

    def __str__(self) -> str:
        return f"{self.person}: {self.ground}"


class ServiceRecipient(models.TextChoices):
    """Whom a judgment or ruling is served on (CPL art. 202; SPC Interpretation art. 303)."""

    DEFENDANT = "defendant", _("被告人")
    VICTIM = "victim", _("被害人")
    LEGAL_REPRESENTATIVE = "legal_representative", _("法定代理人")
    COUNSEL = "counsel", _("辩护人")
    AGENT = "agent", _("诉讼代理人")
    OTHER_PARTY = "other_party", _("其他当事人")
    WORK_UNIT = "work_unit", _("被告人所在单位")
    RESIDENCE_POLICE = "residence_police", _("被告人户籍地公安派出所")


class ServiceMethod(models.TextChoices):
    """How a document was served (CPL art. 107; SPC Interpretation arts. 204-208)."""

    DIRECT = "direct", _("直接送达")
    LEFT = "left", _("留置送达")
    ENTRUSTED = "entrusted", _("委托送达")
    POST = "post", _("邮寄送达")
    ELECTRONIC = "electronic", _("电子送达")


class ServiceRecord(models.Model):
    """One service of a court document on one person or body, with its signed 送达回证 (CPL arts. 107,
    202; SPC Interpretation art. 303). Written only by :func:`workflows.service.record_service`."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="service_records")
    document = models.ForeignKey("dossier.Document", verbose_name=_("送达文书"), on_delete=models.PROTECT,
                                 related_name="service_records")
    recipient = models.CharField(_("受送达人身份"), max_length=24, choices=ServiceRecipient.choices)
    recipient_name = models.CharField(_("受送达人"), max_length=120)
    person = models.ForeignKey("cases.Person", verbose_name=_("涉及人员"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="service_records")
    method = models.CharField(_("送达方式"), max_length=12, choices=ServiceMethod.choices)
    served_on = models.DateField(_("送达日期"))
    signed_by = models.CharField(_("签收人"), max_length=120, blank=True)
    receipt = models.ForeignKey("dossier.Document", verbose_name=_("送达回证"), on_delete=models.PROTECT,
                                related_name="+")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("送达机关"), on_delete=models.PROTECT,
                               related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["served_on", "id"]
        verbose_name = _("送达回证")
        verbose_name_plural = _("送达回证")

    def __str__(self) -> str:
        return f"{self.document.title} → {self.recipient_name}"
