"""How stages are named on screen. The workflow definition is the source; this only looks it up."""

from __future__ import annotations

from django.utils.translation import gettext as _


def stage_label(stage: str) -> str:
    try:
        from workflows.definition import PROCESS
    except ImportError:
        return stage
    label = getattr(PROCESS, "stage_label", None)
    if callable(label):
        return str(label(stage))
    stages = getattr(PROCESS, "stages", {})
    found = stages.get(stage) if isinstance(stages, dict) else None
    return str(getattr(found, "label", found) or stage) if found else _(stage)


def stage_choices() -> list[tuple[str, str]]:
    try:
        from workflows.definition import PROCESS
    except ImportError:
        return []
    stages = getattr(PROCESS, "stages", {})
    items = stages.values() if isinstance(stages, dict) else stages
    return [(getattr(s, "name", str(s)), str(getattr(s, "label", s))) for s in items]
