"""A stored file whose bytes were altered behind the platform's back is never partly delivered
(THREAT_MODEL.md F18.22): up to CASEHUB_VERIFY_BEFORE_SEND_BYTES it is verified before the first
byte and refused with a clear 503; a larger one is streamed and cut short before its last chunk."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

from casehub.objectstore.services import download_url, get_store
from storage import IntegrityError
from tests.dossier import files
from tests.dossier.test_ingest import _own_data_dir  # noqa: F401 - autouse fixture

CORRUPT = "文件完整性校验失败"


@pytest.fixture
def corrupted(upload):
    """A filed document whose stored bytes then had one byte flipped on disk."""
    data = files.text_pdf(30, "statement")
    doc = upload(data).document
    path = get_store().path_for(doc.sha256)
    os.chmod(path, 0o644)
    altered = bytearray(data)
    altered[len(altered) // 2] ^= 0x01
    path.write_bytes(bytes(altered))
    return doc


def test_the_reading_room_refuses_a_corrupted_document_before_its_first_byte(client, district, corrupted):
    client.force_login(district.investigator)
    response = client.get(reverse("dossier:document_file", args=[corrupted.pk]) + "?download=1")
    assert response.status_code == 503
    assert not response.streaming and CORRUPT in response.content.decode()
    assert b"%PDF" not in response.content


def test_the_api_refuses_a_corrupted_document_with_a_stable_code(district, corrupted):
    from rest_framework.test import APIClient

    from casehub.api.credentials import issue_personal_token

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=district.investigator, name='t').token}")
    response = api.get(f"/api/v1/documents/{corrupted.pk}/file/")
    assert response.status_code == 503
    assert response.json()["code"] == "object_corrupt"
    assert CORRUPT in response.json()["message"]


def test_a_direct_download_link_refuses_a_corrupted_object(client, district, corrupted):
    client.force_login(district.investigator)
    url = download_url(corrupted.stored, filename="x.pdf", content_type="application/pdf", user=district.investigator)
    response = client.get(url)
    assert response.status_code == 503 and CORRUPT in response.content.decode()


def test_an_object_over_the_limit_is_streamed_and_cut_short_before_its_end(client, district, corrupted, settings):
    settings.CASEHUB_VERIFY_BEFORE_SEND_BYTES = 4096
    client.force_login(district.investigator)
    response = client.get(reverse("dossier:document_file", args=[corrupted.pk]) + "?download=1")
    assert response.status_code == 200 and response.streaming
    size = int(response["Content-Length"])
    received = bytearray()
    with pytest.raises(IntegrityError):
        for chunk in response.streaming_content:
            received.extend(chunk)
    assert len(received) < size, "the client must never hold the whole altered file"


def test_an_intact_document_is_delivered_whole(client, district, upload):
    data = files.text_pdf(3, "intact")
    doc = upload(data).document
    client.force_login(district.investigator)
    response = client.get(reverse("dossier:document_file", args=[doc.pk]) + "?download=1")
    assert response.status_code == 200 and b"".join(response.streaming_content) == data
