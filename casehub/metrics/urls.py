"""URLs of the auditors' dashboard."""

from django.urls import path

from casehub.metrics import views

app_name = "metrics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("cases/", views.drilldown, name="drilldown"),
    path("chart/<str:name>.svg", views.chart, name="chart"),
    path("export/<str:key>.<str:fmt>", views.export_table, name="export"),
]
