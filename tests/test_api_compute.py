"""Compute instances and services over the API (SPEC §8): documents, refusals, and secrets.

Every response in this file goes through a client that fails the test if a private key, a
sensitive input or a sensitive output shows up in it, in whatever format it was asked for.
"""

import json

import pytest
import yaml
from django.test import Client

from compute import services as compute
from compute.instance_forms import LOCAL_FOR_SUPERUSERS, MISSING
from compute.instance_views import LOCAL_NOT_YOURS, NOT_YOURS
from compute.models import ComputeInstance, Run, Service, ServiceEvent
from profiles.models import ProfileRevision
from studio.models import ApiKey
from tests.factories import make_profile, make_user
from tests.test_api_access import api_url, causes
from tests.test_compute_instances import HOST_KEY, KEY_LINE, PRIVATE_KEY, host_key_line

TEMPLATE_SECRET = "hf_template_secret"  # hf_token's value in notebook_version
USER_SECRET = "hf-user-secret-4711"
OUTPUT_SECRET = "output-secret-0815"
SECRETS = [KEY_LINE, TEMPLATE_SECRET, USER_SECRET, OUTPUT_SECRET]

INSTANCES = api_url("research", "computeinstances/")
BOX = api_url("research", "computeinstances/gpu-box-1")
SERVICES = api_url("research", "services/")


class ScanningClient(Client):
    """A client whose every response is checked for secrets."""

    def request(self, **request):
        response = super().request(**request)
        body = response.content.decode()
        leaked = [secret for secret in SECRETS if secret in body]
        assert leaked == [], f"{request['REQUEST_METHOD']} {request['PATH_INFO']} leaked"
        return response


def client_for(user) -> ScanningClient:
    _, token = ApiKey.issue(user=user, name="tests")
    return ScanningClient(headers={"X-API-KEY": token})


def send(client, method: str, url: str, body=None):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def other(research):
    """A second member of research."""
    return make_user("other", research="member")


def instance_document(**spec_connection) -> dict:
    connection = {
        "type": "ssh",
        "host": "gpu-box-1.lab.example.com",
        "port": 22,
        "username": "ubuntu",
        "privateKey": PRIVATE_KEY,
        "hostKey": HOST_KEY,
    } | spec_connection
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ComputeInstance",
        "metadata": {
            "name": "gpu-box-1",
            "project": "research",
            "displayName": "GPU box 1",
            "labels": {"site": "lab-2"},
        },
        "spec": {"gpus": "2x NVIDIA H100", "connection": connection},
    }


@pytest.fixture
def box(bob, research):
    """bob's ssh instance ``gpu-box-1`` in research, with a private key."""
    response = client_for(bob).post(INSTANCES, instance_document(), content_type="application/json")
    assert response.status_code == 201
    return ComputeInstance.objects.get(name="gpu-box-1")


# Compute instances: registering ---------------------------------------------------------------


def test_a_member_registers_an_instance_and_owns_it(bob, research):
    response = send(client_for(bob), "post", INSTANCES, instance_document())
    assert response.status_code == 201
    instance = ComputeInstance.objects.get(project=research, name="gpu-box-1")
    assert instance.owner == bob
    assert instance.private_key == PRIVATE_KEY


def test_a_registered_instance_reads_back_as_its_document(bob, research):
    document = send(client_for(bob), "post", INSTANCES, instance_document()).json()
    assert document == {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ComputeInstance",
        "metadata": {
            "name": "gpu-box-1",
            "project": "research",
            "displayName": "GPU box 1",
            "labels": {"site": "lab-2"},
        },
        "spec": {
            "gpus": "2x NVIDIA H100",
            "connection": {
                "type": "ssh",
                "host": "gpu-box-1.lab.example.com",
                "port": 22,
                "username": "ubuntu",
                "privateKey": "set",
                "hostKey": HOST_KEY,
            },
        },
        "status": {"checkedAt": None, "reachable": None, "probe": "", "owner": "bob"},
    }


def test_the_private_key_is_encrypted_at_rest(box):
    from tests.test_compute_instances import raw_column

    assert KEY_LINE not in raw_column(ComputeInstance, "private_key", box.pk)


def test_an_instance_without_a_key_reads_back_without_private_key(bob, research):
    document = instance_document()
    del document["spec"]["connection"]["privateKey"]
    response = send(client_for(bob), "post", INSTANCES, document)
    assert "privateKey" not in response.json()["spec"]["connection"]


