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
            for target in d.possible_targets(t):
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
                   + {"holder": "", "receiver": _("（接收机关）"), "sender": _("（移送机关）")}[t.party],
            "approval": t.requires_approval, "guards": list(t.guards),
            "clocks": [f"{c.op} {c.kind}" for c in t.clocks], "package": t.transfer_kind, "article": t.article,
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
