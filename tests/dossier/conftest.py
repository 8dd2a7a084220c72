"""Dossier fixtures: a registered case in the district, and a helper to upload real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from casehub.cases.services import register_case
from casehub.dossier import services
from casehub.dossier.models import IngestJob
from tests.dossier import files


@pytest.fixture
def case(district):
    return register_case(acting_user=district.investigator, title="张三涉嫌盗窃案", summary="入室盗窃")


@pytest.fixture
def upload(tmp_path: Path, case, district):
    """upload(data, title=..., category=..., user=..., name=...) -> finished IngestJob."""
    counter = {"n": 0}

    def _upload(data: bytes, *, title: str | None = None, category: str = "evidence", user=None,
                name: str = "file.pdf", on_case=None, **kw) -> IngestJob:
        counter["n"] += 1
        path = files.write(tmp_path, f"{counter['n']}-{name}", data)
        return services.ingest_upload(
            case=on_case or case, acting_user=user or district.investigator, uploaded_file_or_path=path,
            title=title or f"材料{counter['n']}", category=category, **kw,
        )

    return _upload
