"""How stages are named on screen; the workflow definition is the source of the names."""

from __future__ import annotations


def stage_label(stage: str) -> str:
    from workflows.definition import STAGES

    spec = STAGES.get(stage)
    return str(spec.label) if spec else stage


def stage_choices() -> list[tuple[str, str]]:
    from workflows.definition import STAGES

    return [(name, str(spec.label)) for name, spec in STAGES.items()]
