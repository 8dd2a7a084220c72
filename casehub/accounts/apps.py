from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Managing agencies and users: creating users, handing out roles, the admin, the demo district.

    ``casehub.agencies`` declares who is who (agencies, users, roles, capabilities) and imports no
    other casehub app, so every app can build on it. Managing those rows is audited, so it needs
    ``casehub.audit``, whose auditor pages in turn need agencies: that half lives here, one layer
    up, which keeps agencies and audit free of a cycle (docs/architecture.md).
    """

    name = "casehub.accounts"
    label = "accounts"
    verbose_name = _("账户管理")
