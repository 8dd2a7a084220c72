"""URLs of this app (mounted at ``pki/``)."""

from django.urls import path

from casehub.pki import views

app_name = "pki"

urlpatterns = [
    path("certificates/", views.certificates, name="certificates"),
    path("trust.pem", views.trust_bundle, name="trust-bundle"),
    path("crl/<str:fingerprint>.crl", views.crl, name="crl"),
    path("verify/", views.verify, name="verify"),
]
