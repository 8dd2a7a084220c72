"""The dossier pages apply the permission table too: an earlier agency reads what it sent, not
what a later agency added; a receiver reads nothing before it accepts."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse

from casehub.dossier import services as dossier
from casehub.dossier.models import Document
from tests.dossier import files

FACTS = {"facts": "入室盗窃", "evidence": "被害人陈述"}


def page_titles(client, user, case) -> str:
    client.force_login(user)
    response = client.get(reverse("dossier:case", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_police_do_not_read_what_the_procuratorate_added_after_acceptance(case, drive, district, client,
                                                                          tmp_path: Path):
    drive.to_review(case)
    path = files.write(tmp_path, "p.pdf", files.text_pdf(1, "proc"))
    dossier.ingest_upload(case=case, acting_user=district.prosecutor, uploaded_file_or_path=path,
                          title="讯问笔录（检察院）", category="evidence")
    added = Document.objects.get(title="讯问笔录（检察院）")

    police_docs = set(dossier.visible_documents(district.investigator, case).values_list("title", flat=True))
    assert "讯问笔录（检察院）" not in police_docs
    assert {"证据材料1", "证据材料2"} <= police_docs
    assert "讯问笔录（检察院）" not in page_titles(client, district.investigator, case)
    assert client.get(reverse("dossier:document", args=[added.pk])).status_code == 404
    assert "讯问笔录（检察院）" in page_titles(client, district.prosecutor, case)


def test_a_pending_receiver_reads_no_document_before_accepting(case, drive, district, client):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    assert not dossier.visible_documents(district.prosecutor, case).exists()
    assert not dossier.visible_volumes(district.prosecutor, case).exists()
    doc = case.documents.first()
    client.force_login(district.prosecutor)
    assert client.get(reverse("dossier:document", args=[doc.pk])).status_code == 404


def test_after_acceptance_the_receiver_reads_the_volumes_that_travelled(case, drive, district):
    drive.to_review(case)
    travelled = set(case.transfers.get(kind="review_transfer").volumes.values_list("pk", flat=True))
    assert travelled
    assert travelled <= set(dossier.visible_volumes(district.prosecutor, case).values_list("pk", flat=True))
