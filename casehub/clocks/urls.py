"""URLs of the clocks app."""

from django.urls import path

from casehub.clocks import views

app_name = "clocks"

urlpatterns = [
    path("", views.clock_list, name="list"),
    path("case/<int:case_id>/", views.case_clock_list, name="case"),
]
