"""URLs of transfers (mounted at /transfers/)."""

from django.urls import path

from casehub.transfers import separation, service, views

app_name = "transfers"

urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("process/", views.process, name="process"),
    path("case/<int:case_pk>/fire/<slug:transition_name>/", views.fire, name="fire"),
    path("case/<int:case_pk>/fire/<slug:transition_name>/preview.pdf", views.fire_preview, name="fire_preview"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/verification/", views.verification, name="verification"),
    path("<int:pk>/reverify/", views.reverify, name="reverify"),
    path("<int:pk>/download/<str:name>", views.download, name="download"),
    path("approval/<int:pk>/", views.approval, name="approval"),
    path("case/<int:case_pk>/judgment/", views.judgment, name="judgment"),
    path("case/<int:case_pk>/service/", service.serve, name="service"),
    path("approval/<int:pk>/preview.pdf", views.approval_preview, name="approval_preview"),
    path("paper/new/", views.register_paper, name="paper_register"),
    path("case/<int:case_pk>/split/", separation.split, name="split"),
    path("case/<int:case_pk>/join/", separation.join, name="join"),
]
