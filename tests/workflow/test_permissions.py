"""The permission table of docs/workflow.md, one test per row: who sees and who acts, at each
point of the journey. Every case page goes through visible_cases, so "cannot see" means 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from casehub.cases.selectors import can_act, visible_cases
from casehub.dossier import services as dossier
from casehub.dossier.models import Document, Part
from casehub.transfers.selectors import readable_documents, visible_transfers
from tests.dossier import files
from workflows import engine

FACTS = {"facts": "入室盗窃", "evidence": "被害人陈述"}


def sees(user, case) -> bool:
    return visible_cases(user).filter(pk=case.pk).exists()


def titles(user, case) -> set[str]:
    return set(readable_documents(user, case).values_list("title", flat=True))


def test_row1_holder_sees_and_acts(case, district):
    assert sees(district.investigator, case) and can_act(district.investigator, case)
    assert engine.available_transitions(case, district.investigator)
    assert titles(district.investigator, case) == {"证据材料1", "证据材料2"}


def test_row2_receiver_of_pending_package_sees_manifest_not_case_or_documents(case, drive, district, client):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    transfer = case.transfers.get()
    assert not sees(district.prosecutor, case)
    assert visible_transfers(district.prosecutor).filter(pk=transfer.pk).exists()
    assert titles(district.prosecutor, case) == set()
    client.force_login(district.prosecutor)
    page = client.get(reverse("transfers:detail", args=[transfer.pk]))
    assert page.status_code == 200 and "证据材料1" in page.content.decode()  # the manifest lists it
    # ... and the receiver's transitions are reachable through the package addressed to it.
    assert client.get(reverse("transfers:fire", args=[case.pk, "accept_review_transfer"])).status_code == 200
    assert client.get(reverse("transfers:fire", args=[case.pk, "indict"])).status_code == 404


def test_row3_sender_keeps_reading_but_cannot_act_while_pending(case, drive, district):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    assert sees(district.investigator, case) and not can_act(district.investigator, case)
    assert [s.name for s in engine.available_transitions(case, district.investigator)] == ["withdraw_review_transfer"]


def test_row4_after_acceptance_receiver_holds_sender_reads_only_what_it_sent(case, drive, district, tmp_path: Path):
    drive.to_review(case)
    assert can_act(district.prosecutor, case) and not can_act(district.investigator, case)
    path = files.write(tmp_path, "p.pdf", files.text_pdf(1, "proc"))
    dossier.ingest_upload(case=case, acting_user=district.prosecutor, uploaded_file_or_path=path,
                          title="讯问笔录（检察院）", category="evidence")
    assert "讯问笔录（检察院）" in titles(district.prosecutor, case)
    assert "起诉意见书" in titles(district.prosecutor, case)
    assert sees(district.investigator, case)
    assert "讯问笔录（检察院）" not in titles(district.investigator, case)  # later additions stay with the holder
    assert {"证据材料1", "起诉意见书"} <= titles(district.investigator, case)
    # Sent back for supplementary investigation, the police receive what the procuratorate added.
    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充")
    assert "讯问笔录（检察院）" in titles(district.investigator, case)


def test_row5_police_work_file_never_leaves_the_police(case, drive, district, tmp_path: Path):
    path = files.write(tmp_path, "w.pdf", files.text_pdf(1, "work"))
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                                title="侦查工作记录", category="other", part=Part.WORK)
    assert job.status == "done", job.message
    drive.to_court(case)
    work = Document.objects.get(title="侦查工作记录")
    for transfer in case.transfers.all():
        assert work.sha256 not in {doc["sha256"] for doc in transfer.manifest.get("documents", [])}
    for who in ("prosecutor", "court_clerk", "judge"):
        assert "侦查工作记录" not in titles(district.users[who], case)
    assert "侦查工作记录" in titles(district.investigator, case)


def test_row6_court_sees_nothing_until_it_dockets(case, drive, district):
    drive.to_review(case)
    assert not sees(district.court_clerk, case)
    drive.fire(case, "indict", "prosecutor", facts="……", charges="盗窃罪")
    assert not sees(district.court_clerk, case) and titles(district.court_clerk, case) == set()
    drive.fire(case, "docket_case", "court_clerk")
    assert sees(district.court_clerk, case) and can_act(district.court_clerk, case)
    assert {"证据材料1", "起诉意见书", "起诉书"} <= titles(district.judge, case)


def test_row7_closed_case_is_read_only_for_everyone_who_held_it(case, drive, district):
    drive.to_court(case)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-01-05", verdict="有期徒刑一年")
    drive.fire(case, "deliver_judgment", "court_clerk")
    drive.to_execution(case)
    for who in ("investigator", "prosecutor", "court_clerk"):
        user = district.users[who]
        assert sees(user, case) and not can_act(user, case)
        assert engine.available_transitions(case, user) == []


@pytest.mark.parametrize("who", ["detention_officer", "auditor", "police_admin"])
def test_row8_agencies_and_roles_outside_the_chain_see_no_case(case, drive, district, who, client):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    user = district.users[who]
    assert not sees(user, case) or who == "police_admin"
    client.force_login(user)
    transfer = case.transfers.get()
    # Not even the sending agency's administrator: package pages need a case-working role.
    assert client.get(reverse("transfers:detail", args=[transfer.pk])).status_code == 404
    assert client.get(reverse("transfers:fire", args=[case.pk, "accept_review_transfer"])).status_code == 404


def test_row9_another_district_gets_404_everywhere(case, drive, district, other_district, client):
    # Two procuratorates now share the region: the sender names the receiver.
    drive.fire(case, "transfer_for_review", "investigator", **FACTS, to_agency=district.procuratorate.pk)
    transfer = case.transfers.get()
    for who in ("investigator", "prosecutor", "court_clerk"):
        client.force_login(other_district.users[who])
        assert client.get(reverse("transfers:detail", args=[transfer.pk])).status_code == 404
        assert client.get(reverse("transfers:download", args=[transfer.pk, "manifest.json"])).status_code == 404
        for name in ("accept_review_transfer", "withdraw_review_transfer", "transfer_for_review"):
            assert client.get(reverse("transfers:fire", args=[case.pk, name])).status_code == 404
