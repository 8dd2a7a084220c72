from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LegalAidConfig(AppConfig):
    name = "casehub.legalaid"
    label = "legalaid"
    verbose_name = _("法律援助")

    def ready(self) -> None:
        from casehub.legalaid.inbox import bureau_inbox, counsel_inbox
        from casehub.web.inboxes import register

        register(bureau_inbox)
        register(counsel_inbox)
