"""URLs of the custody app."""

from django.urls import path

from casehub.custody import terms, views

app_name = "custody"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("detainees/", views.detainees, name="detainees"),
    path("detainees/<int:pk>/", views.detainee, name="detainee"),
    path("detainees/<int:pk>/hand-over/", views.hand_over_outside_prison, name="hand_over_outside_prison"),
    path("<str:kind>/<int:pk>/pdf/", views.document_pdf, name="pdf"),
    path("<str:kind>/<int:pk>/pdf/<str:part>/", views.document_pdf, name="pdf_part"),
    path("<str:kind>/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("case/<int:case_id>/", views.case_custody, name="case"),
    path("case/<int:case_id>/person/<int:person_id>/terms/", terms.person_terms, name="terms"),
]
