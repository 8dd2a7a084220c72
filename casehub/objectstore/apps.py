from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObjectstoreConfig(AppConfig):
    name = "casehub.objectstore"
    label = "objectstore"
    verbose_name = _("对象存储")
