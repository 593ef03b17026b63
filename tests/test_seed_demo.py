"""``manage.py seed_demo`` creates SPEC §7's demo data, and a second run changes nothing."""

from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import RequestFactory

from compute.models import ComputeInstance
from profiles.models import EnvironmentTemplate, ServiceProfile, TemplateVersion
from studio.models import Membership, Project


def seed(password: str = "demo-pw") -> str:
    out = StringIO()
    call_command("seed_demo", password=password, stdout=out)
    return out.getvalue()


def signs_in(username: str, password: str) -> bool:
    """Whether the sign-in form's check passes (django-axes wants the request it comes with)."""
    request = RequestFactory().post("/accounts/login/")
    return authenticate(request, username=username, password=password) is not None


def every_row() -> dict[str, list[tuple]]:
    """All rows of every model, as tuples of their column values."""
    rows = {}
    for model in apps.get_models():
        columns = [f.attname for f in model._meta.concrete_fields]
        rows[model._meta.label] = sorted(
            model.objects.order_by("pk").values_list(*columns), key=repr
        )
    return rows


@pytest.fixture
def seeded(db):
    seed()


def test_second_run_changes_no_row(seeded):
    before = every_row()
    output = seed()
    assert every_row() == before
    assert "nothing changed" in output


def test_projects_exist_beside_the_system_catalog(seeded):
    assert list(Project.objects.values_list("name", flat=True)) == [
        "finance",
        "platform",
        "research",
        "system-catalog",
    ]


def test_each_demo_user_logs_in_with_the_given_password(seeded):
    for username in ["admin", "alice", "dave", "bob", "carol"]:
        assert signs_in(username, "demo-pw")


def test_roles_are_those_of_the_spec(seeded):
    memberships = {
        (m.user.username, m.project.name, m.role)
        for m in Membership.objects.select_related("user", "project")
    }
    assert memberships == {
        ("alice", "platform", "admin"),
        ("dave", "research", "admin"),
        ("bob", "research", "member"),
        ("carol", "finance", "member"),
    }
    assert list(User.objects.filter(is_superuser=True).values_list("username", flat=True)) == [
        "admin"
    ]


def test_a_run_with_another_password_resets_it(seeded):
    seed("another-pw")
    assert signs_in("bob", "another-pw")
    assert not signs_in("bob", "demo-pw")


def test_system_templates_have_active_v1_and_notebook_has_v2(seeded):
    versions = {
        (v.template.name, v.name, v.state)
        for v in TemplateVersion.objects.select_related("template")
    }
    assert versions == {
        ("jupyter-notebook", "v1", "active"),
        ("jupyter-notebook", "v2", "active"),
        ("vllm-inference", "v1", "active"),
        ("batch-job", "v1", "active"),
        ("bionemo", "v1", "active"),
        ("web-file-server", "v1", "active"),
    }
    assert set(EnvironmentTemplate.objects.values_list("project__name", flat=True)) == {
        "system-catalog"
    }


def test_notebook_template_declares_the_spec_variables(seeded):
    v1 = TemplateVersion.objects.get(template__name="jupyter-notebook", name="v1")
    v2 = TemplateVersion.objects.get(template__name="jupyter-notebook", name="v2")
    v1_names = list(v1.variables.values_list("name", flat=True))
    assert v1_names == [
        "notebook_profile",
        "image",
        "cpu",
        "memory_gib",
        "gpu_count",
        "enable_ssh",
        "hf_token",
    ]
    assert list(v2.variables.values_list("name", flat=True)) == [*v1_names, "idle_timeout_minutes"]
    profile = v1.variables.get(name="notebook_profile")
    assert (profile.override, profile.restricted_values) == (
        "restricted",
        ["pytorch", "tensorflow", "rapids"],
    )
    assert v1.variables.get(name="enable_ssh").value_type == "boolean"
    assert v1.variables.get(name="hf_token").sensitive
    assert {(o.name, o.sensitive) for o in v1.outputs.all()} == {("url", False), ("token", True)}


def test_system_profiles_are_ready_and_shared_with_all(seeded):
    profiles = {
        p.name: (p.display_name, p.get_service_type_display(), p.status, p.sharing, p.revision)
        for p in ServiceProfile.objects.filter(project__name="system-catalog")
    }
    assert profiles == {
        "jupyter-notebook": ("Jupyter Notebook", "Notebook", "ready", "all", 1),
        "vllm-inference": ("vLLM Inference", "Inference", "ready", "all", 1),
        "batch-job": ("Batch Job", "Jobs", "ready", "all", 1),
        "bionemo": ("NVIDIA BioNeMo", "Custom Service", "ready", "all", 1),
        "web-file-server": ("Web File Server", "Custom Service", "ready", "all", 1),
    }


def test_system_profiles_have_one_input_per_variable_and_a_first_revision(seeded):
    notebook = ServiceProfile.objects.get(name="jupyter-notebook")
    assert notebook.inputs.count() == notebook.template_version.variables.count()
    assert notebook.revisions.get().number == 1
    assert notebook.events.get().action == "created"


def test_demo_data_is_visible_in_every_project_catalog(seeded):
    for project in Project.objects.pickable():
        assert ServiceProfile.objects.in_catalog_of(project).count() == 5


def test_research_has_a_local_compute_instance_for_the_demo(seeded):
    instance = ComputeInstance.objects.get(project__name="research", name="demo-workstation")
    assert (instance.connection, instance.owner.username) == ("local", "admin")


def test_every_demo_template_runs_inline_code_that_does_real_work(seeded):
    for version in TemplateVersion.objects.all():
        assert version.code_inline.startswith("#!/bin/sh\n")
        assert 'case "$1" in' in version.code_inline and "PAAS_OUTPUTS" in version.code_inline
