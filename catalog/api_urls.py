"""The catalog endpoint, under ``projects/<project>/``."""

from django.urls import path

from catalog.api import CatalogView

urlpatterns = [
    path("catalog/", CatalogView.as_view(), name="catalog"),
]
