from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PkiConfig(AppConfig):
    name = "casehub.pki"
    label = "pki"
    verbose_name = _("电子签章")
