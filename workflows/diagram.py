"""Drawing the process definition: Mermaid text, Graphviz DOT, SVG (via ``dot`` if installed),
and the transition table. Everything is derived from :mod:`workflows.definition`, so the picture
cannot show a transition the engine does not have, nor miss one it has.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from django.utils.translation import gettext as _

from workflows import definition as d


def edges() -> list[tuple[str, str, d.TransitionSpec]]:
    out = []
    for t in d.TRANSITIONS:
        sources = t.sources or ("__start__",)
        for s in sources:
            for target in d.targets_from(t, s):
                out.append((s, target, t))
    return out


def _kind_label(kind: str) -> str:
    from casehub.agencies.models import AgencyKind

    return str(AgencyKind(kind).label) if kind else ""


def mermaid() -> str:
    lines = ["stateDiagram-v2"]
    for s in d.STAGES.values():
        holder = _kind_label(s.holder_kind) if s.holder_kind else "—"
        lines.append(f'    state "{s.label}<br/>({holder})" as {s.name}')
    for s, target, t in edges():
        src = "[*]" if s == "__start__" else s
        mark = " ✎" if t.requires_approval else ""
        lines.append(f"    {src} --> {target}: {t.label}{mark}")
    lines.append(f"    {d.Stage.CLOSED} --> [*]")
    return "\n".join(lines) + "\n"


def _q(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


COLOURS = {"police": "#dbe9ff", "procuratorate": "#fff1c9", "court": "#e3f4e1", None: "#eeeeee"}


def dot() -> str:
    lines = ["digraph casehub {", '  rankdir=TB; node [shape=box, style="rounded,filled", fontname="Noto Sans CJK SC"];',
             '  edge [fontname="Noto Sans CJK SC", fontsize=10];', '  __start__ [shape=point, label=""];']
    for s in d.STAGES.values():
        holder = _kind_label(s.holder_kind) if s.holder_kind else ""
        style = ', peripheries=2' if s.final else (', style="rounded,filled,dashed"' if s.pending else "")
        label = _q(f"{s.label}\n{holder}")
        lines.append(f"  {s.name} [label={label}, fillcolor={_q(COLOURS[s.holder_kind])}{style}];")
    for s, target, t in edges():
        label = f"{t.label}{' ✎' if t.requires_approval else ''}"
        lines.append(f"  {s} -> {target} [label={_q(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def svg() -> str | None:
    """The diagram as SVG, or None when Graphviz is not installed (the page shows Mermaid text)."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    done = subprocess.run([exe, "-Tsvg"], input=dot().encode(), capture_output=True, timeout=30, check=True)  # noqa: S603
    text = done.stdout.decode()
    return text[text.find("<svg"):]


def table_rows() -> list[dict[str, Any]]:
    from casehub.agencies.models import Capability

    caps = {c[0]: c[1] for c in Capability._meta.permissions}
    rows = []
    for t in d.TRANSITIONS:
        rows.append({
            "name": t.name, "label": t.label,
            "from": ", ".join(str(d.STAGES[s].label) for s in t.sources) or "—",
            "to": ", ".join(str(d.STAGES[s].label) for s in d.possible_targets(t)),
            "who": f"{_kind_label(t.agency_kind)} · {caps.get(t.capability, t.capability)}"
                   + {"holder": "", "receiver": _("（接收机关）"), "sender": _("（移送机关）"),
                 "investigator": _("（侦查机关）"), "superior": _("（上一级人民检察院）"),
                 "higher": _("（上一级机关）"), "prosecuting": _("（提起公诉的检察院）"),
                 "trial_court": _("（决定延期审理的人民法院）"), "detention": _("（羁押罪犯的看守所）"),
                 "first_instance": _("（第一审人民法院）")}[t.party],
            "approval": t.requires_approval, "guards": list(t.guards),
            "clocks": [f"{c.op} {c.kind}" + (" of the sender" if c.agency == "sender" else "") for c in t.clocks], "package": t.transfer_kind, "article": t.article,
            "inputs": [i.name + ("" if i.required else "?") for i in t.inputs],
        })
    return rows


def markdown_table() -> str:
    head = "| transition | label | from | to | who | approval | guards | clocks | package | inputs | law |\n"
    head += "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    body = "".join(
        f"| `{r['name']}` | {r['label']} | {r['from']} | {r['to']} | {r['who']} | {'yes' if r['approval'] else ''} "
        f"| {', '.join(r['guards'])} | {', '.join(r['clocks'])} | {r['package']} | {', '.join(r['inputs'])} "
        f"| {r['article']} |\n"
        for r in table_rows()
    )
    return head + body


# --- every participant of every transition ----------------------------------------------------

