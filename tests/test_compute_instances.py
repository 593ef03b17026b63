"""The Compute Instances pages (SPEC §8): list, register, detail, edit, test connection, remove.

Every member sees the project's instances and may register one; only the owner, the project's
admins and superusers change, test or remove one (403 for other members, who can see it);
only superusers register or edit a ``local`` one. The private key is encrypted at rest and
never comes back into a page. Outsiders get 404, anonymous users the login page.
"""

import base64
import os
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compute import instance_urls
from compute.instance_forms import ComputeInstanceForm
from compute.instance_views import PAGE_SIZE
from compute.models import ComputeInstance, InstanceCheck, Service
from compute.tasks import run_check
from tests.factories import make_profile, make_user


def host_key_line(host: str = "gpu-box-1.lab.example.com") -> str:
    """A line as ``ssh-keyscan -t ed25519`` prints it (the key's data is made up)."""
    kind = b"ssh-ed25519"
    blob = len(kind).to_bytes(4, "big") + kind + (32).to_bytes(4, "big") + bytes(range(32))
    return f"{host} ssh-ed25519 {base64.b64encode(blob).decode()}"


PRIVATE_KEY = (
    Ed25519PrivateKey.generate()
    .private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    .decode()
)
# A line from the middle of the key: what would show if any part of it leaked.
KEY_LINE = PRIVATE_KEY.splitlines()[2]
HOST_KEY = host_key_line()
SSH = {
    "connection": "ssh",
    "host": "gpu-box-1.lab.example.com",
    "port": 22,
    "username": "ubuntu",
    "host_key": HOST_KEY,
}
LOCAL = {"connection": "local", "host": "", "port": None, "username": "", "host_key": ""}
# What the form posts for a local instance: the SSH boxes left empty.
LOCAL_FORM = LOCAL | {"port": "", "private_key": ""}


def make_instance(project, name="gpu-box-1", *, owner=None, **fields) -> ComputeInstance:
    fields = {"display_name": name.replace("-", " ").title(), **SSH} | fields
    return ComputeInstance.objects.create(project=project, name=name, owner=owner, **fields)


def make_service(instance, name="my-notebook", *, version, state="running", owner=None):
    profile = make_profile(instance.project, f"p-{name}", version=version)
    return Service.objects.create(
        project=instance.project,
        owner=owner,
        owner_name=owner.get_username() if owner else "",
        name=name,
        profile=profile,
        profile_owner=instance.project.name,
        profile_name=profile.name,
        revision=profile.revision,
        document=profile.revisions.get().document,
        code_inline="#!/bin/sh\necho hi\n",
        compute_instance=instance,
        instance_name=instance.name,
        state=state,
    )


def url(name: str, project: str = "research", *args: str) -> str:
    return reverse(f"compute:{name}", args=[project, *args])


def form_data(**overrides) -> dict:
    """What the register form posts for an SSH instance with everything."""
    data = {
        "name": "gpu-box-1",
        "display_name": "GPU box 1",
        "gpus": "2x NVIDIA H100",
        "labels-key": ["zone"],
        "labels-value": ["lab-1"],
        "connection": "ssh",
        "host": "gpu-box-1.lab.example.com",
        "port": "22",
        "username": "ubuntu",
        "private_key": PRIVATE_KEY,
        "host_key": HOST_KEY,
    }
    return data | overrides


def edit_data(instance: ComputeInstance, **overrides) -> dict:
    data = form_data(display_name=instance.display_name, private_key="") | overrides
    del data["name"]
    return data


