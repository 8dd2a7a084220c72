from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustodyConfig(AppConfig):
    name = "casehub.custody"
    label = "custody"
    verbose_name = _("换押")

    def ready(self) -> None:
        from casehub.custody.handlers import on_case_transitioned
        from casehub.custody.inbox import custody_inbox
        from casehub.web.inboxes import register

        try:
            from workflows.signals import case_transitioned
        except ImportError:  # pragma: no cover - the engine is part of every deployment
            pass
        else:
            case_transitioned.connect(on_case_transitioned, dispatch_uid="custody.on_case_transitioned")
        register(custody_inbox)
