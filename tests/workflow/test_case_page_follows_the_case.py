"""The case page follows the case: a re-sent package marks what is new since the previous package on
its route (case page and package page), the 补充侦查提纲 is in view while the supplementary
investigation runs (and stays in the history), and the 承办人 is the handler of the agency holding
the case, with the earlier agencies' handlers listed."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse
from django.utils import timezone

from casehub.dossier import services as dossier
from casehub.dossier.models import Document
from tests.dossier import files

OUTLINE = "一、调取案发小区监控录像；\n二、询问证人王某。"


def _upload(case, user, tmp_path: Path, title: str, supersedes=None) -> Document:
    path = files.write(tmp_path, f"{title}.pdf", files.text_pdf(1, title))
    job = dossier.ingest_upload(case=case, acting_user=user, uploaded_file_or_path=path, title=title,
                                category="evidence", supersedes=supersedes, reason="更正" if supersedes else "")
    assert job.status == "done", job.message
    return Document.objects.get(case=case, title=title, is_current=True)


def _section(page: str, marker: str, end: str = "</section>") -> str:
    start = page.index(marker)
    return page[start:page.index(end, start)]


def _handlers(page: str) -> tuple[str, str]:
    block = _section(page, 'id="case-handlers"', "</dd>")
    current = _section(block, 'id="case-current-handlers"', "</span>\n")
    earlier = block[block.index("case-earlier-handlers"):] if "case-earlier-handlers" in block else ""
    return current, earlier


def _returned(make_case, drive):
    """Sent for review, accepted, returned for supplementary investigation with OUTLINE."""
    case = make_case(detained=False)
    drive.fire(case, "transfer_for_review", "investigator", facts="入室盗窃。", evidence="证人证言")
    drive.fire(case, "accept_review_transfer", "prosecutor")
    drive.fire(case, "return_for_supplementary", "prosecutor", reason=OUTLINE)
    return case


def test_the_outline_is_in_view_while_the_supplementary_investigation_runs(make_case, district, drive, client):
    case = _returned(make_case, drive)
    client.force_login(district.investigator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    card = _section(page, 'id="supplementary-outline"')
    assert OUTLINE in card and district.procuratorate.name in card
    due = case.clocks.get(kind="supplementary_investigation").due_date
    assert f"补充侦查应于 {due:%Y-%m-%d} 前完毕" in card
    outline_doc = case.documents.get(generated=True, title="补充侦查提纲")
    assert reverse("dossier:document", args=[outline_doc.pk]) in card  # the signed outline itself
    assert "起诉意见书" not in card  # the return's own documents, not the police's that travelled with it
    # The police hold the case again: their investigator is the handler, the prosecutor an earlier one.
    current, earlier = _handlers(page)
    assert "investigator" in current and district.police.name in current and "prosecutor" not in current
    assert district.procuratorate.name in earlier and "prosecutor" in earlier


def test_a_resent_package_marks_what_is_new_since_the_previous_one_and_the_outline_stays_in_history(
        make_case, district, drive, client, tmp_path):
    case = _returned(make_case, drive)
    first = case.transfers.get(kind="review_transfer")
    # The investigator adds a document and corrects one, then sends the case again.
    _upload(case, district.investigator, tmp_path, "补充询问笔录（王某）")
    _upload(case, district.investigator, tmp_path, "证据材料1（更正）", supersedes=case.documents.get(title="证据材料1"))
    drive.fire(case, "resubmit_for_review", "investigator", reason="已按提纲补充。")
    second = case.transfers.filter(kind="review_transfer").exclude(pk=first.pk).get()

    # The package page marks each document against the package of the first sending.
    client.force_login(district.prosecutor)
    package = client.get(reverse("transfers:detail", args=[second.pk])).content.decode()
    summary = _section(package, f'data-package-changes="{first.pk}"', "</ul>")
    assert f"较 {timezone.localdate(first.sent_at):%Y-%m-%d} 的移送" in summary and reverse("transfers:detail", args=[first.pk]) in summary
    # New since then: the documents of the return (its decision and outline) and the added record.
    assert "新增 3 份" in summary and "更正 1 份" in summary and "撤回或未再随案 0 份" in summary
    rows = _section(package, 'id="manifest-documents"', "</table>")
    added = _section(rows, "补充询问笔录（王某）", "</tr>")
    assert 'data-change="new"' in added
    corrected = _section(rows, "证据材料1（更正）", "</tr>")
    assert 'data-change="replaced"' in corrected and "替换“证据材料1”" in corrected
    assert 'data-change' not in _section(rows, "证据材料2", "</tr>")
    # The first package has nothing before it on its route.
    assert "data-package-changes" not in client.get(reverse("transfers:detail", args=[first.pk])).content.decode()

    # On the case page, the row that re-sent the case says the same; the outline card is gone,
    # the outline stays in the history.
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    history = _section(page, 'id="history"', "</table>")
    resent = history[history.index("补充侦查完毕重新移送"):]
    resent = resent[:resent.index("</tr>")]
    assert f'data-package-changes="{first.pk}"' in resent and "补充询问笔录（王某）" in resent and "新增 3 份" in resent
    assert 'id="supplementary-outline"' not in page
    log = case.transition_log.get(transition="return_for_supplementary")
    assert OUTLINE in _section(history, f'id="outline-{log.pk}"', "</td>")
    current, _earlier = _handlers(page)
    assert "investigator" in current  # sent, not yet accepted: the police still hold the case


def test_the_handler_follows_the_case_to_court_and_the_earlier_ones_stay_listed(
        make_case, district, drive, client, tmp_path):
    case = make_case(detained=False, documents=1)
    drive.to_court(case)  # transfer, accept, indict, docket (by the court's filing clerk)
    client.force_login(district.judge)
    url = reverse("cases:detail", args=[case.pk])
    current, earlier = _handlers(client.get(url).content.decode())
    # The filing clerk docketed the case; that does not make the clerk its handler.
    assert f"{district.court.name}尚无承办人办理记录" in current and "court_clerk" not in current
    assert "investigator" in earlier and "prosecutor" in earlier
    _upload(case, district.judge, tmp_path, "庭审笔录")
    current, earlier = _handlers(client.get(url).content.decode())
    assert "judge" in current and district.court.name in current
    assert "investigator" not in current and "prosecutor" not in current
    assert earlier.index(district.police.name) < earlier.index(district.procuratorate.name)
    assert "court_clerk" not in earlier and "supervisor" not in earlier
