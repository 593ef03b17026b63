"""Root URLs. Everything about one project lives under ``/projects/<project>/``.

Each app names its URLs in its own namespace: ``studio:`` (these pages), ``profiles:`` (the
PaaS Studio, under ``studio/``), ``compute:`` (services, the launch form, compute instances),
``catalog:`` (the project's overview and catalog) and ``api:``.
The apps' URL confs are included by name, so this core imports none of them.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from studio import views

studio_patterns = [
    path("", views.home, name="home"),
    path("accounts/api-keys/", views.api_keys, name="api_keys"),
    path("accounts/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("projects/<slug:project>/members/", views.project_members, name="members"),
]

project_patterns = [
    path("studio/", include("profiles.urls")),
    path("", include("compute.urls")),
    path("", include("catalog.urls")),
]

urlpatterns = [
    path("", include((studio_patterns, "studio"))),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("apis/", include("studio.api_urls")),
    path("projects/<slug:project>/", include(project_patterns)),
]

admin.site.site_header = "PaaS Studio administration"
admin.site.site_title = "PaaS Studio admin"
admin.site.index_title = "Projects, templates and service profiles"
