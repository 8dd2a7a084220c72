"""Cases (案件), the persons in them, their numbers and the charge reference list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from casehub.cases.state import EngineOwnedQuerySet, protect


class Offence(models.Model):
    """A charge 罪名 as reference data, valid between two dates (法释〔2024〕3号 lists 483)."""

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("罪名"), max_length=100)
    article = models.CharField(_("刑法条文"), max_length=50, blank=True)
    effective_from = models.DateField(_("施行日期"), null=True, blank=True)
    effective_to = models.DateField(_("废止日期"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("罪名")
        verbose_name_plural = _("罪名")

    def __str__(self) -> str:
        return self.name


class CaseStatus(models.TextChoices):
    ACTIVE = "active", _("办理中")
    CLOSED = "closed", _("已结案")


class Case(models.Model):
    """A criminal case. Its stage and holder change only through the workflow engine."""

    title = models.CharField(_("案件名称"), max_length=200)
    summary = models.TextField(_("简要案情"), blank=True)
    occurred_on = models.DateField(_("案发日期"), null=True, blank=True)
    occurred_place = models.CharField(_("案发地点"), max_length=200, blank=True)
    offences = models.ManyToManyField(Offence, verbose_name=_("涉嫌罪名"), blank=True, related_name="cases")
    origin_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("立案机关"), on_delete=models.PROTECT, related_name="originated_cases"
    )
    holder_agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("当前承办机关"), on_delete=models.PROTECT, related_name="held_cases"
    )
    stage = models.CharField(_("诉讼阶段"), max_length=40, default="investigation", db_index=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=CaseStatus.choices, default=CaseStatus.ACTIVE, db_index=True
    )
    handling_officers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("承办人"), blank=True, related_name="handled_cases"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every transition; lets a form detect that the case changed under it.
    version = models.PositiveIntegerField(default=0)

    objects = EngineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        permissions = [("act_on_case", "承办 / act on the case as its current holder")]
        indexes = [models.Index(fields=["holder_agency", "stage", "status"])]

    def __str__(self) -> str:
        return self.title


class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class NumberKind(models.TextChoices):
    POLICE_FILING = "police_filing", _("公安立案号")
    PROSECUTION_RECOMMENDATION = "prosecution_recommendation", _("起诉意见书")
    PROCURATORATE_REVIEW = "procuratorate_review", _("检察院受案号")
    ARREST_DECISION = "arrest_decision", _("批捕决定书")
    ARREST_REFUSAL = "arrest_refusal", _("不批准逮捕决定书")
    INDICTMENT = "indictment", _("起诉书")
    NON_PROSECUTION = "non_prosecution", _("不起诉决定书")
    CASE_WITHDRAWAL = "case_withdrawal", _("撤销案件决定书")
    INVESTIGATION_TERMINATION = "investigation_termination", _("终止侦查决定书")
    SUPPLEMENTARY_RETURN = "supplementary_return", _("退回补充侦查决定书")
    CONDITIONAL_NON_PROSECUTION = "conditional_non_prosecution", _("附条件不起诉决定书")
    CONDITIONAL_REVOCATION = "conditional_revocation", _("撤销附条件不起诉决定书")
    NP_RECONSIDERATION_REQUEST = "np_reconsideration_request", _("要求复议意见书")
    NP_RECONSIDERATION_DECISION = "np_reconsideration_decision", _("复议决定书")
    NP_REVIEW_REQUEST = "np_review_request", _("提请复核意见书")
    NP_REVIEW_DECISION = "np_review_decision", _("复核决定书")
    NP_PETITION_DECISION = "np_petition_decision", _("复查决定书")
    REVIEW_EXTENSION = "review_extension", _("延长审查起诉期限决定书")
    RELEASE_CERTIFICATE = "release_certificate", _("释放证明书")
    COURT_DOCKET = "court_docket", _("法院案号")


class CaseNumber(models.Model):
    """A number one agency gave the case or one of its documents; a case carries several."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="numbers")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40, choices=NumberKind.choices)
    # A court numbers each type of case on its own (刑初, 刑终, ...): one sequence per type code.
    type_code = models.CharField(max_length=10, blank=True, default="")
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    number = models.CharField(_("编号"), max_length=80, unique=True)
    # A decision about one person (批准/不批准逮捕决定书: one per person, CPL art. 90); null: the case.
    person = models.ForeignKey("cases.Person", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="numbers")
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issued_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "kind", "type_code", "year", "sequence"],
                                    name="uniq_number_sequence_per_type"),
        ]

    def __str__(self) -> str:
        return self.number


