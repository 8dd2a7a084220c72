"""Audit actions are declared (casehub/audit/actions.py): recording an undeclared one fails."""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import pytest

from casehub.audit.actions import AuditAction, UndeclaredAuditAction, declared, is_declared
from casehub.audit.models import AuditEvent
from casehub.audit.services import record_event
from workflows.definition import TRANSITIONS

REPO = Path(__file__).resolve().parents[2]
# Calls that take an action code, and the position of that argument: record_event and the helpers
# that pass one through.
RECORDERS = {"record_event": 0, "_audit_read": 1, "_m2m_receiver": 0, "_object_permission_event": 1}


@pytest.mark.django_db
def test_recording_an_undeclared_action_raises_and_writes_nothing():
    before = AuditEvent.objects.count()
    with pytest.raises(UndeclaredAuditAction, match="case.teleported.*casehub/audit/actions.py"):
        record_event("case.teleported", details={"to": "mars"})
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.filter(action="case.teleported").exists()


@pytest.mark.django_db
def test_in_production_an_undeclared_action_is_still_recorded_and_logged(settings, caplog):
    settings.PRODUCTION = True
    with caplog.at_level(logging.ERROR, logger="casehub.audit.services"):
        event = record_event("case.teleported")
    assert event.action == "case.teleported"
    assert "undeclared action 'case.teleported'" in caplog.text


@pytest.mark.django_db
def test_a_declared_member_is_stored_as_its_plain_code():
    event = record_event(AuditAction.CASE_VIEWED)
    event.refresh_from_db()
    assert event.action == "case.viewed" and type(event.action) is str


def test_every_transition_of_the_definition_is_a_declared_action():
    assert all(is_declared(f"workflow.{t.name}") for t in TRANSITIONS)
    assert not is_declared("workflow.no_such_transition")


def _action_arguments(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.IfExp):
        return _action_arguments(node.body) + _action_arguments(node.orelse)
    return [node]


def _source_files() -> list[Path]:
    return [*(REPO / "casehub").rglob("*.py"), *(REPO / "workflows").rglob("*.py")]


def _recorded_codes(files: list[Path]) -> list[tuple[str, str]]:
    """(where, code or pattern) for every literal action code the source passes to a recorder."""
    found = []
    for path in files:
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in RECORDERS or len(node.args) <= RECORDERS[name]:
                continue
            where = f"{path.name}:{node.lineno}"
            for arg in _action_arguments(node.args[RECORDERS[name]]):
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((where, arg.value))
                elif isinstance(arg, ast.JoinedStr):  # f"transfer.{which}_downloaded": a family of codes
                    pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z_]+"
                                      for v in arg.values)
                    found.append((where, f"re:{pattern}"))
    return found


def test_every_action_code_in_the_source_is_declared():
    codes = _recorded_codes(_source_files())
    assert len(codes) > 60, "the scan finds the recorders"
    undeclared = []
    for where, code in codes:
        if code.startswith("re:"):
            if not any(re.fullmatch(code[3:], d) for d in declared()):
                undeclared.append((where, code))
        elif not is_declared(code):
            undeclared.append((where, code))
    assert not undeclared, f"declare these in casehub/audit/actions.py: {undeclared}"


def test_the_source_scan_notices_literals_conditionals_and_f_strings(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text(
        "def f(record_event, ok, which):\n"
        "    record_event('case.teleported')\n"
        "    record_event('user.changed' if ok else 'user.vanished', actor=None)\n"
        "    record_event(f'transfer.{which}_shredded')\n"
        "    _audit_read(request, 'document.burnt', doc, 1)\n", "utf-8")
    assert _recorded_codes([module]) == [
        ("probe.py:2", "case.teleported"), ("probe.py:3", "user.changed"), ("probe.py:3", "user.vanished"),
        ("probe.py:4", "re:transfer\\.[a-z_]+_shredded"), ("probe.py:5", "document.burnt")]
