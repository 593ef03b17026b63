"""Revisions, events and template reconciliation (SPEC §3), through profiles.services."""

import pytest

from profiles import services
from profiles.documents import changed_fields, profile_document
from profiles.models import ProfileEvent, ServiceProfile
from tests.factories import make_profile, make_template, make_variable


@pytest.fixture
def profile(platform, notebook_version, alice):
    return make_profile(platform, "acme", version=notebook_version, actor=alice)


def test_creation_writes_revision_one_and_a_created_event(profile, alice):
    revision = profile.revisions.get()
    assert (revision.number, revision.author) == (1, alice)
    assert revision.document["metadata"]["name"] == "acme"
    event = profile.events.get()
    assert (event.action, event.revision, event.actor_name) == ("created", 1, "alice")


def test_a_change_bumps_the_revision_and_names_the_changed_fields(profile, dave):
    profile.display_name = "ACME Notebook"
    profile.labels = {"team": "ml"}
    profile.save()
    assert services.commit_revision(profile=profile, actor=dave)
    profile.refresh_from_db()
    assert profile.revision == 2
    assert profile.modified_by == dave
    event = profile.events.order_by("-pk").first()
    assert event.action == "updated"
    assert event.detail["changed"] == ["metadata.displayName", "metadata.labels"]


def test_saving_without_a_change_writes_no_revision(profile, alice):
    assert not services.commit_revision(profile=profile, actor=alice)
    assert profile.revisions.count() == 1
    assert profile.events.count() == 1


def test_a_new_secret_is_a_change_without_showing_it(profile, alice):
    setting = profile.inputs.get(name="hf_token")
    setting.set_value("new-secret")
    setting.save()
    assert services.commit_revision(profile=profile, actor=alice)
    event = profile.events.order_by("-pk").first()
    assert event.detail["changed"] == ["spec.inputs (sensitive values)"]
    assert "new-secret" not in str(profile.revisions.get(number=2).document)


def test_snapshots_are_kept_per_revision(profile, alice):
    profile.description = "Second wording."
    profile.save()
    services.commit_revision(profile=profile, actor=alice)
    first, second = profile.revisions.order_by("number")
    assert first.document["metadata"]["description"] == ""
    assert second.document["metadata"]["description"] == "Second wording."
    assert second.document["metadata"]["revision"] == 2


def test_new_inputs_take_the_template_settings(profile, notebook_version):
    restricted = profile.inputs.get(name="notebook_profile")
    assert restricted.required
    assert restricted.override == "restricted"
    assert restricted.restricted_values == ["pytorch", "tensorflow", "rapids"]
    assert restricted.value == "pytorch"
    secret = profile.inputs.get(name="hf_token")
    assert secret.sensitive and secret.value == "" and secret.secret == "hf_template_secret"
    assert list(profile.outputs.values_list("name", "sensitive")) == [
        ("url", False),
        ("token", True),
    ]


def test_changing_version_reconciles_inputs_and_reports_them(profile, system):
    v2 = make_template(system, "jupyter-notebook", version="v2")
    make_variable(v2, "image", "nvcr.io/nvidia/pytorch:25.01-py3")
    make_variable(v2, "idle_timeout_minutes", "120", value_type="number")
    image = profile.inputs.get(name="image")
    image.display_name = "Container image"
    image.save()
    profile.template_version = v2
    profile.save()
    added, removed = services.reconcile_inputs(profile=profile)
    assert added == ["idle_timeout_minutes"]
    assert removed == ["enable_ssh", "gpu_count", "hf_token", "notebook_profile", "region"]
    assert profile.inputs.get(name="image").display_name == "Container image"
    assert profile.inputs.get(name="idle_timeout_minutes").value == "120"


def test_deletion_keeps_an_event_with_the_final_document(profile, alice, platform):
    pk = profile.pk
    services.delete_profile(profile=profile, actor=alice)
    assert not ServiceProfile.objects.filter(pk=pk).exists()
    event = ProfileEvent.objects.get(project=platform, profile_name="acme", action="deleted")
    assert event.profile is None
    assert event.detail["document"]["metadata"]["name"] == "acme"
    assert event.actor_name == "alice"
    # the earlier 'created' event survives too
    assert ProfileEvent.objects.filter(profile_name="acme", action="created").exists()


def test_document_has_the_spec_shape(profile, research):
    profile.sharing = "selected"
    profile.save()
    profile.shared_with.set([research])
    document = profile_document(profile)
    assert document["apiVersion"] == "paas.envmgmt.io/v1"
    assert document["kind"] == "ServiceProfile"
    assert document["spec"]["environmentTemplate"] == {"name": "jupyter-notebook", "version": "v1"}
    assert document["spec"]["sharing"] == {"type": "selected", "projects": ["research"]}
    restricted = document["spec"]["inputs"][0]
    assert restricted["override"] == {
        "type": "restricted",
        "restrictedValues": ["pytorch", "tensorflow", "rapids"],
    }
    assert document["status"]["createdBy"] == "alice"
    assert document["status"]["createdAt"].endswith("Z")


def test_secrets_appear_in_a_document_only_when_asked(profile):
    def hf_token(document):
        return next(i for i in document["spec"]["inputs"] if i["name"] == "hf_token")

    assert "value" not in hf_token(profile_document(profile))
    assert hf_token(profile_document(profile, include_secrets=True))["value"] == (
        "hf_template_secret"
    )


def test_changed_fields_ignores_bookkeeping(profile):
    before = profile_document(profile)
    after = profile_document(profile)
    after["metadata"]["revision"] = 7
    after["status"]["modifiedAt"] = "2030-01-01T00:00:00Z"
    assert changed_fields(before, after) == []
    after["status"]["state"] = "ready"
    assert changed_fields(before, after) == ["state"]
