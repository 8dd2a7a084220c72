"""Demo cases of the pre-trial paths beside the main line (``manage.py load_demo``; never in production):
a plea case on the fast track (认罪认罚, CPL arts. 15, 172, 174, 176), a discretionary
non-prosecution (art. 177(2)) and a case the police withdrew (art. 163). Driven through the real
engine like :mod:`casehub.transfers.demo`; idempotent by title.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.utils import timezone

from casehub.transfers.demo import _fire, _new_case, _to_review

PLEA = "吴九涉嫌盗窃案"
NON_PROSECUTION = "郑十涉嫌故意伤害案"
WITHDRAWAL = "冯十一涉嫌盗窃案"
TITLES = (PLEA, NON_PROSECUTION, WITHDRAWAL)


def _upload_statement(users: dict[str, Any], case: Any) -> Any:
    """The plea statement as the procuratorate scans it after signing (an upload, not a generated form)."""
    from casehub.dossier.services import ingest_upload
    from casehub.pdfgen.forms import render_form

    person = case.persons.get()
    pdf = render_form("认罪认罚具结书", fields=[("犯罪嫌疑人", person.name)], paragraphs=[
        f"本人{person.name}自愿如实供述自己的罪行，承认指控的犯罪事实，同意量刑建议，同意适用速裁程序。",
        "值班律师：陈律师（签名）　　犯罪嫌疑人：" + person.name + "（签名）"],
        footer_lines=[timezone.localdate().strftime("%Y年%m月%d日")])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plea.pdf"
        path.write_bytes(pdf)
        job = ingest_upload(case=case, acting_user=users["prosecutor"], uploaded_file_or_path=path,
                            title="认罪认罚具结书", category="procedural")
    return job.document


def create_procedure_demo_cases(users: dict[str, Any]) -> None:
    plea_case(users)
    non_prosecution_case(users)
    withdrawn_case(users)


def plea_case(users: dict[str, Any]) -> None:
    """Plea recorded by the police and the procuratorate, fast-track review, indicted for the fast track."""
    case = _new_case(users, PLEA, "吴九", "440307199808080016", "吴九在超市盗窃商品，价值人民币二千元。")
    if case:
        _fire(users, case, "record_plea", "investigator",
              statement="已告知吴九诉讼权利和认罪认罚的法律规定，吴九表示自愿认罪，愿意接受处罚，并已退赃。")
        _to_review(users, case, "吴九在超市盗窃商品，价值人民币二千元。")
        statement = _upload_statement(users, case)
        _fire(users, case, "record_plea_statement", "prosecutor", counsel_role="duty_lawyer", counsel_name="陈律师",
              statement_document=statement.pk, sentencing="判处拘役三个月，缓刑四个月，并处罚金人民币二千元")
        _fire(users, case, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes",
              reason="犯罪嫌疑人认罪认罚，事实清楚，证据确实、充分，可能判处三年有期徒刑以下刑罚，同意适用速裁程序。")
        _fire(users, case, "indict", "prosecutor", facts="吴九在超市盗窃商品，价值人民币二千元。",
              charges="被告人吴九的行为触犯《中华人民共和国刑法》第二百六十四条，应当以盗窃罪追究其刑事责任。",
              sentencing_form="separate", procedure="speedy")


def non_prosecution_case(users: dict[str, Any]) -> None:
    """A discretionary non-prosecution after a settlement (art. 177(2)); the person appeals within the
    7 days, maintaining it was self-defence, and the procuratorate's review runs (art. 181)."""
    case = _new_case(users, NON_PROSECUTION, "郑十", "440307199909090017", "郑十与邻居发生纠纷，致邻居轻伤。")
    if case:
        _to_review(users, case, "郑十与邻居发生纠纷，致邻居轻伤。")
        _fire(users, case, "decide_non_prosecution", "prosecutor", kind="discretionary",
              facts="郑十与邻居发生纠纷致其轻伤，案发后主动赔偿并取得被害人谅解，双方达成和解。",
              legal_basis="郑十犯罪情节轻微，具有自首情节，并已赔偿被害人损失、取得谅解。")
        _fire(users, case, "receive_np_appeal", "prosecutor", received_on=timezone.localdate(),
              reason="郑十认为其行为属于正当防卫，不构成犯罪，请求撤销不起诉决定、作出法定不起诉的决定。")


def withdrawn_case(users: dict[str, Any]) -> None:
    """A case the police withdrew: no criminal facts (art. 163)."""
    case = _new_case(users, WITHDRAWAL, "冯十一", "440307199707070018", "冯十一被报称盗窃同事电动车一辆。")
    if case:
        _fire(users, case, "withdraw_case", "investigator", ground="no_crime",
              reason="经侦查查明，该电动车系冯十一借用，事后已归还，没有犯罪事实。")
