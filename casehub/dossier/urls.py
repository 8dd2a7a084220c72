"""URLs of the dossier: the case dossier page, uploads, volumes and the reading room."""

from django.urls import path

from casehub.dossier import views

app_name = "dossier"

urlpatterns: list = [
    path("case/<int:case_pk>/", views.case_dossier, name="case"),
]
