"""The statutory clocks of the Criminal Procedure Law (2018) that casehub keeps.

Each kind declares its period, whether it is *always* a custody period and the article it implements.
CPL art. 105 para. 4 (a period is not extended because its last day is a holiday while the suspect
or defendant is in custody) is decided per clock from the custody of the person it concerns — for a
stage clock, of any suspect or defendant of the case (:func:`casehub.clocks.services.held_in_custody`);
``custody=True`` here marks the kinds that only exist while a person is held (custody after arrest).
The periods here are the defaults a clock opens with; an extension is a separate, recorded
decision (:func:`casehub.clocks.services.extend_clock`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Period:
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months}M")
        if self.days:
            parts.append(f"{self.days}D")
        return "+".join(parts) or "0D"


@dataclass(frozen=True)
class ClockSpec:
    period: Period
    custody: bool
    article: str
    # The longest the law lets this period grow by extensions within one stage (None = no cap here).
    max_extension: Period | None = None
    # The law whose ``article`` sets the period (most are the Criminal Procedure Law's).
    law: str = "刑事诉讼法"


class ClockKind(models.TextChoices):
    ARREST_REQUEST = "arrest_request", _("提请批准逮捕期限")
    ARREST_DECISION = "arrest_decision", _("审查批准逮捕期限")
    ARREST_DECISION_NOT_DETAINED = "arrest_decision_not_detained", _("审查批准逮捕期限（未被拘留）")
    ARREST_RECONSIDERATION = "arrest_reconsideration", _("不批准逮捕复议期限")
    ARREST_REVIEW_HIGHER = "arrest_review_higher", _("不批准逮捕复核期限")
    INVESTIGATION_CUSTODY = "investigation_custody", _("侦查羁押期限")
    DETENTION = "detention", _("拘留羁押期限")
    REVIEW_PROSECUTION = "review_prosecution", _("审查起诉期限")
    SUPPLEMENTARY_INVESTIGATION = "supplementary_investigation", _("补充侦查期限")
    COURT_ACCEPTANCE = "court_acceptance", _("受理审查期限")
    COURT_MATERIAL = "court_material", _("补送材料期限")
    WITHDRAWN_PROSECUTION = "withdrawn_prosecution", _("撤回起诉后作出不起诉决定期限")
    TRIAL = "trial", _("审理期限")
    TRIAL_SPEEDY = "trial_speedy", _("审理期限（速裁程序）")
    TRIAL_SUMMARY = "trial_summary", _("审理期限（简易程序）")
    TRIAL_SUPPLEMENTARY = "trial_supplementary", _("延期审理补充侦查期限")
    APPEAL_PERIOD = "appeal_period", _("上诉、抗诉期限")
    APPEAL_FORWARD = "appeal_forward", _("上诉、抗诉案件移送期限")
    SECOND_INSTANCE = "second_instance", _("第二审审理期限")
    EXECUTION_HANDOVER = "execution_handover", _("交付执行期限")
    CORRECTION_NOTICE = "correction_notice", _("通知社区矫正机构期限")
    OUTSIDE_PRISON_HANDOVER = "outside_prison_handover", _("暂予监外执行罪犯移送期限")
    JUDGMENT_DELIVERY = "judgment_delivery", _("判决书送达期限")
    JUDGMENT_DELIVERY_IMMEDIATE = "judgment_delivery_immediate", _("判决书送达期限（定期宣判，立即送达）")
    APPEAL_WINDOW = "appeal_window", _("申诉期限")
    LEGAL_AID_NOTICE = "legal_aid_notice", _("通知法律援助期限")
    LEGAL_AID_ASSIGNMENT = "legal_aid_assignment", _("指派律师期限")
    NP_RECONSIDERATION = "np_reconsideration", _("不起诉复议期限")
    NP_REVIEW = "np_review", _("不起诉复核期限")
    CONDITIONAL_PROBATION = "conditional_probation", _("附条件不起诉考验期")
    CLOSING_NOTICE = "closing_notice", _("撤销案件、终止侦查告知期限")
    JURISDICTION_HANDOVER = "jurisdiction_handover", _("移送管辖期限")
    BAIL = "bail", _("取保候审期限")
    RESIDENTIAL_SURVEILLANCE = "residential_surveillance", _("监视居住期限")
    COURT_MEASURE_DECISION = "court_measure_decision", _("决定是否继续取保候审、监视居住期限")
    NP_PETITION_REVIEW = "np_petition_review", _("被害人申诉复查期限")
    NP_APPEAL_REVIEW = "np_appeal_review", _("不服不起诉申诉复查期限")

    @property
    def spec(self) -> ClockSpec:
        return SPECS[self]

    @property
    def period(self) -> Period:
        return SPECS[self].period

    @property
    def custody(self) -> bool:
        return SPECS[self].custody

    @property
    def article(self) -> str:
        return SPECS[self].article

    @property
    def law(self) -> str:
        return SPECS[self].law


SPECS: dict[str, ClockSpec] = {
    # Art. 91 para. 1: police ask for arrest approval within 3 days of detention (extendable 1-4 days,
    # para. 2: up to 30 days for roaming/serial/gang suspects) - by extension decisions approved by a
    # county-level police chief (MPS Provisions 2020 art. 129).
    ClockKind.ARREST_REQUEST: ClockSpec(Period(days=3), custody=False, article="91",
                                        max_extension=Period(days=27)),
    # Art. 91 para. 3 / SPP Rules 2019 art. 282: the procuratorate decides within 7 days of receiving
    # the request for a detained suspect, per person.
    ClockKind.ARREST_DECISION: ClockSpec(Period(days=7), custody=False, article="91"),
    # SPP Rules 2019 art. 282: a suspect who is not detained — 15 days, 20 if major or complex.
    ClockKind.ARREST_DECISION_NOT_DETAINED: ClockSpec(Period(days=15), custody=False, article="91",
                                                      max_extension=Period(days=5)),
    # Art. 92; SPP Rules 2019 art. 290: the procuratorate decides the police's request to reconsider
    # a refusal within 7 days of receiving it (the person stays released meanwhile).
    ClockKind.ARREST_RECONSIDERATION: ClockSpec(Period(days=7), custody=False, article="92"),
    # Art. 92; SPP Rules 2019 art. 291: the higher procuratorate decides a review within 15 days.
    ClockKind.ARREST_REVIEW_HIGHER: ClockSpec(Period(days=15), custody=False, article="92"),
    # Art. 156: custody after arrest during investigation, 2 months (+1 month art. 156, +2 arts. 158-159).
    ClockKind.INVESTIGATION_CUSTODY: ClockSpec(Period(months=2), custody=True, article="156-159",
                                               max_extension=Period(months=5)),
    # Art. 91: detention before the arrest decision, at most 30 days (3+4 extended to 30, +7 to decide
    # is counted by ARREST_DECISION); a custody period.
    ClockKind.DETENTION: ClockSpec(Period(days=30), custody=True, article="91"),
    # Art. 172: review for prosecution 1 month, +15 days for major or complex cases.
    ClockKind.REVIEW_PROSECUTION: ClockSpec(Period(months=1), custody=False, article="172",
                                            max_extension=Period(days=15)),
    # Art. 175 para. 3: each supplementary investigation within 1 month, at most twice.
    ClockKind.SUPPLEMENTARY_INVESTIGATION: ClockSpec(Period(months=1), custody=False, article="175"),
    # SPC Interpretation 2021 art. 219: the court reviews an indictment for acceptance within 7 days.
    ClockKind.COURT_ACCEPTANCE: ClockSpec(Period(days=7), custody=False, article="186; SPC Interpretation 219"),
    # SPC Interpretation 2021 art. 219(1)(4): material the court lacks, supplied within 3 days.
    ClockKind.COURT_MATERIAL: ClockSpec(Period(days=3), custody=False, article="219",
                                       law="最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释"),
    # SPP Rules 2019 art. 424(2): a non-prosecution decision within 30 days of the withdrawal.
    ClockKind.WITHDRAWN_PROSECUTION: ClockSpec(Period(days=30), custody=False, article="424",
                                              law="人民检察院刑事诉讼规则"),
    # Art. 208: judgment within 2 months of acceptance, at most 3 (+3 with the higher court's approval).
    ClockKind.TRIAL: ClockSpec(Period(months=2), custody=False, article="208",
                               max_extension=Period(months=4)),
    # Art. 225: the fast-track procedure (速裁) ends within 10 days of acceptance, 15 where the possible
    # sentence exceeds one year of imprisonment (decided within the trial court).
    ClockKind.TRIAL_SPEEDY: ClockSpec(Period(days=10), custody=False, article="225",
                                      max_extension=Period(days=5)),
    # Art. 220: the summary procedure (简易) ends within 20 days of acceptance, 1.5 months where the
    # possible sentence exceeds three years (workflows.trial sets the extended period).
    ClockKind.TRIAL_SUMMARY: ClockSpec(Period(days=20), custody=False, article="220"),
    # Arts. 204(2), 205: a trial postponed for supplementary investigation at the procuratorate's
    # proposal; the procuratorate completes it within one month (at most twice, SPC Interpretation 274).
    ClockKind.TRIAL_SUPPLEMENTARY: ClockSpec(Period(months=1), custody=False, article="204-205"),
    # Art. 230: an appeal or protest against a judgment within 10 days from the day after receiving it
    # (5 days for a ruling), per defendant.
    ClockKind.APPEAL_PERIOD: ClockSpec(Period(days=10), custody=False, article="230"),
    # Art. 231; SPC Interpretation arts. 381, 384: the first-instance court sends an appealed or
    # protested case to the court above within 3 days after the appeal period expired.
    ClockKind.APPEAL_FORWARD: ClockSpec(Period(days=3), custody=False, article="231"),
    # Art. 243: the second instance ends within 2 months of acceptance; +2 months with the provincial
    # high court's approval in the categories of art. 158 (and for a death sentence or civil action).
    ClockKind.SECOND_INSTANCE: ClockSpec(Period(months=2), custody=False, article="243",
                                         max_extension=Period(months=2)),
    # Art. 264; SPC Interpretation art. 511: the documents go to the executing authority within 10 days
    # of the judgment taking effect.
    ClockKind.EXECUTION_HANDOVER: ClockSpec(Period(days=10), custody=False, article="264"),
    # Community Correction Law art. 20; SPC Interpretation 2021 art. 519: the court notifies the
    # community correction institution within 5 days of a judgment to 管制 or probation (or of a
    # decision to execute outside prison) taking effect; the documents follow within 10 days.
    ClockKind.CORRECTION_NOTICE: ClockSpec(Period(days=5), custody=False, article="20", law="社区矫正法"),
    # SPC Interpretation 2021 art. 515: where the court decides execution outside prison for a convict
    # in custody, the detention centre hands the person to community correction within 10 days.
    ClockKind.OUTSIDE_PRISON_HANDOVER: ClockSpec(Period(days=10), custody=False, article="515",
                                                 law="最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释"),
    # Art. 202 para. 2: judgment announced in court is served within 5 days.
    ClockKind.JUDGMENT_DELIVERY: ClockSpec(Period(days=5), custody=False, article="202"),
    # Art. 202 para. 2: a judgment announced on a later date is served immediately — casehub counts
    # it due the day after the announcement (a period in days starts the next day, art. 105).
    ClockKind.JUDGMENT_DELIVERY_IMMEDIATE: ClockSpec(Period(days=1), custody=False, article="202"),
    # Arts. 177, 180-181: a non-prosecution decision may be appealed within 7 days of service.
    ClockKind.APPEAL_WINDOW: ClockSpec(Period(days=7), custody=False, article="177, 180-181"),
    # Legal Aid Law art. 36 (CPL arts. 35, 278): police, procuratorate and court notify the legal-aid
    # agency within 3 days of finding that a suspect without counsel is a minor, blind, deaf or mute,
    # not fully able to understand their acts, or may face life imprisonment or death (LAL art. 25).
    ClockKind.LEGAL_AID_NOTICE: ClockSpec(Period(days=3), custody=False, article="36", law="法律援助法"),
    # Legal Aid Law art. 36: the legal-aid agency assigns a lawyer within 3 days of the notice.
    ClockKind.LEGAL_AID_ASSIGNMENT: ClockSpec(Period(days=3), custody=False, article="36", law="法律援助法"),
}

SPECS.update({
    # Art. 179; SPP Rules 2019 art. 379(2): the procuratorate decides the police's request to
    # reconsider a non-prosecution within 30 days of receiving it.
    ClockKind.NP_RECONSIDERATION: ClockSpec(Period(days=30), custody=False, article="179"),
    # Art. 179; SPP Rules 2019 art. 380: the higher procuratorate decides the review within 30 days.
    ClockKind.NP_REVIEW: ClockSpec(Period(days=30), custody=False, article="179"),
    # Art. 283(2): the probation of a conditional non-prosecution is 6 to 12 months from the decision
    # (the decision sets it; the clock opens with the shortest and takes the decided period).
    ClockKind.CONDITIONAL_PROBATION: ClockSpec(Period(months=6), custody=False, article="283"),
    # MPS Provisions 2020 art. 189: within 3 days of withdrawing a case the police tell the former
    # suspect, the victim (or relatives, legal representative) and the referring body; within 3 days
    # of terminating a suspect's investigation, that person.
    ClockKind.CLOSING_NOTICE: ClockSpec(Period(days=3), custody=False, article="189",
                                        law="公安机关办理刑事案件程序规定"),
})

SPECS.update({
    # SPP Rules 2019 arts. 328, 391: a procuratorate that finds the case is not its own — or whose
    # indictment the court returned for lack of jurisdiction — sends it within 5 days of finding it to
    # the procuratorate with jurisdiction.
    ClockKind.JURISDICTION_HANDOVER: ClockSpec(Period(days=5), custody=False, article="328",
                                               law="人民检察院刑事诉讼规则"),
    # Art. 79: bail at most 12 months, residential surveillance at most 6 — per deciding authority:
    # the procuratorate and the court each decide the measure anew and the period is counted again
    # (SPP Rules 2019 arts. 103, 113; SPC Interpretation 2021 art. 162). Per person.
    ClockKind.BAIL: ClockSpec(Period(months=12), custody=False, article="79"),
    ClockKind.RESIDENTIAL_SURVEILLANCE: ClockSpec(Period(months=6), custody=False, article="79"),
    # SPC Interpretation 2021 art. 162: the court decides within 7 days whether a defendant on bail or
    # under residential surveillance stays so. Per person.
    ClockKind.COURT_MEASURE_DECISION: ClockSpec(Period(days=7), custody=False, article="162",
                                                law="最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释"),
})

SPECS.update({
    # CPL art. 180; SPP Rules 2019 arts. 381, 386: the next-higher procuratorate reviews (复查) a victim's
    # petition against a non-prosecution made within 7 days of receiving it, and decides within three
    # months of filing it, six at most for a complex case (with the chief procurator's approval).
    ClockKind.NP_PETITION_REVIEW: ClockSpec(Period(months=3), custody=False, article="386",
                                            max_extension=Period(months=3), law="人民检察院刑事诉讼规则"),
    # CPL art. 181; SPP Rules 2019 arts. 382, 385, 386: the deciding procuratorate reviews the appeal of
    # the person not prosecuted under art. 177(2), and a petition or appeal made after the 7 days — the
    # same three months (six at most).
    ClockKind.NP_APPEAL_REVIEW: ClockSpec(Period(months=3), custody=False, article="386",
                                          max_extension=Period(months=3), law="人民检察院刑事诉讼规则"),
})

assert set(SPECS) == set(ClockKind.values), "every clock kind declares its period"
