"""PaaS Studio URLs, under ``/projects/<project>/studio/`` (namespace ``profiles``)."""

from django.urls import path, register_converter

from profiles import document_views, views
from profiles.models import ServiceProfile


class StepConverter:
    regex = "|".join(ServiceProfile.Step.values)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(StepConverter, "step")

app_name = "profiles"

urlpatterns = [
    path("", views.studio_home, name="studio_home"),
    path("service-profiles/", views.profile_list, name="list"),
    path("service-profiles/new/", views.profile_new, name="new"),
    # No unique name has a dot in it, so this cannot hide a profile's page.
    path("service-profiles/export.yaml", document_views.profile_export, name="export"),
    path("service-profiles/<slug:name>/", views.profile_view, name="view"),
    path("service-profiles/<slug:name>/delete/", views.profile_delete, name="delete"),
    path(
        "service-profiles/<slug:name>/revisions/<int:number>/",
        views.profile_revision,
        name="revision",
    ),
    path(
        "service-profiles/<slug:name>/revisions/<int:number>/download/",
        document_views.revision_download,
        name="revision_download",
    ),
    # "yaml" is no step's name (tests/test_profile_yaml.py checks): these come before steps.
    path("service-profiles/<slug:name>/yaml/", document_views.profile_yaml, name="yaml"),
    path(
        "service-profiles/<slug:name>/yaml/download/",
        document_views.profile_yaml_download,
        name="yaml_download",
    ),
    path("service-profiles/<slug:name>/<step:step>/", views.profile_step, name="step"),
    path("shared-profiles/<slug:owner>/<slug:name>/", views.shared_profile_view, name="shared"),
    path("system-profiles/", views.system_profiles, name="system"),
    path("system-profiles/<slug:name>/clone/", views.profile_clone, name="clone"),
    path("readme-preview/", views.readme_preview, name="readme_preview"),
]
