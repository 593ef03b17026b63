"""Catalog URLs, under ``/projects/<project>/catalog/``."""

from django.urls import path

from catalog import views

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("<slug:owner>/<slug:name>/", views.catalog_detail, name="catalog_detail"),
]