def test_the_port_is_22_when_left_out(bob, research):
    document = instance_document()
    del document["spec"]["connection"]["port"]
    response = send(client_for(bob), "post", INSTANCES, document)
    assert response.json()["spec"]["connection"]["port"] == 22


def test_a_sent_status_is_ignored(bob, research):
    document = instance_document() | {"status": {"reachable": True, "probe": "forged"}}
    response = send(client_for(bob), "post", INSTANCES, document)
    assert response.status_code == 201
    assert response.json()["status"]["probe"] == ""


def test_yaml_registers_an_instance_too(bob, research):
    response = client_for(bob).post(
        INSTANCES, yaml.safe_dump(instance_document()), content_type="application/yaml"
    )
    assert response.status_code == 201


@pytest.mark.parametrize("username", ["bob", "dave"])
def test_only_superusers_register_a_local_instance(cast, research, username):
    document = instance_document()
    document["spec"]["connection"] = {"type": "local"}
    response = send(client_for(cast[username]), "post", INSTANCES, document)
    assert response.status_code == 400
    assert causes(response) == {"spec.connection.type": LOCAL_FOR_SUPERUSERS}
    assert not ComputeInstance.objects.exists()


def test_a_superuser_registers_a_local_instance(superuser, research):
    document = instance_document()
    document["spec"]["connection"] = {"type": "local"}
    response = send(client_for(superuser), "post", INSTANCES, document)
    assert response.status_code == 201
    assert response.json()["spec"]["connection"] == {"type": "local"}


def test_a_local_connection_takes_no_other_field(superuser, research):
    document = instance_document()
    document["spec"]["connection"] = {"type": "local", "host": "x", "privateKey": PRIVATE_KEY}
    response = send(client_for(superuser), "post", INSTANCES, document)
    assert causes(response) == {
        "spec.connection.host": "A local connection has no other fields: leave this out.",
        "spec.connection.privateKey": "A local connection has no other fields: leave this out.",
    }


def test_every_missing_ssh_field_is_named_at_once(bob, research):
    document = instance_document()
    document["spec"]["connection"] = {"type": "ssh", "host": "", "port": 22}
    response = send(client_for(bob), "post", INSTANCES, document)
    assert response.status_code == 400
    assert causes(response) == {
        "spec.connection.host": MISSING["host"],
        "spec.connection.username": MISSING["username"],
        "spec.connection.hostKey": MISSING["host_key"],
    }


@pytest.mark.parametrize(
    ("connection", "path", "message"),
    [
        ({"host": "bad host!"}, "spec.connection.host", "Enter a host name or IP address"),
        ({"host": " gpu-box-1"}, "spec.connection.host", "Enter a host name or IP address"),
        ({"username": "ubu ntu"}, "spec.connection.username", "A user name has letters"),
        ({"port": 0}, "spec.connection.port", "Ensure this value is greater than"),
        ({"port": "22"}, "spec.connection.port", "Enter a whole number"),
        ({"hostKey": "ssh-ed25519 not-base64!"}, "spec.connection.hostKey", "not valid base64"),
        ({"hostKey": "just words"}, "spec.connection.hostKey", "Paste the host's line"),
        ({"type": "telnet"}, "spec.connection.type", '"telnet" is not a valid choice.'),
        ({"privateKey": 12}, "spec.connection.privateKey", "Enter text"),
        ({"privateKey": "set"}, "spec.connection.privateKey", "No private key is stored"),
    ],
)
def test_a_bad_connection_field_is_400_at_its_path(bob, research, connection, path, message):
    response = send(client_for(bob), "post", INSTANCES, instance_document(**connection))
    assert response.status_code == 400
    assert list(causes(response)) == [path]
    assert causes(response)[path].startswith(message) or message in causes(response)[path]
    assert not ComputeInstance.objects.exists()


