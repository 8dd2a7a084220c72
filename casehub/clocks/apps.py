from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClocksConfig(AppConfig):
    name = "casehub.clocks"
    label = "clocks"
    verbose_name = _("办案期限")
