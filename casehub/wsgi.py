"""WSGI entry point (gunicorn casehub.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
application = get_wsgi_application()

from casehub import warmup  # noqa: E402

warmup.run()  # each gunicorn worker imports this module once
