"""Legal aid (法律援助): the notices police, procuratorate and court send to the justice bureau, and
the counsel the bureau assigns.

A *defence notice* (通知辩护) is due when a suspect or defendant without counsel is a minor (CPL
art. 278), blind, deaf or mute, not fully able to understand or control their conduct (art. 35(2)),
or may be sentenced to life imprisonment or death (art. 35(3)); Legal Aid Law art. 25 lists the same
grounds. The handling agency notifies the legal-aid agency within 3 days of finding the ground, and
the agency assigns a lawyer within 3 days of the notice (Legal Aid Law art. 36): two clocks
(``legal_aid_notice``, ``legal_aid_assignment``). A *duty-lawyer request* (通知值班律师, CPL art. 36;
SPP Rules arts. 267-268) asks the bureau to arrange a duty lawyer for a suspect without counsel; the
law names no period for it, so it runs no clock.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RequestKind(models.TextChoices):
    DEFENCE = "defence", _("通知辩护")
    DUTY_LAWYER = "duty_lawyer", _("通知值班律师")


class Ground(models.TextChoices):
    MINOR = "minor", _("未成年人（刑事诉讼法第二百七十八条）")
    DISABILITY = "disability", _("盲、聋、哑人（刑事诉讼法第三十五条第二款）")
    MENTAL = "mental", _("尚未完全丧失辨认或者控制自己行为能力的精神病人（刑事诉讼法第三十五条第二款）")
    LIFE_OR_DEATH = "life_or_death", _("可能被判处无期徒刑、死刑（刑事诉讼法第三十五条第三款）")
    NO_COUNSEL = "no_counsel", _("没有辩护人，需值班律师提供法律帮助（刑事诉讼法第三十六条）")


DEFENCE_GROUNDS = (Ground.MINOR, Ground.DISABILITY, Ground.MENTAL, Ground.LIFE_OR_DEATH)


class RequestStatus(models.TextChoices):
    SENT = "sent", _("已通知，待指派")
    ASSIGNED = "assigned", _("已指派")


class LegalAidRequest(models.Model):
    """One notice or duty-lawyer request for one person, and the counsel assigned in answer."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="legal_aid_requests")
    person = models.ForeignKey("cases.Person", verbose_name=_("犯罪嫌疑人/被告人"), on_delete=models.PROTECT,
                               related_name="legal_aid_requests")
    kind = models.CharField(_("类别"), max_length=12, choices=RequestKind.choices)
    ground = models.CharField(_("通知理由"), max_length=16, choices=Ground.choices)
    from_agency = models.ForeignKey("agencies.Agency", verbose_name=_("通知机关"), on_delete=models.PROTECT,
                                    related_name="+")
    bureau = models.ForeignKey("agencies.Agency", verbose_name=_("法律援助机构"), on_delete=models.PROTECT,
                               related_name="legal_aid_requests")
    found_on = models.DateField(_("发现应当通知之日"), null=True, blank=True)
    note = models.TextField(_("说明"), blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("通知人"), on_delete=models.PROTECT,
                                related_name="+")
    sent_at = models.DateTimeField(_("通知时间"))
    status = models.CharField(_("状态"), max_length=10, choices=RequestStatus.choices, default=RequestStatus.SENT,
                              db_index=True)
    # The assigned lawyer: a platform user (a lawyer of a law firm, who then reads the case file as
    # counsel) or, when the lawyer has no account, the name, firm and licence number on record.
    counsel = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("指派律师（平台用户）"), null=True,
                                blank=True, on_delete=models.PROTECT, related_name="counsel_assignments")
    counsel_name = models.CharField(_("律师姓名"), max_length=50, blank=True)
    counsel_firm = models.CharField(_("律师事务所"), max_length=100, blank=True)
    counsel_licence = models.CharField(_("执业证号"), max_length=30, blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("指派人"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(_("指派时间"), null=True, blank=True)
    notice_clock = models.ForeignKey("clocks.Clock", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    assignment_clock = models.ForeignKey("clocks.Clock", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("法律援助通知")
        verbose_name_plural = _("法律援助通知")
        indexes = [models.Index(fields=["bureau", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.person_id}"
