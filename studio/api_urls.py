"""The REST API, under ``/apis/paas.envmgmt.io/v1/`` (namespace ``api``); its schema and docs
under ``/apis/``. Each app's endpoints are in its own ``api_urls``, included by name."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from studio.api import ProjectListView, UnknownURLView

app_name = "api"

PROJECT = "paas.envmgmt.io/v1/projects/<slug:project>/"

urlpatterns = [
    path("paas.envmgmt.io/v1/projects/", ProjectListView.as_view(), name="projects"),
    path(PROJECT, include("profiles.api_urls")),
    path(PROJECT, include("catalog.api_urls")),
    path(PROJECT, include("compute.api_urls")),
    # Last of the API's own: whatever else is asked under its prefix.
    re_path(r"^paas\.envmgmt\.io/", UnknownURLView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api:schema")),
        name="docs",
    ),
]
