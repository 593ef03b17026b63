"""A project's overview and its catalog, under ``/projects/<project>/`` (namespace ``catalog``)."""

from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.project_home, name="overview"),
    path("catalog/", views.catalog, name="list"),
    path("catalog/<slug:owner>/<slug:name>/", views.catalog_detail, name="detail"),
]
