"""The engine's rows moved from ``casehub.transfers`` to the ``workflows`` app without losing data.

A database migrated before the move has its transfers, transition log and approvals in the
``transfers_*`` tables with ``transfers`` content types. Migrating it forward must keep every row
(no table is dropped or recreated), let the new models read them, and carry the content types (and
with them the permission rows) over to ``workflows``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from workflows.models import ApprovalRequest, Transfer, TransitionLog

# A migration test takes 9-15 s on CI and what it checks does not depend on the day: once is enough.
pytestmark = pytest.mark.dateless

BEFORE_MOVE = [
    ("transfers", "0002_transfer_documents_transfer_volumes"),
    ("custody", "0001_initial"),
    ("workflows", None),
]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _latest() -> list[tuple[str, str]]:
    return list(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_its_transfers_log_and_approvals(district, case, drive):
    drive.fire(case, "transfer_for_review", "investigator", facts="2026年1月入室盗窃。", evidence="证人证言")
    before = {
        "transfers": sorted(Transfer.objects.values_list("pk", "kind", "status")),
        "log": sorted(TransitionLog.objects.values_list("pk", "transition", "target")),
        "approvals": sorted(ApprovalRequest.objects.values_list("pk", "status")),
        "documents": sorted(Transfer.documents.through.objects.values_list("transfer_id", "document_id")),
    }
    assert before["transfers"] and before["log"] and before["approvals"] and before["documents"]

    # Back to the schema state of the last release that had the models in casehub.transfers.
    executor = _migrate(BEFORE_MOVE)
    old = executor.loader.project_state([t for t in BEFORE_MOVE if t[1]]).apps
    OldTransfer = old.get_model("transfers", "Transfer")
    OldLog = old.get_model("transfers", "TransitionLog")
    OldContentType = old.get_model("contenttypes", "ContentType")
    assert sorted(OldTransfer.objects.values_list("pk", "kind", "status")) == before["transfers"]
    assert set(OldContentType.objects.filter(app_label="transfers").values_list("model", flat=True)) == {
        "transfer", "transitionlog", "approvalrequest"}
    # A row written by the old code, after which the new migrations run.
    old_row = OldLog.objects.create(case_id=case.pk, transition="legacy_row", source="investigation",
                                    target="investigation", reason="written before the move")

    _migrate(_latest())
    ContentType.objects.clear_cache()

    assert sorted(Transfer.objects.values_list("pk", "kind", "status")) == before["transfers"]
    assert sorted(ApprovalRequest.objects.values_list("pk", "status")) == before["approvals"]
    assert sorted(Transfer.documents.through.objects.values_list("transfer_id", "document_id")) == \
        before["documents"]
    assert TransitionLog.objects.get(pk=old_row.pk).reason == "written before the move"
    assert not ContentType.objects.filter(app_label="transfers").exists()
    moved = ContentType.objects.get_for_model(Transfer)
    assert moved.app_label == "workflows"
    assert Permission.objects.filter(content_type=moved, codename="view_transfer").exists()
