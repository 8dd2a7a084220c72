from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "casehub.api"
    label = "api"
    verbose_name = _("接口")

    def ready(self) -> None:
        from casehub.accounts.services import ROLE_LOCKS
        from casehub.api.credentials import client_role

        if client_role not in ROLE_LOCKS:
            ROLE_LOCKS.append(client_role)

        from django.db.models.signals import post_save

        from casehub.agencies.models import User
        from casehub.api.credentials import revoke_on_forced_reset

        post_save.connect(revoke_on_forced_reset, sender=User, dispatch_uid="api-revoke-on-forced-reset")