def test_a_broken_private_key_is_refused_without_repeating_it(bob, research):
    broken = "\n".join(PRIVATE_KEY.splitlines()[1:])
    response = send(client_for(bob), "post", INSTANCES, instance_document(privateKey=broken))
    assert list(causes(response)) == ["spec.connection.privateKey"]
    assert KEY_LINE not in response.content.decode()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"metadata": {"name": "Not A Slug", "displayName": "x"}}, "metadata.name"),
        ({"metadata": {"name": "gpu-box-1"}}, "metadata.displayName"),
        (
            {"metadata": {"name": "b", "displayName": "x", "labels": {"-bad": "x"}}},
            "metadata.labels",
        ),
        ({"metadata": {"name": "b", "displayName": "x", "project": "finance"}}, "metadata.project"),
        ({"metadata": {"name": "b", "displayName": "x", "colour": "red"}}, "metadata.colour"),
        ({"kind": "Service"}, "kind"),
        ({"spec": {"connection": {"type": "ssh"}, "gpus": 2}}, "spec.gpus"),
    ],
)
def test_a_bad_document_is_400_at_its_path(bob, research, change, path):
    response = send(client_for(bob), "post", INSTANCES, instance_document() | change)
    assert response.status_code == 400
    assert path in causes(response)
    assert not ComputeInstance.objects.exists()


def test_a_taken_name_is_409(box, bob):
    response = send(client_for(bob), "post", INSTANCES, instance_document())
    assert response.status_code == 409
    assert (
        response.json()["message"] == "“gpu-box-1” is taken in project research; pick another name."
    )


def test_the_same_name_may_be_used_in_another_project(box, carol):
    response = send(client_for(carol), "post", api_url("finance", "computeinstances/"), {
        **instance_document(), "metadata": {"name": "gpu-box-1", "displayName": "Mine"}
    })  # fmt: skip
    assert response.status_code == 201


# Compute instances: reading -------------------------------------------------------------------


def names(response) -> list[str]:
    return [item["metadata"]["name"] for item in response.json()["items"]]


@pytest.fixture
def boxes(research, finance, bob, dave):
    for name, owner, gpus in [
        ("alpha", bob, "1x L4"),
        ("beta", dave, "8x H100"),
        ("gamma", bob, ""),
    ]:
        ComputeInstance.objects.create(
            project=research, name=name, display_name=name.title(), owner=owner, gpus=gpus,
            connection="ssh", host="h", port=22, username="u", host_key=HOST_KEY,
        )  # fmt: skip
    ComputeInstance.objects.create(
        project=finance, name="delta", display_name="Delta", connection="local"
    )


def test_members_list_every_instance_of_their_project(boxes, other):
    response = client_for(other).get(INSTANCES)
    assert response.json()["kind"] == "ComputeInstanceList"
    assert response.json()["metadata"] == {"count": 3}
    assert names(response) == ["alpha", "beta", "gamma"]


@pytest.mark.parametrize(("q", "found"), [("h100", ["beta"]), ("GAM", ["gamma"]), ("zz", [])])
def test_the_list_searches_name_display_name_and_gpus(boxes, bob, q, found):
    assert names(client_for(bob).get(INSTANCES, {"q": q})) == found


def test_the_list_pages(boxes, bob):
    response = client_for(bob).get(INSTANCES, {"limit": 1, "offset": 1})
    assert (names(response), response.json()["metadata"]["count"]) == (["beta"], 3)


@pytest.mark.parametrize(
    ("params", "field"), [({"limit": 0}, "limit"), ({"q": "a\x00"}, "q"), ({"state": "x"}, "state")]
)
def test_bad_list_parameters_are_400_naming_them(boxes, bob, params, field):
    response = client_for(bob).get(INSTANCES, params)
    assert response.status_code == 400
    assert list(causes(response)) == [field]


def test_another_members_instance_can_be_read(box, other):
    response = client_for(other).get(BOX)
    assert response.status_code == 200
    assert response.json()["spec"]["connection"]["privateKey"] == "set"


def test_a_missing_instance_is_404(box, bob):
    response = client_for(bob).get(api_url("research", "computeinstances/nope"))
    assert (response.status_code, response.json()["kind"]) == (404, "Status")


# Compute instances: replacing, patching, removing ---------------------------------------------


def test_the_owner_replaces_their_instance_and_set_keeps_the_key(box, bob):
    document = client_for(bob).get(BOX).json()
    document["metadata"]["displayName"] = "Renamed"
    response = send(client_for(bob), "put", BOX, document)
    assert response.status_code == 200
    box.refresh_from_db()
    assert (box.display_name, box.private_key) == ("Renamed", PRIVATE_KEY)


def test_a_replace_without_private_key_removes_it(box, bob):
    document = instance_document()
    del document["spec"]["connection"]["privateKey"]
    response = send(client_for(bob), "put", BOX, document)
    assert "privateKey" not in response.json()["spec"]["connection"]
    box.refresh_from_db()
    assert box.private_key == ""


