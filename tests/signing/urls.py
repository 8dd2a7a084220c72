"""casehub's URLs plus the PKI pages, until casehub/urls.py mounts ``pki/`` itself."""

from django.urls import include, path

from casehub.urls import urlpatterns as _base

urlpatterns = list(_base)
if not any(getattr(p, "namespace", None) == "pki" for p in _base):
    urlpatterns.append(path("pki/", include("casehub.pki.urls")))
