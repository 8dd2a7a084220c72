from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationConfig(AppConfig):
    name = "casehub.integration"
    label = "integration"
    verbose_name = _("系统对接")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The feed is a projection of the audit trail, written in the audit event's transaction:
        # registering it here keeps the audit app free of any import of this one.
        from casehub.audit.services import register_projection
        from casehub.integration.projection import prepare, write

        register_projection(prepare, write)

        from casehub.integration.webhooks import rewrap_secrets
        from casehub.pki.services import REWRAP_HOOKS

        if rewrap_secrets not in REWRAP_HOOKS:
            REWRAP_HOOKS.append(rewrap_secrets)
