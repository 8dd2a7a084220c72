from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "casehub.cases"
    label = "cases"
    verbose_name = _("案件")

    def ready(self) -> None:
        from casehub.cases.inbox import my_cases
        from casehub.web.inboxes import register

        register(my_cases)
