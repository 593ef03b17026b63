"""What runs, under ``/projects/<project>/`` (namespace ``compute``): services, the launch form
(beside the catalog page it starts from), and compute instances."""

from django.urls import include, path

from compute import views

app_name = "compute"

urlpatterns = [
    path("catalog/<slug:owner>/<slug:name>/launch/", views.launch, name="launch"),
    path("services/", views.service_list, name="services"),
    path("services/<slug:name>/", views.service_detail, name="service"),
    path("services/<slug:name>/destroy/", views.service_destroy, name="destroy"),
    path("services/<slug:name>/redeploy/", views.service_redeploy, name="redeploy"),
    path("services/<slug:name>/cancel/", views.service_cancel, name="cancel"),
    path(
        "services/<slug:name>/outputs/<str:output>/reveal/",
        views.reveal_output,
        name="reveal_output",
    ),
    path(
        "studio/service-profiles/<slug:name>/services/",
        views.profile_services,
        name="profile_services",
    ),
    path("compute-instances/", include("compute.instance_urls")),
]