def test_a_replace_with_a_new_key_replaces_it(box, bob):
    new_key = PRIVATE_KEY.replace(KEY_LINE, "A" * len(KEY_LINE))
    send(client_for(bob), "put", BOX, instance_document(privateKey=new_key))
    box.refresh_from_db()
    assert box.private_key == new_key


def test_a_replace_cannot_change_the_name(box, bob):
    document = instance_document()
    document["metadata"]["name"] = "gpu-box-2"
    response = send(client_for(bob), "put", BOX, document)
    assert causes(response) == {"metadata.name": "The unique name cannot be changed."}


def test_a_refused_replace_changes_nothing(box, bob):
    before = list(ComputeInstance.objects.values())
    response = send(client_for(bob), "put", BOX, instance_document(host="bad host!"))
    assert response.status_code == 400
    assert list(ComputeInstance.objects.values()) == before


@pytest.mark.parametrize("username", ["dave", "admin"])
def test_admins_and_superusers_change_a_members_instance(box, cast, username):
    response = send(client_for(cast[username]), "patch", BOX, {"spec": {"gpus": "4x A100"}})
    assert response.status_code == 200
    box.refresh_from_db()
    assert (box.gpus, box.private_key, box.owner.username) == ("4x A100", PRIVATE_KEY, "bob")


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_another_member_gets_403_changing_an_instance(box, other, method):
    body = None if method == "delete" else instance_document()
    response = send(client_for(other), method, BOX, body)
    assert (response.status_code, response.json()["message"]) == (403, NOT_YOURS)
    assert ComputeInstance.objects.get(pk=box.pk).display_name == "GPU box 1"


def test_a_merge_patch_changes_only_what_it_names(box, bob):
    response = send(
        client_for(bob), "patch", BOX, {"metadata": {"labels": {"site": None, "a": "b"}}}
    )
    assert response.json()["metadata"]["labels"] == {"a": "b"}
    assert response.json()["metadata"]["displayName"] == "GPU box 1"


def test_a_patch_with_a_null_private_key_removes_it(box, bob):
    send(client_for(bob), "patch", BOX, {"spec": {"connection": {"privateKey": None}}})
    box.refresh_from_db()
    assert box.private_key == ""


def test_a_patch_that_is_not_an_object_is_400(box, bob):
    response = send(client_for(bob), "patch", BOX, ["x"])
    assert response.status_code == 400


def test_a_member_cannot_switch_their_instance_to_local(box, bob):
    cleared = dict.fromkeys(["host", "port", "username", "privateKey", "hostKey"])
    patch = {"spec": {"connection": {"type": "local", **cleared}}}
    response = send(client_for(bob), "patch", BOX, patch)
    assert causes(response) == {"spec.connection.type": LOCAL_FOR_SUPERUSERS}


@pytest.fixture
def workbench(research, dave):
    return ComputeInstance.objects.create(
        project=research, name="bench", display_name="Bench", owner=dave, connection="local"
    )


def test_only_a_superuser_changes_a_local_instance(workbench, dave, superuser):
    url = api_url("research", "computeinstances/bench")
    refused = send(client_for(dave), "patch", url, {"metadata": {"displayName": "Mine"}})
    assert (refused.status_code, refused.json()["message"]) == (403, LOCAL_NOT_YOURS)
    allowed = send(client_for(superuser), "patch", url, {"metadata": {"displayName": "Mine"}})
    assert allowed.json()["metadata"]["displayName"] == "Mine"


def test_the_owner_removes_their_instance(box, bob):
    response = client_for(bob).delete(BOX)
    assert response.status_code == 204
    assert not ComputeInstance.objects.exists()


# Services -------------------------------------------------------------------------------------


@pytest.fixture
def profile(research, notebook_version, dave):
    return make_profile(research, "team-notebook", version=notebook_version, actor=dave,
                        status="ready", display_name="Team Notebook")  # fmt: skip


def launch_document(name="my-notebook", variables=None, **spec) -> dict:
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "Service",
        "metadata": {"name": name, "project": "research"},
        "spec": {
            "serviceProfile": {"name": "team-notebook", "project": "research"},
            "computeInstance": "gpu-box-1",
            "variables": variables
            if variables is not None
            else [{"name": "notebook_profile", "value": "rapids"}],
        }
        | spec,
    }


