"""Custody fixtures: a case with two detained suspects and one on bail, real documents, and the
workflow driver (tests.workflow) to move it through the engine."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.services import register_case
from casehub.custody.models import Measure
from casehub.custody.services import register_custody
from casehub.dossier import services as dossier
from tests.dossier import files
from tests.workflow.conftest import Driver


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    # Each test rolls its database back, root CA included; the PKI's in-process signer cache
    # re-checks the database only every few seconds, so a signer of the previous test's root
    # could sign this test's manifests ("does not chain to a trusted root").
    from casehub.pki.services import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()


@pytest.fixture
def drive(district, django_capture_on_commit_callbacks):
    return Driver(district, django_capture_on_commit_callbacks)


def add_documents(case, user, tmp_path: Path, n: int = 1) -> None:
    for i in range(n):
        path = files.write(tmp_path, f"c{case.pk}-{i}.pdf", files.text_pdf(1, f"case {case.pk} doc {i}"))
        job = dossier.ingest_upload(case=case, acting_user=user, uploaded_file_or_path=path,
                                    title=f"证据材料{i + 1}", category="evidence")
        assert job.status == "done", job.message


@pytest.fixture
def gang_case(district, tmp_path):
    """张三 and 李四 detained in the district's centre (registered by the investigator), 王五 on bail."""
    case = register_case(
        acting_user=district.investigator, title="张三等盗窃案", summary="结伙入室盗窃",
        persons=[
            {"role": PersonRole.SUSPECT, "name": "张三", "sex": "M", "id_number": "440307199001011234"},
            {"role": PersonRole.SUSPECT, "name": "李四", "sex": "M", "id_number": "440307199202023456"},
            {"role": PersonRole.SUSPECT, "name": "王五", "sex": "F", "custody_status": CustodyStatus.BAIL},
        ],
    )
    since = timezone.now() - timedelta(days=2)
    for name in ("张三", "李四"):
        register_custody(case.persons.get(name=name), detention_centre=district.detention,
                         measure=Measure.DETENTION, since=since, acting_user=district.investigator)
    add_documents(case, district.investigator, tmp_path)
    return case
