"""Service profile and environment template endpoints, under ``projects/<project>/``."""

from django.urls import path

from profiles import api

urlpatterns = [
    path("serviceprofiles/", api.ProfileListView.as_view(), name="profiles"),
    path("serviceprofiles/<slug:name>", api.ProfileDetailView.as_view(), name="profile"),
    path(
        "serviceprofiles/<slug:name>/sharing",
        api.ProfileSharingView.as_view(),
        name="profile_sharing",
    ),
    path("systemprofiles/<slug:name>/clone", api.ProfileCloneView.as_view(), name="profile_clone"),
    path("environmenttemplates/", api.TemplateListView.as_view(), name="templates"),
    path("environmenttemplates/<slug:name>", api.TemplateDetailView.as_view(), name="template"),
]
