"""A document's version history shows only versions the reader may read (issue #18 item 10, F18.10).

The police correct a record before sending the case: only the correction travels to the
procuratorate. The version history (page and API) used to list the draft the prosecutor never
received — its title, file name, uploader, hash and size.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from casehub.api.credentials import issue_personal_token
from tests.dossier import files
from tests.workflow.conftest import Driver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    from casehub.pki.services import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()


@pytest.fixture
def case(district):  # the dossier package's case, with the suspect a transfer needs
    from casehub.cases.services import register_case

    return register_case(acting_user=district.investigator, title="张三涉嫌盗窃案", summary="入室盗窃",
                         persons=[{"name": "张三", "sex": "M"}])


@pytest.fixture
def corrected(upload, case, district, django_capture_on_commit_callbacks):
    draft = upload(files.text_pdf(1, "v1"), title="现场勘验笔录（草稿）", name="draft-v1.pdf").document
    fixed = upload(files.text_pdf(2, "v2"), title="现场勘验笔录", supersedes=draft, reason="漏记物证编号").document
    drive = Driver(district, django_capture_on_commit_callbacks)
    drive.fire(case, "transfer_for_review", "investigator", facts="入室盗窃。", evidence="勘验笔录")
    drive.fire(case, "accept_review_transfer", "prosecutor")
    return draft, fixed


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=user, name='t').token}")
    return client


def _traces(draft) -> list[str]:
    return [draft.title, draft.sha256, "draft-v1.pdf", f"/dossier/document/{draft.pk}/"]


def test_the_receiving_prosecutor_sees_only_the_version_that_reached_it(corrected, district, client):
    draft, fixed = corrected
    api = _api(district.prosecutor).get(f"/api/v1/documents/{fixed.pk}/versions/")
    assert api.status_code == 200
    assert [v["id"] for v in api.json()] == [fixed.pk]
    body = api.content.decode()
    assert not [t for t in _traces(draft) if t in body]

    client.force_login(district.prosecutor)
    page = client.get(f"/dossier/document/{fixed.pk}/")
    assert page.status_code == 200
    assert not [t for t in _traces(draft) if t in page.content.decode()]
    # And the draft itself stays out of reach.
    assert client.get(f"/dossier/document/{draft.pk}/").status_code == 404


def test_the_police_who_made_both_versions_see_both(corrected, district, client):
    draft, fixed = corrected
    api = _api(district.investigator).get(f"/api/v1/documents/{fixed.pk}/versions/")
    assert [v["id"] for v in api.json()] == [fixed.pk, draft.pk]
    client.force_login(district.investigator)
    page = client.get(f"/dossier/document/{draft.pk}/").content.decode()
    # The superseded draft links forward to its correction, and lists both versions.
    assert f"/dossier/document/{fixed.pk}/" in page and "现场勘验笔录（草稿）" in page
