"""The REST API, under ``/apis/paas.envmgmt.io/v1/``; its schema and docs under ``/apis/``."""

from django.contrib.auth.decorators import login_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from catalog.api import CatalogView
from profiles import api as profiles
from studio.api import ProjectListView, UnknownURLView

P = "paas.envmgmt.io/v1/projects/<slug:project>/"

urlpatterns = [
    path("paas.envmgmt.io/v1/projects/", ProjectListView.as_view(), name="api_projects"),
    path(P + "serviceprofiles/", profiles.ProfileListView.as_view(), name="api_profiles"),
    path(
        P + "serviceprofiles/<slug:name>",
        profiles.ProfileDetailView.as_view(),
        name="api_profile",
    ),
    path(
        P + "serviceprofiles/<slug:name>/sharing",
        profiles.ProfileSharingView.as_view(),
        name="api_profile_sharing",
    ),
    path(
        P + "systemprofiles/<slug:name>/clone",
        profiles.ProfileCloneView.as_view(),
        name="api_profile_clone",
    ),
    path(P + "environmenttemplates/", profiles.TemplateListView.as_view(), name="api_templates"),
    path(
        P + "environmenttemplates/<slug:name>",
        profiles.TemplateDetailView.as_view(),
        name="api_template",
    ),
    path(P + "catalog/", CatalogView.as_view(), name="api_catalog"),
    # Last of the API's own: whatever else is asked under its prefix.
    re_path(r"^paas\.envmgmt\.io/", UnknownURLView.as_view()),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path(
        "docs/",
        login_required(SpectacularSwaggerView.as_view(url_name="api_schema")),
        name="api_docs",
    ),
]
