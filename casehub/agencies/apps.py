from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AgenciesConfig(AppConfig):
    name = "casehub.agencies"
    label = "agencies"
    verbose_name = _("机构与人员")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from casehub.agencies.permissions import sync_role_groups

        post_migrate.connect(sync_role_groups, sender=self)
