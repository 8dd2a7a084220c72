from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _prepare_cjk_font(sender: AppConfig, **kwargs: object) -> None:
    """Build the cached fast CJK font subset at install time (``migrate``), not in the first
    request that generates a document. A failure only costs speed later, never correctness."""
    import logging

    from casehub.pdfgen.fonts import common_font_path

    try:
        common_font_path()
    except Exception:
        logging.getLogger(__name__).exception("could not prepare the CJK font subset")


class DossierConfig(AppConfig):
    name = "casehub.dossier"
    label = "dossier"
    verbose_name = _("电子卷宗")

    def ready(self) -> None:
        post_migrate.connect(_prepare_cjk_font, sender=self, dispatch_uid="dossier-cjk-font")
