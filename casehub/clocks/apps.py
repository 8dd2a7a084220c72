from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClocksConfig(AppConfig):
    name = "casehub.clocks"
    label = "clocks"
    verbose_name = _("办案期限")

    def ready(self) -> None:
        from casehub.clocks import tasks  # noqa: F401  (registers the beat task)
        from casehub.clocks.inbox import clocks_due
        from casehub.web.inboxes import register

        register(clocks_due)
