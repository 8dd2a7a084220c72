from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "casehub.notifications"
    label = "notifications"
    verbose_name = _("通知")

    def ready(self) -> None:
        from casehub.notifications.inbox import unread_notifications
        from casehub.web.inboxes import register

        register(unread_notifications)
