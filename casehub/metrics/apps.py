from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    # No signal receivers: the rolled-up models keep their rollups in step from their own
    # save()/delete() (casehub.metrics.tracking), and the engine records stage stays explicitly.
    name = "casehub.metrics"
    label = "metrics"
    verbose_name = _("考核统计")

    def ready(self) -> None:
        from casehub.metrics.inbox import headline_figures
        from casehub.web.inboxes import register

        register(headline_figures)