def test_a_member_launches_a_service(box, profile, bob):
    response = send(client_for(bob), "post", SERVICES, launch_document())
    assert response.status_code == 201
    service = Service.objects.get(name="my-notebook")
    assert (service.owner, service.state, service.compute_instance) == (bob, "pending", box)
    assert service.runs.get().action == "deploy"
    assert service.inputs["notebook_profile"] == "rapids"


def test_a_launch_answers_with_the_service_document(box, profile, bob):
    document = send(client_for(bob), "post", SERVICES, launch_document()).json()
    created = Service.objects.get().created_at.isoformat().replace("+00:00", "Z")
    assert document == {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "Service",
        "metadata": {"name": "my-notebook", "project": "research"},
        "spec": {
            "serviceProfile": {"name": "team-notebook", "project": "research"},
            "computeInstance": "gpu-box-1",
            "variables": [
                {"name": "notebook_profile", "value": "rapids"},
                {"name": "image", "value": "nvcr.io/nvidia/pytorch:24.10-py3"},
                {"name": "gpu_count", "value": "1"},
                {"name": "enable_ssh", "value": "false"},
                {"name": "region", "value": "us-east"},
                {"name": "hf_token", "sensitive": True},
            ],
        },
        "status": {
            "state": "pending",
            "checkedAt": None,
            "profileRevision": 1,
            "outputs": [],
            "createdAt": created,
            "owner": "bob",
        },
    }


def test_a_sensitive_input_sent_at_launch_is_never_shown(box, profile, bob):
    variables = [{"name": "hf_token", "value": USER_SECRET}]
    response = send(client_for(bob), "post", SERVICES, launch_document(variables=variables))
    assert response.status_code == 201
    assert json.loads(Service.objects.get().secrets) == {"hf_token": USER_SECRET}


def test_a_launch_document_read_back_launches_again_under_another_name(box, profile, bob):
    client = client_for(bob)
    document = send(client, "post", SERVICES, launch_document()).json()
    document["metadata"]["name"] = "my-notebook-2"
    assert send(client, "post", SERVICES, document).status_code == 201
    second = Service.objects.get(name="my-notebook-2")
    assert json.loads(second.secrets) == {"hf_token": TEMPLATE_SECRET}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            [{"name": "notebook_profile", "value": "keras"}],
            {
                "spec.variables[0].value": (
                    "Notebook profile must be one of: pytorch, tensorflow, rapids."
                )
            },
        ),
        (
            [{"name": "image", "value": "x"}, {"name": "gpu_count", "value": "many"}],
            {"spec.variables[1].value": "GPU count: “many” is not a number."},
        ),
        (
            [{"name": "region", "value": "eu-west"}],
            {
                "spec.variables[0].value": (
                    "Region is set by the profile and cannot be changed at launch."
                )
            },
        ),
        (
            [{"name": "colour", "value": "red"}],
            {"spec.variables": "“colour” is not an input of this profile."},
        ),
        (
            [{"name": "image", "value": "a"}, {"name": "image", "value": "b"}],
            {"spec.variables": "“image” is given twice."},
        ),
        (
            [{"name": "image"}],
            {
                "spec.variables[0].value": (
                    "Give the input's value (or leave the input out for its default)."
                )
            },
        ),
    ],
    ids=["restricted", "number", "notallowed", "unknown", "twice", "no-value"],
)
def test_refused_inputs_are_400_at_their_path(box, profile, bob, variables, expected):
    response = send(client_for(bob), "post", SERVICES, launch_document(variables=variables))
    assert response.status_code == 400
    assert causes(response) == expected
    assert not Service.objects.exists()


def test_a_required_input_left_empty_is_named(box, profile, bob):
    response = send(
        client_for(bob),
        "post",
        SERVICES,
        launch_document(variables=[{"name": "gpu_count", "value": ""}]),
    )
    assert causes(response) == {"spec.variables[0].value": "GPU count needs a value."}


def test_a_required_input_without_a_value_that_was_not_sent_is_named_at_variables(
    box, profile, bob
):
    revision = profile.revisions.get(number=profile.revision)
    for item in revision.document["spec"]["inputs"]:
        if item["name"] == "gpu_count":
            item["value"] = ""
    ProfileRevision.objects.filter(pk=revision.pk).update(document=revision.document)
    response = send(client_for(bob), "post", SERVICES, launch_document())
    assert causes(response) == {"spec.variables": "gpu_count: GPU count needs a value."}