class NumberFormat(models.Model):
    """How an agency writes a kind of number, e.g. ``({year}){court_code}刑初{seq}号``.

    Placeholders: ``{year}``, ``{seq}`` (with an optional format such as ``{seq:03d}``),
    ``{abbr}`` (agency abbreviation), ``{court_code}``, ``{type_code}``.
    """

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="number_formats")
    kind = models.CharField(max_length=40, choices=NumberKind.choices)
    pattern = models.CharField(max_length=120)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "kind"], name="uniq_number_format")]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.kind} {self.pattern}"


class NumberSequence(models.Model):
    """The last sequence number issued per agency, kind (and type code) and year; locked to issue."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    type_code = models.CharField(max_length=10, blank=True)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "kind", "type_code", "year"], name="uniq_sequence_counter"),
        ]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.kind}{self.type_code}/{self.year} = {self.last}"


class PersonRole(models.TextChoices):
    SUSPECT = "suspect", _("犯罪嫌疑人/被告人")
    VICTIM = "victim", _("被害人")


class CustodyStatus(models.TextChoices):
    NOT_DETAINED = "not_detained", _("未羁押")
    DETAINED = "detained", _("刑事拘留")
    ARRESTED = "arrested", _("逮捕")
    BAIL = "bail", _("取保候审")
    RESIDENTIAL_SURVEILLANCE = "residential_surveillance", _("监视居住")
    RELEASED = "released", _("已释放")
    EXECUTED = "executed", _("已交付执行")


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class Person(models.Model):
    """A suspect/defendant or a victim in a case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="persons")
    role = models.CharField(_("身份"), max_length=10, choices=PersonRole.choices, default=PersonRole.SUSPECT)
    name = models.CharField(_("姓名"), max_length=60)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, blank=True)
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True, db_index=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    address = models.CharField(_("住址"), max_length=200, blank=True)
    record = models.TextField(_("前科情况"), blank=True)
    custody_status = models.CharField(
        _("强制措施"), max_length=30, choices=CustodyStatus.choices, default=CustodyStatus.NOT_DETAINED
    )
    custody_since = models.DateTimeField(_("羁押起始时间"), null=True, blank=True)
    detention_centre = models.ForeignKey(
        "agencies.Agency", verbose_name=_("羁押场所"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="detainees", limit_choices_to={"kind": "detention"},
    )
    # The person's own procedural state: the measure above, who decided it and since when. Bail and
    # residential surveillance are limits per deciding authority (CPL art. 79; SPP Rules 2019
    # arts. 103, 113), so the authority is part of the state, not a detail of the history.
    measure_since = models.DateTimeField(_("强制措施起始时间"), null=True, blank=True)
    measure_authority = models.ForeignKey(
        "agencies.Agency", verbose_name=_("决定机关"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EngineOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("涉案人员")
        verbose_name_plural = _("涉案人员")

    def __str__(self) -> str:
        return self.name

    @property
    def is_detained(self) -> bool:
        return self.custody_status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)

    @property
    def is_suspect(self) -> bool:
        return self.role == PersonRole.SUSPECT

    @property
    def masked_id_number(self) -> str:
        """``440307********1234``: enough to tell people apart, not enough to misuse."""
        from casehub.cases.identity import mask_id_number

        return mask_id_number(self.id_number)


# Only the workflow engine changes these (casehub.cases.state): a case's stage and holder, and a
# person's custody status — a measure the law gives to a deciding authority.
protect(Case, "stage", "holder_agency")
protect(Person, "custody_status", "measure_since", "measure_authority")
