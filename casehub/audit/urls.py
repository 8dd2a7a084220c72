"""URLs of the auditor's view of the trail."""

from django.urls import path

from casehub.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.event_list, name="list"),
    path("export/<str:fmt>/", views.export_events, name="export"),
    path("verify/", views.verify_now, name="verify"),
]