def test_a_bad_sensitive_value_is_refused_without_repeating_it(box, profile, bob, notebook_version):
    hf = notebook_version.variables.get(name="hf_token")
    hf.value_type = "number"
    hf.save()
    variables = [{"name": "hf_token", "value": USER_SECRET}]
    response = send(client_for(bob), "post", SERVICES, launch_document(variables=variables))
    assert response.status_code == 400
    assert list(causes(response)) == ["spec.variables[0].value"]


def test_a_taken_service_name_is_409(box, profile, bob):
    client = client_for(bob)
    send(client, "post", SERVICES, launch_document())
    response = send(client, "post", SERVICES, launch_document())
    assert response.status_code == 409
    assert (
        response.json()["message"]
        == "“my-notebook” is taken in project research; pick another name."
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"computeInstance": "nope"},
            {"spec.computeInstance": "Project research has no compute instance “nope”."},
        ),
        (
            {"serviceProfile": {"name": "nope", "project": "research"}},
            {
                "spec.serviceProfile": (
                    "The catalog of research has no profile “nope” of project research."
                )
            },
        ),
    ],
)
def test_an_unknown_profile_or_instance_is_400(box, profile, bob, change, expected):
    response = send(client_for(bob), "post", SERVICES, launch_document(**change))
    assert causes(response) == expected


def test_a_draft_profile_cannot_be_launched(box, profile, bob):
    profile.status = "draft"
    profile.save()
    response = send(client_for(bob), "post", SERVICES, launch_document())
    assert list(causes(response)) == ["spec.serviceProfile"]


def test_another_projects_instance_cannot_be_launched_onto(box, profile, bob, finance):
    ComputeInstance.objects.create(
        project=finance, name="theirs", display_name="T", connection="local"
    )
    response = send(client_for(bob), "post", SERVICES, launch_document(computeInstance="theirs"))
    assert list(causes(response)) == ["spec.computeInstance"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"metadata": {"name": "Bad Name"}}, "metadata.name"),
        ({"metadata": {"name": "ok", "project": "finance"}}, "metadata.project"),
        ({"metadata": {"name": "ok", "owner": "me"}}, "metadata.owner"),
        ({"spec": {"computeInstance": "gpu-box-1"}}, "spec.serviceProfile"),
    ],
)
def test_a_bad_launch_document_is_400_at_its_path(box, profile, bob, change, path):
    response = send(client_for(bob), "post", SERVICES, launch_document() | change)
    assert response.status_code == 400
    assert path in causes(response)


# Services: reading, destroying, runs ----------------------------------------------------------


@pytest.fixture
def running(box, profile, bob):
    """bob's ``my-notebook``, deployed: a public and a sensitive output, a finished run."""
    service = compute.launch(project=box.project, actor=bob, profile=profile, name="my-notebook",
                             instance=box, submitted={"hf_token": USER_SECRET})  # fmt: skip
    Service.objects.filter(pk=service.pk).update(
        state="running",
        outputs=[
            {
                "name": "url",
                "displayName": "Notebook URL",
                "sensitive": False,
                "value": "http://nb",
            },
            {"name": "token", "displayName": "Access token", "sensitive": True},
        ],
        output_secrets=json.dumps({"token": OUTPUT_SECRET}),
    )
    service.runs.update(state="succeeded", exit_code=0, log="deploy with ***\n")
    service.refresh_from_db()
    return service


def test_the_owner_reads_their_service_with_its_outputs(running, bob):
    response = client_for(bob).get(api_url("research", "services/my-notebook"))
    assert response.json()["status"]["outputs"] == [
        {"name": "url", "displayName": "Notebook URL", "value": "http://nb"},
        {"name": "token", "displayName": "Access token", "sensitive": True},
    ]


def test_another_members_service_is_404(running, other):
    response = client_for(other).get(api_url("research", "services/my-notebook"))
    assert response.status_code == 404
    assert "my-notebook" not in response.content.decode()


def test_a_member_lists_their_own_services_and_admins_all(running, profile, other, dave, box):
    compute.launch(project=box.project, actor=other, profile=profile, name="others",
                   instance=box, submitted={})  # fmt: skip
    assert names(client_for(other).get(SERVICES)) == ["others"]
    assert names(client_for(dave).get(SERVICES)) == ["others", "my-notebook"]