def raw_column(model, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def as_bob(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def as_superuser(client, superuser):
    client.force_login(superuser)
    return client


# The list ---------------------------------------------------------------------------------------


def listed(response) -> list[str]:
    return [i.name for i in response.context["page"].object_list]


def test_list_shows_the_projects_instances_only(as_bob, research, finance, dave):
    make_instance(research, "gpu-box-1", owner=dave, gpus="2x NVIDIA H100")
    make_instance(research, "cpu-box", owner=dave)
    make_instance(finance, "finance-box")
    response = as_bob.get(url("instances"))
    assert response.status_code == 200
    assert listed(response) == ["cpu-box", "gpu-box-1"]
    html = response.content.decode()
    assert "finance-box" not in html
    assert "2x NVIDIA H100" in html
    assert "ubuntu@gpu-box-1.lab.example.com" in html
    assert "dave" in html  # the owner
    assert "Register compute instance" in html


def test_empty_list_offers_to_register(as_bob):
    html = as_bob.get(url("instances")).content.decode()
    assert "No compute instances yet" in html
    assert url("instance_new") in html


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("gpu-box", ["gpu-box-1"]),  # unique name
        ("lab machine", ["gpu-box-1"]),  # display name, every word
        ("h100", ["gpu-box-1"]),  # GPUs, any case
        ("A100", ["cpu-box"]),
        ("box", ["cpu-box", "gpu-box-1"]),
    ],
)
def test_search_finds_by_name_display_name_or_gpus(as_bob, research, q, found):
    make_instance(research, "gpu-box-1", display_name="Lab machine", gpus="2x NVIDIA H100")
    make_instance(research, "cpu-box", display_name="Spare", gpus="1x NVIDIA A100")
    assert listed(as_bob.get(url("instances"), {"q": q})) == found


def test_a_search_without_match_says_so(as_bob, research):
    make_instance(research)
    html = as_bob.get(url("instances"), {"q": "tpu"}).content.decode()
    assert "No compute instance matches “tpu”." in html
    assert "Clear the search" in html


def test_htmx_search_gets_only_the_results(as_bob, research):
    make_instance(research)
    response = as_bob.get(url("instances"), {"q": "gpu"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def bulk_instances(project, count: int, owners=None) -> None:
    ComputeInstance.objects.bulk_create(
        ComputeInstance(
            project=project,
            name=f"box-{n:03}",
            display_name=f"Box {n}",
            owner=owners[n % len(owners)] if owners else None,
            **SSH,
        )
        for n in range(count)
    )


def test_twenty_instances_fit_on_one_page(as_bob, research):
    bulk_instances(research, PAGE_SIZE)
    response = as_bob.get(url("instances"))
    assert len(listed(response)) == 20
    assert response.context["page"].paginator.num_pages == 1
    assert 'aria-label="Pages"' not in response.content.decode()


def test_the_twenty_first_goes_to_page_two(as_bob, research):
    bulk_instances(research, PAGE_SIZE + 1)
    first = as_bob.get(url("instances"))
    assert listed(first)[-1] == "box-019"
    assert "Page 1 of 2" in first.content.decode()
    assert "?page=2" in first.content.decode()
    assert listed(as_bob.get(url("instances"), {"page": 2})) == ["box-020"]


@pytest.mark.parametrize(
    ("page", "shown"), [("99", "box-020"), ("abc", "box-000"), ("-1", "box-020")]
)
def test_a_page_out_of_range_shows_the_nearest(as_bob, research, page, shown):
    bulk_instances(research, PAGE_SIZE + 1)
    assert listed(as_bob.get(url("instances"), {"page": page}))[0] == shown


def test_pages_keep_the_search(as_bob, research):
    bulk_instances(research, PAGE_SIZE + 5)
    html = as_bob.get(url("instances"), {"q": "box"}).content.decode()
    assert "?q=box&amp;page=2" in html


def test_the_list_runs_the_same_queries_for_3_and_30_instances(client, research, bob):
    client.force_login(bob)
    owners = [make_user(f"owner{n}", research="member") for n in range(5)]

    def queries(count: int) -> int:
        ComputeInstance.objects.all().delete()
        bulk_instances(research, count, owners)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url("instances"))
        assert len(listed(response)) == min(count, PAGE_SIZE)
        return len(captured.captured_queries)

    assert queries(3) == queries(30)


# Registering ------------------------------------------------------------------------------------


def test_a_member_registers_an_ssh_instance_and_owns_it(as_bob, research, bob):
    response = as_bob.post(url("instance_new"), form_data())
    instance = ComputeInstance.objects.get(project=research, name="gpu-box-1")
    assert response.status_code == 302
    assert response["Location"] == url("instance", "research", "gpu-box-1")
    assert instance.owner == bob
    assert (instance.display_name, instance.gpus, instance.labels) == (
        "GPU box 1",
        "2x NVIDIA H100",
        {"zone": "lab-1"},
    )
    assert (instance.connection, instance.host, instance.port, instance.username) == (
        "ssh",
        "gpu-box-1.lab.example.com",
        22,
        "ubuntu",
    )
    assert instance.host_key == HOST_KEY
    assert instance.private_key == PRIVATE_KEY
    assert "Registered gpu-box-1." in messages_of(response)[0]


def test_the_form_starts_with_ssh_on_port_22(as_bob):
    form = as_bob.get(url("instance_new")).context["form"]
    assert form["connection"].value() == "ssh"
    assert form["port"].value() == 22


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("host", "An SSH connection needs the host&#x27;s name or address."),
        ("port", "An SSH connection needs a port from 1 to 65535."),
        ("username", "An SSH connection needs the user name to sign in as."),
    ],
)
def test_each_missing_ssh_field_is_a_field_error_and_nothing_is_saved(as_bob, missing, message):
    response = as_bob.post(url("instance_new"), form_data(**{missing: ""}))
    assert response.status_code == 400
    form = response.context["form"]
    assert list(form.errors) == [missing]
    assert message in response.content.decode()
    assert not ComputeInstance.objects.exists()


