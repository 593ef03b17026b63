"""Compute instance and service endpoints, under ``projects/<project>/``."""

from django.urls import path

from compute import api

urlpatterns = [
    path("computeinstances/", api.InstanceListView.as_view(), name="computeinstances"),
    path("computeinstances/<slug:name>", api.InstanceDetailView.as_view(), name="computeinstance"),
    path("services/", api.ServiceListView.as_view(), name="services"),
    path("services/<slug:name>", api.ServiceDetailView.as_view(), name="service"),
    path("services/<slug:name>/runs/", api.ServiceRunsView.as_view(), name="service_runs"),
]