@pytest.mark.parametrize(
    ("params", "found"),
    [({"state": "running"}, ["my-notebook"]), ({"state": "pending"}, ["later"]),
     ({"q": "LATER"}, ["later"]), ({"q": "gpu-box"}, ["later", "my-notebook"])],
)  # fmt: skip
def test_the_service_list_searches_and_filters_by_state(running, profile, bob, box, params, found):
    compute.launch(project=box.project, actor=bob, profile=profile, name="later",
                   instance=box, submitted={})  # fmt: skip
    assert names(client_for(bob).get(SERVICES, params)) == found


@pytest.mark.parametrize("params", [{"state": "sleeping"}, {"state": ""}, {"limit": "x"}])
def test_bad_service_list_parameters_are_400(running, bob, params):
    response = client_for(bob).get(SERVICES, params)
    assert response.status_code == 400
    assert list(causes(response)) == list(params)


@pytest.mark.parametrize("username", ["bob", "dave"])
def test_the_owner_or_an_admin_destroys_a_service(running, cast, username):
    response = client_for(cast[username]).delete(api_url("research", "services/my-notebook"))
    assert response.status_code == 202
    assert response.json()["status"]["state"] == "destroying"
    assert running.runs.filter(action="destroy", state="queued").exists()
    event = ServiceEvent.objects.get(action="destroy_requested")
    assert event.actor == cast[username]


def test_a_service_whose_run_is_in_progress_cannot_be_destroyed(box, profile, bob):
    send(client_for(bob), "post", SERVICES, launch_document())
    response = client_for(bob).delete(api_url("research", "services/my-notebook"))
    assert response.status_code == 409
    assert response.json()["message"] == (
        "my-notebook is pending; it can be destroyed once its run has finished."
    )


def test_another_member_cannot_destroy_a_service(running, other):
    response = client_for(other).delete(api_url("research", "services/my-notebook"))
    assert response.status_code == 404
    assert Service.objects.get().state == "running"


def test_an_instance_with_a_live_service_cannot_be_removed(running, bob):
    response = client_for(bob).delete(BOX)
    assert response.status_code == 409
    assert response.json()["message"] == (
        "gpu-box-1 was not removed: services are live on it. Destroy them first."
    )
    assert ComputeInstance.objects.filter(name="gpu-box-1").exists()


def test_the_runs_are_listed_newest_first_with_their_logs(running, bob):
    Run.objects.create(service=running, action="destroy", state="failed", exit_code=3,
                       error="It broke.", log="destroy\n")  # fmt: skip
    response = client_for(bob).get(api_url("research", "services/my-notebook/runs/"))
    assert response.json()["kind"] == "ServiceRunList"
    assert response.json()["metadata"] == {"count": 2}
    first, second = response.json()["items"]
    assert first == {
        "action": "destroy",
        "state": "failed",
        "exitCode": 3,
        "error": "It broke.",
        "startedAt": None,
        "finishedAt": None,
        "log": "destroy\n",
    }
    assert (second["action"], second["log"]) == ("deploy", "deploy with ***\n")


def test_another_members_runs_are_404(running, other):
    response = client_for(other).get(api_url("research", "services/my-notebook/runs/"))
    assert response.status_code == 404


# Secrets: nowhere, whoever asks and in whatever format -----------------------------------------


@pytest.mark.parametrize("username", ["admin", "dave", "bob", "other"])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_no_response_holds_a_secret(running, cast, other, username, fmt):
    user = other if username == "other" else cast[username]
    client = client_for(user)  # it fails on any secret in any response
    urls = [
        INSTANCES,
        BOX,
        SERVICES,
        api_url("research", "services/my-notebook"),
        api_url("research", "services/my-notebook/runs/"),
    ]
    statuses = [client.get(url, {"format": fmt}).status_code for url in urls]
    assert statuses[:3] == [200, 200, 200]
    send(client, "patch", BOX, {"metadata": {"displayName": "GPU box 1"}})
    send(client, "put", BOX, instance_document(host="bad host!"))


def test_the_host_key_reads_back_as_it_was_sent(bob, research):
    host_key = host_key_line("gpu-box-2")
    document = instance_document(hostKey=host_key)
    document["metadata"]["name"] = "gpu-box-2"
    response = send(client_for(bob), "post", INSTANCES, document)
    assert response.json()["spec"]["connection"]["hostKey"] == host_key