def test_the_name_of_the_new_instance_page_is_refused(as_bob):
    """An instance named ``new`` could not be opened: its page's URL is the form's."""
    response = as_bob.post(url("instance_new"), form_data(name="new"))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["name"]
    assert "the page that creates one" in response.content.decode()
    assert not ComputeInstance.objects.exists()


def test_every_missing_ssh_field_is_named_at_once(as_bob):
    data = form_data(host="", port="", username="", host_key="")
    response = as_bob.post(url("instance_new"), data)
    assert set(response.context["form"].errors) == {"host", "port", "username"}
    assert not response.context["form"].non_field_errors()


def test_an_ssh_instance_may_be_registered_before_its_host_key_is_trusted(as_bob, bob):
    response = as_bob.post(url("instance_new"), form_data(host_key=""))
    assert response.status_code == 302
    instance = ComputeInstance.objects.get()
    assert instance.host_key == ""
    html = as_bob.get(response["Location"]).content.decode()
    assert "not trusted yet" in html
    assert "No host key is trusted yet: nothing can run on this instance until one is." in html


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"port": "0"}, "port"),
        ({"port": "65536"}, "port"),
        ({"port": "ssh"}, "port"),
        ({"host": "gpu box"}, "host"),
        ({"host": "ubuntu@gpu-box"}, "host"),
        ({"username": "ubuntu root"}, "username"),
        ({"host_key": "not a key"}, "host_key"),
        ({"host_key": "gpu-box ssh-ed25519 %%%notbase64"}, "host_key"),
        ({"host_key": HOST_KEY.replace("ssh-ed25519", "ssh-rsa")}, "host_key"),
        ({"name": "GPU_box"}, "name"),
        ({"name": ""}, "name"),
        ({"display_name": "   "}, "display_name"),
        ({"labels-key": ["bad key!"], "labels-value": ["x"]}, "labels"),
        ({"labels-key": ["zone", "zone"], "labels-value": ["a", "b"]}, "labels"),
        ({"connection": "ftp"}, "connection"),
        ({"connection": ""}, "connection"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(as_bob, fields, bad):
    response = as_bob.post(url("instance_new"), form_data(**fields))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [bad]
    assert not ComputeInstance.objects.exists()


def test_a_broken_private_key_is_refused_without_repeating_it(as_bob):
    broken = "\n".join(PRIVATE_KEY.splitlines()[1:])  # the BEGIN line was not copied
    response = as_bob.post(url("instance_new"), form_data(private_key=broken))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["private_key"]
    assert KEY_LINE not in response.content.decode()
    assert not ComputeInstance.objects.exists()


def test_a_taken_name_is_a_field_error(as_bob, research):
    make_instance(research, "gpu-box-1")
    response = as_bob.post(url("instance_new"), form_data())
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        "“gpu-box-1” is taken in project research; pick another name."
    ]
    assert ComputeInstance.objects.count() == 1


def test_a_name_taken_while_the_form_was_checked_is_a_field_error(as_bob, research, monkeypatch):
    make_instance(research, "gpu-box-1")  # registered in another tab after the form's own check
    monkeypatch.setattr(ComputeInstanceForm, "clean_name", lambda form: form.cleaned_data["name"])
    response = as_bob.post(url("instance_new"), form_data())
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["name"]
    assert ComputeInstance.objects.count() == 1


