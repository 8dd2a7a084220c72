from django.urls import path

from casehub.legalaid import views

app_name = "legalaid"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("case/<int:case_pk>/request/", views.request_form, name="request"),
    path("<int:pk>/", views.detail, name="detail"),
    path("counsel/<int:pk>/", views.counsel, name="counsel"),
    path("counsel/<int:pk>/document/<int:doc_pk>/", views.counsel_document, name="counsel_document"),
]
