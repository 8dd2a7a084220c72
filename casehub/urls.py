"""URL map. Each domain app owns its own ``urls.py``; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("cases/", include("casehub.cases.urls")),
    path("dossier/", include("casehub.dossier.urls")),
    path("transfers/", include("casehub.transfers.urls")),
    path("custody/", include("casehub.custody.urls")),
    path("clocks/", include("casehub.clocks.urls")),
    path("legalaid/", include("casehub.legalaid.urls")),
    path("audit/", include("casehub.audit.urls")),
    path("metrics/", include("casehub.metrics.urls")),
    path("objects/", include("casehub.objectstore.urls")),
    path("pki/", include("casehub.pki.urls")),
    path("notifications/", include("casehub.notifications.urls")),
    path("api/v1/", include("casehub.api.urls")),
    path("", include("casehub.web.urls")),
]

# The API answers JSON even for an unexpected error (casehub/api/errors.py); the UI, Django's page.
handler500 = "casehub.api.errors.server_error"