def test_the_same_name_may_be_used_in_another_project(as_bob, finance):
    make_instance(finance, "gpu-box-1")
    assert as_bob.post(url("instance_new"), form_data()).status_code == 302


def test_a_member_is_not_offered_local(as_bob):
    html = as_bob.get(url("instance_new")).content.decode()
    assert 'value="ssh"' in html
    assert 'value="local"' not in html
    assert "Local (the portal's own workers) is for superusers only." in html


def test_a_member_cannot_register_a_local_instance(as_bob):
    response = as_bob.post(url("instance_new"), form_data(**LOCAL_FORM))
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["connection"]
    assert "Only a superuser may register a local compute instance" in response.content.decode()
    assert not ComputeInstance.objects.exists()


def test_a_project_admin_cannot_register_a_local_instance_either(client, dave):
    client.force_login(dave)
    response = client.post(url("instance_new"), form_data(**LOCAL_FORM))
    assert response.status_code == 400
    assert not ComputeInstance.objects.exists()


def test_a_superuser_registers_a_local_instance_without_ssh_details(as_superuser, superuser):
    # What was typed into the SSH boxes does not count for a local connection.
    response = as_superuser.post(url("instance_new"), form_data(connection="local", port="0"))
    assert response.status_code == 302
    instance = ComputeInstance.objects.get(name="gpu-box-1")
    assert instance.is_local
    assert (instance.host, instance.port, instance.username) == ("", None, "")
    assert (instance.private_key, instance.host_key) == ("", "")
    assert instance.owner == superuser


def test_a_superuser_is_offered_local(as_superuser):
    assert 'value="local"' in as_superuser.get(url("instance_new")).content.decode()


# The private key --------------------------------------------------------------------------------


def test_the_private_key_is_encrypted_at_rest(as_bob):
    as_bob.post(url("instance_new"), form_data())
    instance = ComputeInstance.objects.get()
    stored = raw_column(ComputeInstance, "private_key", instance.pk)
    assert stored.startswith("fernet:")
    assert KEY_LINE not in stored
    assert "PRIVATE KEY" not in stored


def test_the_private_key_appears_in_no_page_after_save(as_bob):
    response = as_bob.post(url("instance_new"), form_data(), follow=True)
    pages = {
        "after save": response,
        "list": as_bob.get(url("instances")),
        "detail": as_bob.get(url("instance", "research", "gpu-box-1")),
        "edit": as_bob.get(url("instance_edit", "research", "gpu-box-1")),
        "remove": as_bob.get(url("instance_delete", "research", "gpu-box-1")),
    }
    instance = ComputeInstance.objects.get()
    # An edit refused for another field, with a new key typed: that key is not echoed either.
    other_key = (
        Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
        .decode()
    )
    pages["edit refused"] = as_bob.post(
        url("instance_edit", "research", "gpu-box-1"),
        edit_data(instance, host="", private_key=other_key),
    )
    assert pages["edit refused"].status_code == 400
    for page, response in pages.items():
        html = response.content.decode()
        assert KEY_LINE not in html, page
        assert other_key.splitlines()[2] not in html, page
    assert "Private key: set" in pages["edit"].content.decode()
    assert '<span class="badge text-bg-secondary">set</span>' in pages["detail"].content.decode()


