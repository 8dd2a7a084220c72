from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "casehub.metrics"
    label = "metrics"
    verbose_name = _("考核统计")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from casehub.metrics.handlers import on_transition_logged

        post_save.connect(on_transition_logged, sender="workflows.TransitionLog", dispatch_uid="metrics.stage_stay")

        from casehub.metrics import rollup

        rollup.connect()

        from casehub.metrics.inbox import headline_figures
        from casehub.web.inboxes import register

        register(headline_figures)
