"""Demo cases driven through the real engine (``manage.py load_demo``; never in production).

Seven cases at different points of the process, each with generated documents in its dossier:
one waiting for the arrest decision, one under review for prosecution, one returned once for
supplementary investigation, one on trial at court, one in its appeal window (the defendant appealed
within it; the court sends it up once the window has passed), one on appeal at the intermediate court
(粤03 刑终; its window is moved back a day, the demo cannot wait for it to pass), and one executed and closed (the judgment took
effect, the police signed for its execution, custody ended).
Idempotent: a case whose title already exists at the demo police agency is left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from casehub.cases.models import Case, CustodyStatus, PersonRole, Sex
from casehub.cases.services import register_case
from workflows import engine
from workflows.models import VerificationStatus

SUPERVISOR = {"police": "police_supervisor", "procuratorate": "procuratorate_supervisor",
              "court": "court_supervisor"}


def _fire(users: dict[str, Any], case: Case, name: str, who: str, **inputs: Any) -> None:
    actor = users[who]
    result = engine.fire(case, name, acting_user=actor, inputs=inputs)
    if result.awaiting_approval:
        supervisor = users.get(SUPERVISOR.get(actor.agency.kind, ""))
        result = engine.decide_approval(result.approval, acting_user=supervisor, approve=True, comment="同意。")
    for transfer in result.transfers:
        # With a real broker the worker verifies; the demo must not wait for it.
        transfer.refresh_from_db()
        if transfer.verification_status != VerificationStatus.PASSED:
            from casehub.transfers.tasks import verify_transfer

            verify_transfer.apply(args=[transfer.pk])
    case.refresh_from_db()


def _document(users: dict[str, Any], case: Case, title: str, paragraphs: list[str]) -> None:
    from casehub.dossier.services import add_generated_document
    from casehub.pdfgen.forms import render_form

    pdf = render_form(title, fields=[("案件名称", case.title)], paragraphs=paragraphs,
                      footer_lines=[case.origin_agency.name, timezone.localdate().strftime("%Y年%m月%d日")])
    add_generated_document(case=case, acting_user=users["investigator"], title=title, category="evidence",
                           pdf_bytes=pdf)


def _new_case(users: dict[str, Any], title: str, suspect: str, id_number: str, facts: str) -> Case | None:
    investigator = users["investigator"]
    if Case.objects.filter(origin_agency=investigator.agency, title=title).exists():
        return None
    detention = _detention_centre(investigator)
    case = register_case(
        acting_user=investigator, title=title, summary=facts, occurred_on=timezone.localdate() - timedelta(days=20),
        occurred_place="深圳市龙岗区",
        persons=[{"role": PersonRole.SUSPECT, "name": suspect, "sex": Sex.MALE, "id_number": id_number,
                  "address": "广东省深圳市龙岗区", "custody_status": CustodyStatus.DETAINED,
                  "custody_since": timezone.now() - timedelta(days=2), "detention_centre": detention}],
    )
    _document(users, case, "受案登记表", [f"报案人报称：{facts}"])
    _document(users, case, "讯问笔录", [f"问：你是否知道为什么被传唤？答：知道，是因为{facts}"])
    _document(users, case, "现场勘验笔录", ["现场位于深圳市龙岗区，勘验人员提取痕迹物证三份。"])
    return case


def _detention_centre(user: Any) -> Any:
    from casehub.agencies.models import Agency, AgencyKind

    return Agency.objects.filter(kind=AgencyKind.DETENTION_CENTRE, region=user.agency.region).first()


def _to_review(users: dict[str, Any], case: Case, facts: str) -> None:
    _fire(users, case, "transfer_for_review", "investigator", facts=facts,
          evidence="受案登记表\n讯问笔录\n现场勘验笔录", legal_basis="《中华人民共和国刑事诉讼法》第一百六十二条")
    _fire(users, case, "accept_review_transfer", "prosecutor")


def create_demo_cases(users: dict[str, Any]) -> None:
    """Drive the demo cases through the engine (skips the ones that exist)."""
    case = _new_case(users, "李四涉嫌抢劫案", "李四", "440307199203150011", "李四持刀抢劫路人手机一部。")
    if case:
        _fire(users, case, "request_arrest", "investigator", reason="犯罪嫌疑人李四涉嫌抢劫，可能判处徒刑以上刑罚，有逃跑可能。")
        _fire(users, case, "accept_arrest_request", "prosecutor")

    case = _new_case(users, "王五涉嫌诈骗案", "王五", "440307198807070012", "王五以投资为名骗取被害人人民币二十万元。")
    if case:
        _to_review(users, case, "王五以投资为名骗取被害人人民币二十万元。")

    case = _new_case(users, "赵六涉嫌故意伤害案", "赵六", "440307199511110013", "赵六与被害人发生口角后将其打成轻伤。")
    if case:
        _to_review(users, case, "赵六与被害人发生口角后将其打成轻伤。")
        _fire(users, case, "return_for_supplementary", "prosecutor", reason="一、补充调取案发现场监控录像；二、对被害人伤情进行重新鉴定。")

    case = _new_case(users, "孙七涉嫌盗窃案", "孙七", "440307199006060014", "孙七多次入室盗窃，盗得财物价值三万元。")
    if case:
        _to_review(users, case, "孙七多次入室盗窃，盗得财物价值三万元。")
        _fire(users, case, "indict", "prosecutor", facts="孙七多次入室盗窃，盗得财物价值人民币三万元。",
              charges="被告人孙七的行为触犯《中华人民共和国刑法》第二百六十四条，应当以盗窃罪追究其刑事责任。")
        _fire(users, case, "docket_case", "court_clerk", type_code="刑初")

    case = _new_case(users, "周八涉嫌危险驾驶案", "周八", "440307198512120015", "周八醉酒驾驶机动车，血液酒精含量为180mg/100ml。")
    if case:
        _to_review(users, case, "周八醉酒驾驶机动车。")
        _fire(users, case, "indict", "prosecutor", facts="周八醉酒驾驶机动车，血液酒精含量为180mg/100ml。",
              charges="被告人周八的行为触犯《中华人民共和国刑法》第一百三十三条之一，应当以危险驾驶罪追究其刑事责任。")
        _fire(users, case, "docket_case", "court_clerk", type_code="刑初", procedure="speedy")
        _judge(users, case, "危险驾驶罪", "criminal_detention", "四个月，并处罚金人民币八千元")
        # Served 13 days ago: the 10-day window (art. 230) has passed without an appeal.
        today = timezone.localdate()
        _fire(users, case, "announce_judgment", "judge", announced_on=(today - timedelta(days=13)).isoformat(),
              verdict="被告人周八犯危险驾驶罪，判处拘役四个月，并处罚金人民币八千元。")
        _fire(users, case, "deliver_judgment", "court_clerk", reason="已向公诉机关和侦查机关送达判决书。",
              received_on=(today - timedelta(days=13)).isoformat())
        _fire(users, case, "judgment_effective", "court_clerk", reason="上诉、抗诉期满，未上诉、抗诉。")
        _fire(users, case, "hand_over_for_execution", "court_clerk", executor="police",
              reason="送达判决书、执行通知书，由公安机关执行拘役。")
        _fire(users, case, "accept_execution", "investigator")

    case = _new_case(users, "吴九涉嫌故意伤害案", "吴九", "440307199309090016", "吴九酒后持啤酒瓶将被害人打成轻伤二级。")
    if case:
        _to_review(users, case, "吴九酒后持啤酒瓶将被害人打成轻伤二级。")
        _fire(users, case, "indict", "prosecutor", facts="吴九酒后持啤酒瓶将被害人打成轻伤二级。",
              charges="被告人吴九的行为触犯《中华人民共和国刑法》第二百三十四条，应当以故意伤害罪追究其刑事责任。")
        _fire(users, case, "docket_case", "court_clerk", type_code="刑初", procedure="summary")
        _judge(users, case, "故意伤害罪", "fixed_term", "一年六个月")
        today = timezone.localdate()
        _fire(users, case, "announce_judgment", "judge", announced_on=(today - timedelta(days=8)).isoformat(),
              verdict="被告人吴九犯故意伤害罪，判处有期徒刑一年六个月。")
        _fire(users, case, "deliver_judgment", "court_clerk", received_on=(today - timedelta(days=8)).isoformat())
        person = case.persons.get()
        _fire(users, case, "record_appeal", "court_clerk", persons=[person.pk],
              reason="上诉人吴九认为原判量刑过重，请求二审改判。")

    appeal_at_intermediate_court(users)


SECOND_INSTANCE = "钱十二涉嫌抢夺案"


def _window_passed(case: Case) -> None:
    """The demo cannot wait: the appeal window that ends today (and the three days after it to send the
    case up) are moved back to end yesterday, as if the judgment had been received earlier (CPL art. 230)."""
    from casehub.cases.state import engine_writes
    from casehub.clocks.kinds import ClockKind
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    clocks = list(Clock.objects.filter(case=case, kind__in=[ClockKind.APPEAL_PERIOD, ClockKind.APPEAL_FORWARD],
                                       status__in=ACTIVE_STATUSES))
    windows = [c.due_date for c in clocks if c.kind == ClockKind.APPEAL_PERIOD]
    # A last day on a holiday was moved after it (art. 105): back to yesterday, whatever the calendar.
    back = (max(windows) - timezone.localdate() + timedelta(days=1)) if windows else timedelta(days=1)
    with engine_writes():
        for clock in clocks:
            clock.started_at -= back
            clock.due_date -= back
            clock.save(update_fields=["started_at", "due_date"])


def appeal_at_intermediate_court(users: dict[str, Any]) -> None:
    """A case on appeal (CPL arts. 227, 230-231, 243): the defendant appealed within the window, the district
    court sent the case up after it expired and the intermediate court 粤03 docketed it with its own number
    （…）粤03刑终N号; the two months of the second instance run."""
    if "intermediate_clerk" not in users:
        return
    case = _new_case(users, SECOND_INSTANCE, "钱十二", "440307199012120017", "钱十二趁被害人不备抢夺其挎包一个。")
    if case is None:
        return
    _to_review(users, case, "钱十二趁被害人不备抢夺其挎包一个，内有现金人民币五千元。")
    _fire(users, case, "indict", "prosecutor", facts="钱十二趁被害人不备抢夺其挎包一个，内有现金人民币五千元。",
          charges="被告人钱十二的行为触犯《中华人民共和国刑法》第二百六十七条，应当以抢夺罪追究其刑事责任。")
    _fire(users, case, "docket_case", "court_clerk", type_code="刑初")
    _judge(users, case, "抢夺罪", "fixed_term", "二年")
    served = (timezone.localdate() - timedelta(days=10)).isoformat()  # the window ends today (art. 230)
    _fire(users, case, "announce_judgment", "judge", announced_on=served, verdict="被告人钱十二犯抢夺罪，判处有期徒刑二年。")
    _fire(users, case, "deliver_judgment", "court_clerk", received_on=served)
    _fire(users, case, "record_appeal", "court_clerk", persons=[case.persons.get().pk],
          reason="上诉人钱十二认为其系初犯、已退赔，原判量刑过重，请求从轻改判。")
    _window_passed(case)
    _fire(users, case, "forward_appeal", "court_clerk", reason="上诉期满，全案移送深圳市中级人民法院。")
    _fire(users, case, "docket_appeal", "intermediate_clerk")


def _judge(users: dict[str, Any], case: Case, charge: str, penalty: str, term: str) -> None:
    from workflows import judgment

    for person in case.persons.filter(role=PersonRole.SUSPECT):
        judgment.record_decision(case, person, outcome="guilty", charge=charge, penalty=penalty, term=term,
                                 acting_user=users["judge"])
