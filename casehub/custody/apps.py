from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustodyConfig(AppConfig):
    name = "casehub.custody"
    label = "custody"
    verbose_name = _("换押")

    def ready(self) -> None:
        # Custody takes part in transitions because their specs declare it (TransitionSpec.custody,
        # run by workflows.engine through casehub.custody.handlers.run) — not through a signal.
        from casehub.custody.inbox import custody_inbox, extension_inbox
        from casehub.web.inboxes import register

        register(custody_inbox)
        register(extension_inbox)
