"""The scripted client journey (examples/client_journey.py) against a live server.

Each agency's system uses its own system-client credential, registered as an agency
administrator would; the script sees only the public API over real HTTP.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from casehub.api.credentials import register_client
from casehub.audit.models import AuditEvent
from casehub.cases.models import Case

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "client_journey.py"


def load_script():
    spec = importlib.util.spec_from_file_location("client_journey", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=True)
def test_police_to_procuratorate_to_court_over_http(live_server, district, settings):
    journey = load_script()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    plan = {
        "investigator": (district.police, "investigator"),
        "police_supervisor": (district.police, "supervisor"),
        "prosecutor": (district.procuratorate, "prosecutor"),
        "procuratorate_supervisor": (district.procuratorate, "supervisor"),
        "court_clerk": (district.court, "court_clerk"),
        "judge": (district.court, "judge"),
    }
    tokens = {key: register_client(acting_user=None, agency=agency, name=f"{key} 系统", role=role).token
              for key, (agency, role) in plan.items()}

    result = journey.run_journey(live_server.url, tokens, announced_on="2026-01-05")

    case = Case.objects.get(pk=result["case"])
    # Delivery opens the appeal window (art. 230): the case is still open, at the court.
    assert result["final"]["stage"] == "appeal_period" and result["final"]["status"] == "active"
    assert case.holder_agency == district.court
    assert result["court_number"] and "刑初" in result["court_number"]
    assert result["accepted_outgoing_from_police"] == 2  # the first transfer and the re-transfer
    assert len(result["documents"]) == 2
    assert case.documents.filter(original_filename="讯问笔录.pdf").exists()  # the chunked one
    # Everything the clients did is on the audit trail, under the clients' service accounts.
    actors = set(AuditEvent.objects.filter(case_id=case.pk).values_list("actor_label", flat=True))
    assert len([a for a in actors if a.startswith("api-client-")]) == 6
    # Every call succeeded (a 409 would only be a chunk-offset resync, which this run never needs).
    assert all(line.rsplit(" → ", 1)[1].startswith("2") for line in result["log"]), result["log"]
    assert len(result["log"]) > 40


def test_minimal_pdf_of_the_example_passes_ingest_validation(tmp_path):
    from casehub.dossier import ingest

    journey = load_script()
    path = tmp_path / "x.pdf"
    path.write_bytes(journey.minimal_pdf("hello", 3))
    assert ingest.inspect_pdf(path).page_count == 3
