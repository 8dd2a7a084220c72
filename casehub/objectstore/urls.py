"""URLs of the object store, mounted at /objects/."""

from django.urls import path

from casehub.objectstore import views

app_name = "objectstore"
urlpatterns = [
    path("d/<str:token>/", views.download, name="download"),
    path("sweeps/", views.sweeps, name="sweeps"),
]
