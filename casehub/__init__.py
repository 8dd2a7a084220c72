"""casehub: electronic circulation of criminal cases between police, procuratorate and court."""

from casehub.celery import app as celery_app

__all__ = ["celery_app"]
