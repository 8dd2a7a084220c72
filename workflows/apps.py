from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowsConfig(AppConfig):
    """The process engine as a Django app: it owns the rows that record transitions.

    ``Transfer``, ``TransitionLog`` and ``ApprovalRequest`` were first declared in
    ``casehub.transfers``; they moved here with their tables unchanged (``db_table`` keeps the
    ``transfers_`` names, see ``workflows/migrations/0001_initial.py``).
    """

    name = "workflows"
    label = "workflows"
    verbose_name = _("流程引擎")

    def ready(self) -> None:
        from casehub.audit.actions import declare
        from workflows import closing, court_door, measures, nonprosecution, plea  # noqa: F401 - register guards, effects, documents
        from workflows.definition import TRANSITIONS

        # Each transition is recorded as workflow.<name> (workflows.engine); the definition declares them.
        declare(f"workflow.{t.name}" for t in TRANSITIONS)
