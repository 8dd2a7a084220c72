"""Agencies (机关), their people and the roles those people hold."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils.translation import gettext_lazy as _


class AgencyKind(models.TextChoices):
    POLICE = "police", _("公安机关")
    PROCURATORATE = "procuratorate", _("人民检察院")
    COURT = "court", _("人民法院")
    DETENTION_CENTRE = "detention", _("看守所")
    COMMITTEE = "committee", _("政法委")
    # The justice bureau assigns legal aid and duty lawyers (CPL arts. 35-36, 278; Legal Aid Law
    # arts. 25, 36) and runs community correction (CPL art. 269).
    JUSTICE_BUREAU = "justice", _("司法局")
    # A law firm: its lawyers are the counsel the bureau assigns (they read what CPL art. 40 allows).
    LAW_FIRM = "law_firm", _("律师事务所")


class AgencyLevel(models.TextChoices):
    """The administrative level of an agency: a district's (basic) court and procuratorate handle
    most cases; the city's intermediate court and procuratorate hear appeals and serious cases; the
    province's high court and procuratorate approve the longest extensions (CPL arts. 158-159, 243)."""

    DISTRICT = "district", _("区（县）级")
    CITY = "city", _("市级")
    PROVINCE = "province", _("省级")


# How many leading digits of a six-digit administrative division code name the agency's area:
# 44 Guangdong, 4403 Shenzhen, 440307 Longgang (GB/T 2260).
REGION_DIGITS = {AgencyLevel.PROVINCE: 2, AgencyLevel.CITY: 4, AgencyLevel.DISTRICT: 6}


class Role(models.TextChoices):
    INVESTIGATOR = "investigator", _("侦查员")
    SUPERVISOR = "supervisor", _("审批人")
    PROSECUTOR = "prosecutor", _("检察官")
    COURT_CLERK = "court_clerk", _("立案庭书记员")
    JUDGE = "judge", _("法官")
    DETENTION_OFFICER = "detention_officer", _("看守所民警")
    AUDITOR = "auditor", _("督察考核")
    AGENCY_ADMIN = "agency_admin", _("机构管理员")
    LEGAL_AID_OFFICER = "legal_aid_officer", _("法律援助人员")
    CORRECTION_OFFICER = "correction_officer", _("社区矫正工作人员")
    LAWYER = "lawyer", _("律师")


class Agency(models.Model):
    """A police sub-bureau, procuratorate, court, detention centre, political-legal committee, justice
    bureau or law firm."""

    kind = models.CharField(_("类别"), max_length=20, choices=AgencyKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("机构代码"), max_length=32, unique=True)
    abbreviation = models.CharField(
        _("简称"), max_length=20, blank=True,
        help_text=_("用于文书编号，例如 深龙检、深龙公。"),
    )
    court_code = models.CharField(
        _("法院代字"), max_length=20, blank=True,
        help_text=_("案号中的法院代字，例如 粤0307（仅法院）。"),
    )
    region = models.CharField(_("行政区划代码"), max_length=12, blank=True)
    level = models.CharField(_("级别"), max_length=10, choices=AgencyLevel.choices, default=AgencyLevel.DISTRICT,
                             help_text=_("区（县）级、市级或省级；决定督察考核人员可见的范围。"))
    parent = models.ForeignKey(
        "self", verbose_name=_("上级机关"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="agency", editable=False)
    require_second_factor = models.BooleanField(
        _("要求双因素认证"), default=False, help_text=_("本机构用户登录后须通过 TOTP 验证。")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("机构")
        verbose_name_plural = _("机构")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Every agency owns a group; object permissions on cases are granted to it.
        if self.group_id is None:
            self.group, _created = Group.objects.get_or_create(name=f"agency:{self.code}")
        super().save(*args, **kwargs)

    @property
    def area_prefix(self) -> str:
        """The leading digits of the region code that cover the agency's area at its level
        ("4403" for a Shenzhen city agency with region 440300); the whole code when shorter."""
        return self.region[:REGION_DIGITS.get(self.level, len(self.region))] if self.region else ""

    @property
    def parent_region(self) -> str:
        """The region code of the level above ("440300" above 440307, "440000" above 440300)."""
        if len(self.region) != 6 or self.level == AgencyLevel.PROVINCE:
            return ""
        digits = REGION_DIGITS[AgencyLevel.CITY if self.level == AgencyLevel.DISTRICT else AgencyLevel.PROVINCE]
        return self.region[:digits].ljust(6, "0")


class User(AbstractUser):
    """A person who works in exactly one agency (superusers may have none)."""

    agency = models.ForeignKey(
        Agency, verbose_name=_("所属机构"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    badge_number = models.CharField(_("警号/工号"), max_length=30, blank=True)
    # Set by an agency administrator ("force a reset"): the user must choose a new password before
    # anything else. Administrators never set another person's password themselves.
    password_change_required = models.BooleanField(_("须修改密码"), default=False)

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_change_required = False  # the reset an administrator forced is completed

    @property
    def roles(self) -> frozenset[str]:
        """Role names held, read from the role groups (cached per instance)."""
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            names = [g.name for g in self.groups.all()]
            cached = frozenset(n.removeprefix("role:") for n in names if n.startswith("role:"))
            self._roles_cache = cached
        return cached

    def has_role(self, role: str) -> bool:
        return role in self.roles


class Capability(models.Model):
    """Holder of the platform's model-level permissions (no table).

    What each role may do is declared in :mod:`casehub.agencies.permissions`; these are the
    permission codenames it hands out.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("register_case", "立案登记 / register a case"),
            ("edit_case", "编辑案件 / edit case particulars"),
            ("read_dossier", "阅卷 / read dossier documents"),
            ("upload_document", "上传材料 / upload dossier documents"),
            ("assemble_volume", "组卷 / assemble and seal volumes"),
            ("prepare_outgoing", "拟办移送或决定 / prepare an outgoing transfer or decision"),
            ("approve_outgoing", "审批 / approve an outgoing transfer or decision"),
            ("review_incoming", "接收审查 / verify and accept or reject an incoming transfer"),
            ("decide_arrest", "审查逮捕 / decide on arrest approval"),
            ("decide_prosecution", "审查起诉 / return, extend, indict or decide non-prosecution"),
            ("docket_case", "立案 / docket a case at court"),
            ("deliver_judgment", "送达判决 / deliver the judgment"),
            ("register_paper_transfer", "登记纸质移送 / register a paper hand-over"),
            ("manage_custody", "羁押变更 / issue custody notices"),
            ("acknowledge_custody", "换押确认 / acknowledge custody transfers"),
            ("view_detainees", "在押人员 / view detainees held in the centre"),
            ("view_person_id", "查看完整身份证号 / see full identity numbers"),
            ("view_metrics", "考核统计 / view circulation metrics"),
            ("view_audit", "审计日志 / view and verify the audit trail"),
            ("manage_agency_users", "人员管理 / manage the users of one's own agency"),
            ("notify_legal_aid", "通知法律援助 / send legal-aid notices and duty-lawyer requests"),
            ("assign_counsel", "指派律师 / assign counsel or a duty lawyer"),
            ("community_correction", "社区矫正 / community correction"),
            ("read_as_counsel", "辩护阅卷 / read the case file as assigned counsel"),
        ]

    def __str__(self) -> str:
        return "capability"