def test_editing_with_an_empty_key_keeps_it(as_bob, research, bob):
    instance = make_instance(research, owner=bob, private_key=PRIVATE_KEY)
    response = as_bob.post(
        url("instance_edit", "research", instance.name),
        edit_data(instance, display_name="Renamed", private_key=""),
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.display_name == "Renamed"
    assert instance.private_key == PRIVATE_KEY


def test_editing_with_a_new_key_replaces_it(as_bob, research, bob):
    instance = make_instance(research, owner=bob, private_key="old")
    as_bob.post(
        url("instance_edit", "research", instance.name),
        edit_data(instance, private_key=PRIVATE_KEY.replace("\n", "\r\n")),
    )
    instance.refresh_from_db()
    assert instance.private_key == PRIVATE_KEY


def test_the_edit_form_says_when_no_key_is_stored(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    html = as_bob.get(url("instance_edit", "research", instance.name)).content.decode()
    assert "Private key: not set" in html


# Editing ----------------------------------------------------------------------------------------


def test_editing_never_changes_the_project_or_the_name(as_bob, research, finance, bob):
    instance = make_instance(research, owner=bob)
    response = as_bob.post(
        url("instance_edit", "research", instance.name),
        edit_data(instance, name="renamed", project=str(finance.pk), gpus="8x NVIDIA B200"),
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.project, instance.name, instance.gpus) == (
        research,
        "gpu-box-1",
        "8x NVIDIA B200",
    )
    assert instance.owner == bob


def test_the_edit_page_shows_the_name_read_only(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    response = as_bob.get(url("instance_edit", "research", instance.name))
    assert "name" not in response.context["form"].fields
    assert 'id="unique-name"' in response.content.decode()
    assert 'value="gpu-box-1" readonly' in response.content.decode()


def test_a_refused_edit_changes_nothing(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    response = as_bob.post(
        url("instance_edit", "research", instance.name),
        edit_data(instance, display_name="Renamed", port="70000"),
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["port"]
    instance.refresh_from_db()
    assert (instance.display_name, instance.port) == ("Gpu Box 1", 22)


def test_a_member_cannot_switch_an_instance_to_local(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    response = as_bob.post(
        url("instance_edit", "research", instance.name), edit_data(instance, **LOCAL_FORM)
    )
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["connection"]
    instance.refresh_from_db()
    assert instance.connection == "ssh"


def test_only_a_superuser_edits_a_local_instance(client, research, dave, superuser):
    instance = make_instance(research, "local-box", owner=dave, **LOCAL)
    client.force_login(dave)  # the project's admin, and the owner
    assert client.get(url("instance_edit", "research", instance.name)).status_code == 403
    detail = client.get(url("instance", "research", instance.name)).content.decode()
    assert url("instance_edit", "research", instance.name) not in detail
    client.force_login(superuser)
    response = client.post(
        url("instance_edit", "research", instance.name),
        {"display_name": "Portal workers", "connection": "local"},
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert instance.display_name == "Portal workers"


def test_a_project_admin_edits_a_members_instance(client, research, dave, bob):
    instance = make_instance(research, owner=bob)
    client.force_login(dave)
    response = client.post(
        url("instance_edit", "research", instance.name), edit_data(instance, gpus="1x L40S")
    )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.gpus, instance.owner) == ("1x L40S", bob)


# Another member's instance: seen, not changed -------------------------------------------------


@pytest.fixture
def daves_box(research, dave):
    return make_instance(research, "daves-box", owner=dave, private_key=PRIVATE_KEY)


def test_another_members_instance_can_be_seen(as_bob, daves_box):
    response = as_bob.get(url("instance", "research", daves_box.name))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Daves Box" in html
    assert url("instance_edit", "research", daves_box.name) not in html
    assert url("instance_test", "research", daves_box.name) not in html
    assert url("instance_delete", "research", daves_box.name) not in html


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("instance_edit", "get"),
        ("instance_edit", "post"),
        ("instance_test", "post"),
        ("instance_delete", "get"),
        ("instance_delete", "post"),
    ],
)
def test_a_member_who_does_not_own_it_gets_403(as_bob, daves_box, name, method):
    target = url(name, "research", daves_box.name)
    body = edit_data(daves_box, display_name="Hijacked") | {"confirm": daves_box.name}
    response = as_bob.get(target) if method == "get" else as_bob.post(target, body)
    assert response.status_code == 403
    assert "Only the instance&#x27;s owner" in response.content.decode()
    daves_box.refresh_from_db()
    assert daves_box.display_name == "Daves Box"
    assert daves_box.checked_at is None


# Test connection -------------------------------------------------------------------------------


def run_checks() -> list[str]:
    """Do the queued checks as a worker does; what each came to."""
    queued = InstanceCheck.objects.filter(state="queued").order_by("pk")
    return [run_check.call(pk) for pk in queued.values_list("pk", flat=True)]


def test_testing_a_local_instance_stores_the_probe(client, research, superuser, settings, tmp_path):
    settings.COMPUTE_LOCAL_ROOT = str(tmp_path)
    instance = make_instance(research, "local-box", owner=superuser, **LOCAL)
    client.force_login(superuser)
    response = client.post(url("instance_test", "research", instance.name))
    assert response.status_code == 302
    assert response["Location"] == url("instance", "research", instance.name)
    # The request only queues the test; the page says it is under way and polls.
    html = client.get(response["Location"]).content.decode()
    assert "Testing the connection…" in html and 'hx-trigger="every 1s"' in html
    assert run_checks() == ["succeeded"]
    instance.refresh_from_db()
    assert instance.reachable is True
    assert instance.checked_at is not None
    assert os.uname().sysname in instance.probe  # uname -a starts with the kernel's name
    html = client.get(response["Location"]).content.decode()
    assert "Reachable" in html and "every 1s" not in html
    assert f">{instance.probe.splitlines()[0]}" in html.replace("\n", "")


def test_a_second_test_while_one_is_queued_is_the_same_check(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    as_bob.post(url("instance_test", "research", instance.name))
    as_bob.post(url("instance_test", "research", instance.name))
    assert instance.checks.count() == 1


def test_testing_an_ssh_instance_that_refuses_says_so(as_bob, research, bob):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    instance = make_instance(research, owner=bob, host="127.0.0.1", port=1)
    as_bob.post(url("instance_test", "research", instance.name))
    assert run_checks() == ["failed"]
    instance.refresh_from_db()
    assert instance.reachable is False
    assert instance.checked_at is not None
    check = instance.checks.get()
    assert check.problem == "refused"
    assert check.error == (
        "127.0.0.1:1 refused the connection: no SSH server listens on that port, or a "
        "firewall turns connections away."
    )
    html = as_bob.get(url("instance", "research", instance.name)).content.decode()
    assert "Unreachable" in html
    assert 'data-problem="refused"' in html and "127.0.0.1:1 refused the connection" in html


def test_testing_is_no_change_to_the_instance(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    before = instance.modified_at
    as_bob.post(url("instance_test", "research", instance.name))
    instance.refresh_from_db()
    assert instance.modified_at == before


def test_an_instance_never_tested_says_so(as_bob, research, bob):
    instance = make_instance(research, owner=bob)
    html = as_bob.get(url("instance", "research", instance.name)).content.decode()
    assert "Never tested." in html


# Removing ---------------------------------------------------------------------------------------


def test_removing_an_instance_with_live_services_is_refused(
    as_bob, research, bob, dave, notebook_version
):
    instance = make_instance(research, owner=bob)
    make_service(instance, "bobs-notebook", version=notebook_version, owner=bob)
    make_service(instance, "daves-notebook", version=notebook_version, owner=dave, state="pending")
    page = as_bob.get(url("instance_delete", "research", instance.name))
    html = page.content.decode()
    assert page.status_code == 200
    assert "cannot be removed" in html
    assert "2 live services are on" in html
    assert "bobs-notebook" in html
    assert "daves-notebook" not in html  # another member's service is not theirs to see
    assert "1 of them belongs to other members." in html
    assert 'name="confirm"' not in html

    response = as_bob.post(
        url("instance_delete", "research", instance.name), {"confirm": "gpu-box-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("instance", "research", instance.name)
    assert messages_of(response) == [
        "gpu-box-1 was not removed: services are live on it. Destroy them first."
    ]
    assert ComputeInstance.objects.filter(pk=instance.pk).exists()
    assert Service.objects.filter(compute_instance=instance).count() == 2


def test_removing_an_instance_without_live_services(as_bob, research, bob, notebook_version):
    instance = make_instance(research, owner=bob)
    gone = make_service(
        instance, "old-notebook", version=notebook_version, owner=bob, state="destroyed"
    )
    page = as_bob.get(url("instance_delete", "research", instance.name)).content.decode()
    assert "Remove Gpu Box 1?" in page
    response = as_bob.post(
        url("instance_delete", "research", instance.name), {"confirm": "gpu-box-1"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("instances")
    assert messages_of(response) == ["Removed gpu-box-1."]
    assert not ComputeInstance.objects.filter(pk=instance.pk).exists()
    gone.refresh_from_db()
    assert (gone.compute_instance, gone.instance_name) == (None, "gpu-box-1")


@pytest.mark.parametrize("typed", ["", "gpu-box", "gpu-box-1 ", "GPU-BOX-1"])
def test_removing_needs_the_exact_name(as_bob, research, bob, typed):
    instance = make_instance(research, owner=bob)
    response = as_bob.post(url("instance_delete", "research", instance.name), {"confirm": typed})
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["confirm"]
    assert ComputeInstance.objects.filter(pk=instance.pk).exists()


def test_the_detail_page_lists_the_services_on_it(as_bob, research, bob, notebook_version):
    instance = make_instance(research, owner=bob)
    make_service(instance, "bobs-notebook", version=notebook_version, owner=bob)
    html = as_bob.get(url("instance", "research", instance.name)).content.decode()
    assert url("service", "research", "bobs-notebook") in html
    assert "Running" in html


# Access: every URL × every kind of user × every project ---------------------------------------

PROJECTS = ["platform", "research", "finance", "system-catalog", "no-such-project"]

# user: {project: role}; the superuser ``admin`` is an admin everywhere, anyone else an outsider.
ROLES = {
    "admin": {"platform": "admin", "research": "admin", "finance": "admin"},
    "alice": {"platform": "admin"},
    "dave": {"research": "admin"},
    "bob": {"research": "member"},
    "carol": {"finance": "member"},
}
# Who owns each project's ``gpu-box``: carol owns hers as a plain member.
OWNERS = {"platform": "alice", "research": "dave", "finance": "carol"}


@dataclass(frozen=True)
class InstanceUrl:
    name: str
    on_instance: bool = True
    # method: what someone allowed gets (a POST of nothing useful redisplays a form: 400)
    allowed: dict[str, int] = field(default_factory=lambda: {"GET": 200})
    # only the owner, the project's admins and superusers (403 for other members)
    changes: bool = False

    # on a check of the instance (its "Fetch host key", which the ``boxes`` fixture queues)
    on_check: bool = False

    def url(self, project: str) -> str:
        args = ["gpu-box"] if self.on_instance else []
        if self.on_check:
            check = InstanceCheck.objects.filter(
                instance__project__name=project, instance__name="gpu-box"
            ).first()
            args.append(check.pk if check else 999_999)
        return reverse(f"compute:{self.name}", args=[project, *args])


FORM = {"GET": 200, "POST": 400}
INSTANCE_URLS = [
    InstanceUrl("instances", on_instance=False),
    InstanceUrl("instance_new", on_instance=False, allowed=FORM),
    InstanceUrl("instance"),
    InstanceUrl("instance_edit", allowed=FORM, changes=True),
    InstanceUrl("instance_test", allowed={"POST": 302}, changes=True),
    InstanceUrl("instance_fetch_key", allowed={"POST": 302}, changes=True),
    # The queued fetch has no key yet: trusting it is refused with a message on the page.
    InstanceUrl("instance_trust_key", allowed={"POST": 302}, changes=True, on_check=True),
    InstanceUrl("instance_delete", allowed=FORM, changes=True),
]


def test_every_instance_url_is_in_the_matrix():
    assert {p.name for p in instance_urls.urlpatterns} == {u.name for u in INSTANCE_URLS}


def expected_status(target: InstanceUrl, username: str | None, project: str, method: str) -> int:
    if method not in target.allowed:
        return 405
    if username is None:
        return 302
    role = ROLES[username].get(project)
    if role is None:
        return 404
    if target.changes and role != "admin" and OWNERS[project] != username:
        return 403
    return target.allowed[method]


@pytest.fixture
def boxes(cast, projects):
    """An SSH ``gpu-box`` in every project, owned as OWNERS says; returns the cast."""
    for name, project in projects.items():
        box = make_instance(project, "gpu-box", owner=cast[OWNERS[name]])
        InstanceCheck.objects.create(instance=box, kind="fetch_host_key", host=box.host, port=22)
    return cast


POST_BODY = {"submitted": "1"}


def send(client, method: str, target: str):
    return client.get(target) if method == "GET" else client.post(target, POST_BODY)


MATRIX = [
    pytest.param(target, method, id=f"{target.name}-{method}")
    for target in INSTANCE_URLS
    for method in ["GET", "POST"]
]


@pytest.mark.parametrize(("target", "method"), MATRIX)
def test_access_matrix(client, boxes, target, method):
    statuses, expected = {}, {}
    for username, user in boxes.items():
        client.force_login(user)
        for project in PROJECTS:
            cell = f"{username}@{project}"
            statuses[cell] = send(client, method, target.url(project)).status_code
            expected[cell] = expected_status(target, username, project, method)
    assert statuses == expected
    assert ComputeInstance.objects.count() == 3  # nothing was registered or removed


@pytest.mark.parametrize(("target", "method"), MATRIX)
def test_access_matrix_anonymous(client, boxes, target, method):
    statuses = {p: send(client, method, target.url(p)).status_code for p in PROJECTS}
    assert statuses == {p: expected_status(target, None, p, method) for p in PROJECTS}


@pytest.mark.parametrize("target", INSTANCE_URLS, ids=lambda u: u.name)
def test_anonymous_users_go_to_login_and_back(client, boxes, target):
    method = next(iter(target.allowed))
    location = target.url("research")
    response = send(client, method, location)
    assert response["Location"] == f"{reverse('login')}?next={location}"


def test_anonymous_posts_change_nothing(client, boxes):
    client.post(url("instance_new"), form_data(name="sneaky"))
    client.post(url("instance_delete", "research", "gpu-box"), {"confirm": "gpu-box"})
    client.post(url("instance_test", "research", "gpu-box"))
    assert (
        sorted(ComputeInstance.objects.values_list("name", "checked_at")) == [("gpu-box", None)] * 3
    )


@pytest.mark.parametrize(
    ("target", "method"),
    [(u, m) for u in INSTANCE_URLS for m in u.allowed],
    ids=[f"{u.name}-{m}" for u in INSTANCE_URLS for m in u.allowed],
)
def test_outsider_404_does_not_name_the_project_or_the_instance(client, boxes, target, method):
    client.force_login(boxes["carol"])
    response = send(client, method, target.url("research"))
    assert response.status_code == 404
    html = response.content.decode()
    assert "research" not in html.lower()
    assert "gpu-box" not in html


def test_an_outsider_cannot_register_into_another_project(client, boxes):
    client.force_login(boxes["carol"])
    response = client.post(url("instance_new"), form_data(name="sneaky"))
    assert response.status_code == 404
    assert not ComputeInstance.objects.filter(name="sneaky").exists()


def test_an_instance_of_another_project_is_a_404(client, boxes, finance):
    make_instance(finance, "finance-only")
    client.force_login(boxes["dave"])
    assert client.get(url("instance", "research", "finance-only")).status_code == 404


def test_an_owner_who_is_a_plain_member_may_change_their_instance(client, boxes):
    client.force_login(boxes["carol"])
    html = client.get(url("instance", "finance", "gpu-box")).content.decode()
    assert url("instance_edit", "finance", "gpu-box") in html
    assert url("instance_test", "finance", "gpu-box") in html
    assert url("instance_delete", "finance", "gpu-box") in html


def test_several_errors_are_summarised_with_a_link_to_each_field(as_bob):
    response = as_bob.post(url("instance_new"), form_data(host="", username="", port="70000"))
    assert response.status_code == 400
    html = response.content.decode()
    summary = html[html.index("data-error-summary") : html.index("</section>")]
    assert summary.count("<li") == 3
    for box in ("id_host", "id_port", "id_username"):
        assert f'href="#{box}"' in summary
    assert "Nothing was saved" in summary


def test_a_bad_label_is_refused_under_its_own_row(as_bob):
    data = form_data(**{"labels-key": ["zone", "Bad Key!"], "labels-value": ["lab-1", "x"]})
    response = as_bob.post(url("instance_new"), data)
    assert response.status_code == 400
    html = response.content.decode()
    bad = html[html.rindex("<input", 0, html.index('value="Bad Key!"')) :]
    bad = bad[: bad.index(">")]
    good = html[html.rindex("<input", 0, html.index('value="zone"')) :]
    good = good[: good.index(">")]
    assert 'aria-invalid="true"' in bad and 'aria-invalid="true"' not in good
    assert not ComputeInstance.objects.exists()


def test_a_private_key_typed_into_a_refused_form_is_asked_for_again(as_bob):
    response = as_bob.post(url("instance_new"), form_data(host=""))
    assert response.status_code == 400
    html = response.content.decode()
    assert PRIVATE_KEY.splitlines()[1] not in html, "never sent back into the page"
    assert "Not saved: this page reported an error, so type it again." in html
