from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransfersConfig(AppConfig):
    name = "casehub.transfers"
    label = "transfers"
    verbose_name = _("移送")

    def ready(self) -> None:
        from casehub.transfers import inbox
        from casehub.web.inboxes import register

        register(inbox.incoming)
        register(inbox.approvals)

        # The auditor reads "workflow.<transition>" events by the transition's name.
        from casehub.audit.labels import register as register_label
        from workflows.definition import TRANSITIONS

        for transition in TRANSITIONS:
            register_label(f"workflow.{transition.name}", transition.label)
