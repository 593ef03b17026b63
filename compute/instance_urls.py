"""Compute instances, under ``/projects/<project>/compute-instances/``; included by
``compute.urls``, so the names are in its namespace (``compute:instances`` and so on)."""

from django.urls import path

from compute import instance_views as views

urlpatterns = [
    path("", views.instance_list, name="instances"),
    path("new/", views.instance_new, name="instance_new"),
    path("<slug:name>/", views.instance_detail, name="instance"),
    path("<slug:name>/edit/", views.instance_edit, name="instance_edit"),
    path("<slug:name>/test/", views.instance_test, name="instance_test"),
    path("<slug:name>/fetch-host-key/", views.instance_fetch_key, name="instance_fetch_key"),
    path(
        "<slug:name>/trust-host-key/<int:check>/",
        views.instance_trust_key,
        name="instance_trust_key",
    ),
    path("<slug:name>/delete/", views.instance_delete, name="instance_delete"),
]
