"""The Celery application. Without CELERY_BROKER_URL tasks run eagerly in-process."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")

app = Celery("casehub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_up_worker(**kwargs) -> None:
    """Each pool process parses the CJK font and imports pyHanko as it starts (casehub.warmup)."""
    from casehub import warmup

    warmup.run_in_background()
