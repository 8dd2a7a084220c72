"""URLs of the dossier: the case dossier page, uploads, volumes and the reading room."""

from django.urls import path

from casehub.dossier import views

app_name = "dossier"

urlpatterns = [
    path("case/<int:case_pk>/", views.case_dossier, name="case"),
    path("case/<int:case_pk>/jobs/", views.case_jobs, name="jobs"),
    path("case/<int:case_pk>/jobs/clear/", views.clear_jobs, name="clear_jobs"),
    path("jobs/<str:kind>/<uuid:pk>/retry/", views.retry_job, name="retry_job"),
    path("case/<int:case_pk>/upload/", views.upload, name="upload"),
    path("case/<int:case_pk>/uploads/", views.chunked_start, name="chunked_start"),
    path("case/<int:case_pk>/assemble/", views.assemble, name="assemble"),
    path("uploads/<uuid:pk>/", views.chunk, name="chunk"),
    path("uploads/<uuid:pk>/complete/", views.chunk_complete, name="chunk_complete"),
    path("volume/<int:volume_pk>/reorder/", views.reorder, name="reorder"),
    path("document/<int:pk>/", views.document_detail, name="document"),
    path("document/<int:pk>/edit/", views.document_edit, name="document_edit"),
    path("document/<int:pk>/withdraw/", views.document_withdraw, name="document_withdraw"),
    path("document/<int:pk>/file/", views.document_file, name="document_file"),
    path("document/<int:pk>/concerns/", views.document_concerns, name="document_concerns"),
    path("volume/<int:pk>/", views.volume_detail, name="volume"),
    path("volume/<int:pk>/file/", views.volume_file, name="volume_file"),
]
