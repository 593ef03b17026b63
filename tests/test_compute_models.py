"""The database's own rules for what runs (SPEC §8): compute/models.py constraints."""

import pytest
from django.db import IntegrityError, transaction

from compute.models import ComputeInstance, Run, Service
from tests.factories import make_profile

SSH = {"host": "gpu-box-1.lab.example.com", "port": 22, "username": "ubuntu",
       "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample"}  # fmt: skip


def instance(project, name="gpu-box-1", **fields):
    fields = {"display_name": "GPU box 1", "connection": "ssh", **SSH} | fields
    return ComputeInstance.objects.create(project=project, name=name, **fields)


def refused(make) -> str:
    """What the database said refusing ``make()``; a check constraint is named in it."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    return str(caught.value)


def test_an_ssh_instance_with_everything_is_saved(research):
    assert instance(research).connection == "ssh"


@pytest.mark.parametrize("missing", ["host", "username"])
def test_an_ssh_instance_needs_its_connection_details(research, missing):
    assert "connection_complete" in refused(lambda: instance(research, **{missing: ""}))


@pytest.mark.parametrize("port", [None, 0, 65536])
def test_an_ssh_port_is_from_1_to_65535(research, port):
    assert "connection_complete" in refused(lambda: instance(research, port=port))


def test_a_local_instance_has_no_connection_details(research):
    local = {"connection": "local", "host": "", "port": None, "username": "", "host_key": ""}
    assert instance(research, **local).is_local
    assert "connection_complete" in refused(
        lambda: instance(research, "other", **(local | {"host": "x"}))
    )


def test_instance_names_are_unique_in_a_project_only(research, finance):
    instance(research)
    instance(finance)
    refused(lambda: instance(research))  # the project's unique name constraint


def test_an_instance_name_follows_the_naming_rule(research):
    assert "name_format" in refused(lambda: instance(research, name="GPU_box"))


@pytest.fixture
def service(research, notebook_version, dave):
    profile = make_profile(research, "team-notebook", version=notebook_version, actor=dave)
    return Service.objects.create(
        project=research,
        owner=dave,
        name="my-notebook",
        profile=profile,
        profile_owner="research",
        profile_name=profile.name,
        revision=profile.revision,
        document=profile.revisions.get().document,
        code_inline="#!/bin/sh\necho hi\n",
        compute_instance=instance(research),
        instance_name="gpu-box-1",
        state="pending",
    )


def test_a_service_has_one_run_in_progress_at_most(service):
    Run.objects.create(service=service, action="deploy")
    refused(lambda: Run.objects.create(service=service, action="destroy"))


def test_a_finished_run_leaves_room_for_the_next(service):
    Run.objects.create(service=service, action="deploy", state="failed")
    Run.objects.create(service=service, action="deploy", state="succeeded")
    assert Run.objects.create(service=service, action="destroy").state == "queued"


def test_a_service_runs_inline_code_or_repository_code(service):
    service.code_repository = "https://git.example.com/t.git"
    assert "one_code_reference" in refused(service.save)


def test_an_unknown_service_state_is_refused(service):
    service.state = "sleeping"
    assert "state_valid" in refused(service.save)


def test_deleting_the_profile_leaves_the_service_with_what_it_pinned(service):
    service.profile.delete()
    service.refresh_from_db()
    assert service.profile is None
    assert (service.profile_name, service.revision) == ("team-notebook", 1)
    assert service.document["metadata"]["name"] == "team-notebook"