_HANDOVER_TEXT = {
    d.SEND: "sends a signed package; the receiver must verify and accept it",
    d.DELIVER: "delivers a signed package; the recipient holds the case at once",
    d.NOTIFY: "delivers a signed package to each recipient; the holder does not change",
    d.ACCEPT: "accepts the pending package (signed receipt); the receiver holds the case",
    d.REJECT: "refuses the pending package (signed receipt); it goes back to the sender",
    d.WITHDRAW: "takes the pending package back",
}
_RECIPIENT_TEXT = {
    d.FORWARD: "to the chosen agency of the sender's own region (default: the same-level one)",
    d.BACK_TO_SENDER: "back to the agency that sent the case electronically (paper registrations never count)",
    d.EARLIER_AGENCIES: "to every agency that held the case before",
    d.UP: "to the court above the holder (an appeal or protest)",
    d.EXECUTOR: "to the executing authority the input names (police, detention centre, community correction)",
    d.JURISDICTION: "to another procuratorate, the one with jurisdiction the input names (SPP Rules art. 328)",
}


def participants(t: d.TransitionSpec) -> dict[str, list[str]]:
    """What runs when ``t`` fires, in the order of the engine's apply phase (one transaction)."""
    out: dict[str, list[str]] = {"effects": [], "package": [], "custody": list(t.custody), "clocks": [],
                                 "rollups": [], "notifications": [], "audit": [f"workflow.{t.name}"]}
    for name in t.effects:
        kind = "number" if name.startswith("issue_") else "document" if name.startswith("generate_") else "persons"
        out["effects"].append(f"{name} ({kind})")
    if t.handover in _HANDOVER_TEXT:
        text = _HANDOVER_TEXT[t.handover]
        if t.transfer_kind:
            text = f"{t.transfer_kind}: {text}"
        if t.recipient:
            text += f", {_RECIPIENT_TEXT[t.recipient]}"
        out["package"].append(text)
    out["clocks"] = [f"{c.op} {c.kind}" + (" per person" if c.per_person else "")
                     + (" of the sender" if c.agency == "sender" else "") for c in t.clocks]
    if t.handover in (d.SEND, d.DELIVER, d.NOTIFY):
        out["rollups"].append("transfers (TransferDay, case first-seen)")
    if t.handover in (d.ACCEPT, d.REJECT):
        out["rollups"].append("acceptance time (DurationBucket accept)")
    if t.handover == d.WITHDRAW:
        out["rollups"].append("withdrawn transfer leaves TransferDay")
    if {"issue_certificates", "take_over_at_once", "cancel_certificates"} & set(t.custody):
        out["rollups"].append("custody transfers (CertificateDay, person/hand-over first-seen)")
    if any(c.op in ("stop", "restart") for c in t.clocks):
        out["rollups"].append("clocks met/late (ClockDay)")
    if any(target != s for s in t.sources for target in d.targets_from(t, s)):
        out["rollups"].append("stage stay (StageStay, DurationBucket stay)")
    if t.needs_approval:
        out["notifications"].append("supervisors: approval requested; the officer: approval decided")
    if t.handover in (d.SEND, d.DELIVER, d.NOTIFY):
        out["notifications"].append("the recipient's officers: package received")
    if t.handover in (d.ACCEPT, d.REJECT):
        out["notifications"].append("the sender's handling officers: package accepted/rejected")
    if {"issue_certificates", "take_over_at_once", "notices"} & set(t.custody):
        out["notifications"].append("detention centre: certificates and change notices")
    return out


def participants_table() -> str:
    """Markdown: every participant of every transition (docs/workflow.md; kept true by a test)."""
    cols = ("effects", "package", "custody", "clocks", "rollups", "notifications", "audit")
    head = "| transition | " + " | ".join(cols) + " |\n" + "| --- " * (len(cols) + 1) + "|\n"
    rows = []
    for t in d.TRANSITIONS:
        if t.name == d.REGISTER:
            continue
        p = participants(t)
        rows.append(f"| `{t.name}` | " + " | ".join("; ".join(p[c]) for c in cols) + " |\n")
    return head + "".join(rows)


def decisions_table() -> str:
    """Markdown: the decisions about persons (``PERSON_DECISIONS``)."""
    head = "| decision | label | notice | status after | decided by | law |\n| --- | --- | --- | --- | --- | --- |\n"
    rows = []
    for s in d.PERSON_DECISIONS.values():
        by = "the agency responsible for the custody" + (
            f" ({', '.join(s.deciding_kinds)} only)" if s.deciding_kinds else "")
        rows.append(f"| `{s.name}` | {s.label} | {s.notice_kind} | {s.new_status or 'unchanged'} | {by} "
                    f"| {s.article} |\n")
    return head + "".join(rows)
