"""The launch form, the Services list and a service's page (SPEC §8), through the views.

Runs are not executed here (tests/test_launching.py does that); a service's state and outputs
are set as a worker would leave them.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compute import services as compute
from compute.models import Run, Service, ServiceEvent
from profiles.models import TemplateVersion
from tests.factories import make_profile, make_template

SECRET = "tok-secret-123"


@pytest.fixture
def version(system):
    version = make_template(
        system,
        "echo",
        variables=[
            {"name": "greeting", "value": "hello"},
            {"name": "gpu_count", "value": "1", "value_type": "number"},
            {"name": "region", "value": "eu", "override": "notallowed"},
            {"name": "flavour", "value": "a", "override": "restricted",
             "restricted_values": ["a", "b"]},
            {"name": "token", "value": SECRET, "sensitive": True},
        ],
        outputs=[{"name": "url"}, {"name": "password", "sensitive": True}],
    )  # fmt: skip
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline="#!/bin/sh\ntrue\n"
    )
    return version


@pytest.fixture
def profile(research, version, dave):
    return make_profile(research, "echo-service", version=version, actor=dave, status="ready")


def launch_url(profile, project="research"):
    return reverse("compute:launch", args=[project, profile.project.name, profile.name])


def service_url(name, project="research"):
    return reverse("compute:service", args=[project, name])


def launched(research, user, profile, workstation, name="my-echo") -> Service:
    return compute.launch(project=research, actor=user, profile=profile, name=name,
                          instance=workstation, submitted={})  # fmt: skip


def as_running(service: Service) -> Service:
    Run.objects.filter(service=service).update(state="succeeded", log="served\n")
    service.state = "running"
    service.outputs = [
        {"name": "url", "displayName": "URL", "sensitive": False, "value": "http://x/1"},
        {"name": "password", "displayName": "Password", "sensitive": True},
    ]
    service.output_secrets = json.dumps({"password": "pw-42"})
    service.save()
    return service


# The launch form ----------------------------------------------------------------------------


def test_the_launch_form_offers_the_inputs_a_user_may_set(client, bob, profile, workstation):
    client.force_login(bob)
    response = client.get(launch_url(profile))
    form = response.context["form"]
    assert [n for n in form.fields if n.startswith("var_")] == [
        "var_greeting", "var_gpu_count", "var_flavour", "var_token"
    ]  # fmt: skip
    html = response.content.decode()
    assert 'name="var_token"' in html and 'type="password"' in html
    assert SECRET not in html
    assert [c[0] for c in form.fields["var_flavour"].choices] == ["a", "b"]
    assert form.initial["name"] == "echo-service"


def test_launching_queues_the_service_and_opens_its_page(client, bob, profile, workstation):
    client.force_login(bob)
    data = {"name": "mine", "instance": workstation.pk, "var_greeting": "hi",
            "var_gpu_count": "2", "var_flavour": "b", "var_token": ""}  # fmt: skip
    response = client.post(launch_url(profile), data)
    service = Service.objects.get()
    assert response.status_code == 302
    assert response["Location"] == service_url("mine")
    assert (service.name, service.owner, service.state) == ("mine", bob, "pending")
    assert service.inputs == {"greeting": "hi", "gpu_count": "2", "flavour": "b", "region": "eu"}
    assert json.loads(service.secrets) == {"token": SECRET}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("var_gpu_count", "many", "GPU count: “many” is not a number."),
        ("var_flavour", "c", "Select a valid choice. c is not one of the available choices."),
        ("name", "Bad Name", "Use lowercase letters, digits and hyphens"),
    ],
)
def test_a_refused_launch_names_the_field_and_launches_nothing(
    client, bob, profile, workstation, field, value, message
):
    client.force_login(bob)
    data = {"name": "mine", "instance": workstation.pk, "var_flavour": "a", field: value}
    response = client.post(launch_url(profile), data)
    assert response.status_code == 400
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Service.objects.exists()


def test_a_notallowed_input_cannot_be_set_through_the_form(client, bob, profile, workstation):
    client.force_login(bob)
    data = {"name": "mine", "instance": workstation.pk, "var_flavour": "a", "var_region": "us"}
    assert client.post(launch_url(profile), data).status_code == 302
    assert Service.objects.get().inputs["region"] == "eu"  # the profile's value, not the sent one


def test_a_required_input_left_empty_is_refused_at_its_field(
    client, bob, research, system, dave, workstation
):
    version = make_template(system, "needs", variables=[
        {"name": "model", "required": True},
        {"name": "engine_args", "value_type": "json"},
        {"name": "verbose", "value": "false", "value_type": "boolean"},
    ])  # fmt: skip
    make_profile(research, "needs", version=version, actor=dave, status="ready")
    profile = research.serviceprofiles.get(name="needs")
    client.force_login(bob)
    data = {"name": "mine", "instance": workstation.pk, "var_model": "",
            "var_engine_args": "{oops", "var_verbose": "true"}  # fmt: skip
    errors = client.post(launch_url(profile), data).context["form"].errors
    assert errors["var_model"] == ["Model needs a value."]
    assert errors["var_engine_args"] == [
        "Engine args: This is not valid JSON: Expecting property name enclosed in double quotes."
    ]
    data |= {"var_model": "m", "var_engine_args": "{}", "var_verbose": "maybe"}
    errors = client.post(launch_url(profile), data).context["form"].errors
    assert errors == {
        "var_verbose": ["Select a valid choice. maybe is not one of the available choices."]
    }
    assert not Service.objects.exists()


def test_a_taken_service_name_is_refused_at_the_name(client, bob, profile, workstation):
    launched(profile.project, bob, profile, workstation, name="mine")
    client.force_login(bob)
    data = {"name": "mine", "instance": workstation.pk, "var_flavour": "a"}
    response = client.post(launch_url(profile), data)
    assert response.context["form"].errors["name"] == [
        "“mine” is taken in project research; pick another name."
    ]
    assert Service.objects.count() == 1


def test_without_a_compute_instance_the_form_says_to_register_one(client, bob, profile):
    client.force_login(bob)
    html = client.get(launch_url(profile)).content.decode()
    assert "This project has no compute instance yet." in html
    assert reverse("compute:instance_new", args=["research"]) in html


def test_a_draft_profile_has_no_launch_form(client, bob, research, version, dave):
    draft = make_profile(research, "drafty", version=version, actor=dave)
    client.force_login(bob)
    assert client.get(launch_url(draft)).status_code == 404


def test_the_catalog_page_has_the_launch_button(client, bob, profile):
    client.force_login(bob)
    url = reverse("catalog:detail", args=["research", "research", "echo-service"])
    assert launch_url(profile) in client.get(url).content.decode()


# The Services list --------------------------------------------------------------------------


def test_a_member_sees_only_their_own_services(client, bob, dave, research, profile, workstation):
    launched(research, bob, profile, workstation, name="bobs")
    launched(research, dave, profile, workstation, name="daves")
    client.force_login(bob)
    page = client.get(reverse("compute:services", args=["research"])).context["page"]
    assert [s.name for s in page] == ["bobs"]
    client.force_login(dave)
    page = client.get(reverse("compute:services", args=["research"])).context["page"]
    assert [s.name for s in page] == ["daves", "bobs"]


def test_the_list_is_searched_and_filtered_by_state(client, dave, research, profile, workstation):
    as_running(launched(research, dave, profile, workstation, name="alpha"))
    launched(research, dave, profile, workstation, name="beta")
    client.force_login(dave)
    url = reverse("compute:services", args=["research"])
    assert [s.name for s in client.get(url, {"q": "alp"}).context["page"]] == ["alpha"]
    assert [s.name for s in client.get(url, {"state": "pending"}).context["page"]] == ["beta"]


def test_the_list_has_an_empty_state(client, bob, research):
    client.force_login(bob)
    html = client.get(reverse("compute:services", args=["research"])).content.decode()
    assert "No services yet." in html


def test_the_list_costs_the_same_queries_for_3_or_30_services(
    client, dave, research, profile, workstation
):
    client.force_login(dave)
    url = reverse("compute:services", args=["research"])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    for number in range(3):
        launched(research, dave, profile, workstation, name=f"s-{number}")
    few = queries()
    for number in range(3, 30):
        launched(research, dave, profile, workstation, name=f"s-{number}")
    assert queries() == few


# A service's page ---------------------------------------------------------------------------


def test_another_members_service_is_a_404_and_an_admin_sees_it(
    client, bob, dave, research, profile, workstation
):
    service = launched(research, dave, profile, workstation)
    client.force_login(bob)
    assert client.get(service_url(service.name)).status_code == 404
    other = launched(research, bob, profile, workstation, name="bobs")
    client.force_login(dave)
    assert client.get(service_url(other.name)).status_code == 200


def test_the_page_polls_while_a_run_is_in_progress_and_stops_after(
    client, bob, research, profile, workstation
):
    service = launched(research, bob, profile, workstation)
    client.force_login(bob)
    fragment = client.get(service_url(service.name), headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert html.lstrip().startswith('<div id="live"') and 'hx-trigger="every 2s"' in html
    as_running(service)
    html = client.get(service_url(service.name), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in html
    assert "http://x/1" in html and "served" in html


def test_a_sensitive_output_is_hidden_until_its_owner_reveals_it(
    client, bob, research, profile, workstation
):
    service = as_running(launched(research, bob, profile, workstation))
    client.force_login(bob)
    assert "pw-42" not in client.get(service_url(service.name)).content.decode()
    url = reverse("compute:reveal_output", args=["research", service.name, "password"])
    response = client.post(url)
    assert "pw-42" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert ServiceEvent.objects.filter(service=service, action="output_revealed").exists()


def test_only_the_owner_reveals_a_sensitive_output(
    client, bob, dave, research, profile, workstation
):
    service = as_running(launched(research, bob, profile, workstation))
    client.force_login(dave)
    url = reverse("compute:reveal_output", args=["research", service.name, "password"])
    assert client.post(url).status_code == 403
    assert "pw-42" not in client.get(service_url(service.name)).content.decode()


def test_no_page_shows_a_sensitive_input_value(client, bob, research, profile, workstation):
    service = as_running(launched(research, bob, profile, workstation))
    client.force_login(bob)
    for url in [service_url(service.name), reverse("compute:services", args=["research"]),
                launch_url(profile)]:  # fmt: skip
        assert SECRET not in client.get(url).content.decode()


def test_the_page_shows_what_changed_since_the_pinned_revision(
    client, bob, dave, research, profile, workstation
):
    from profiles import services

    service = launched(research, bob, profile, workstation)
    services.save_general(profile=profile, actor=dave, expected_revision=1,
                          changes={"display_name": "Echo, renamed"})  # fmt: skip
    client.force_login(bob)
    response = client.get(service_url(service.name))
    assert [c["path"] for c in response.context["changes"]] == ["metadata.displayName"]
    assert "the profile is now at revision 2" in response.content.decode()


def test_destroy_asks_first_then_queues_the_destroy_run(
    client, bob, research, profile, workstation
):
    service = as_running(launched(research, bob, profile, workstation))
    client.force_login(bob)
    url = reverse("compute:destroy", args=["research", service.name])
    assert "Destroy my-echo?" in client.get(url).content.decode()
    assert client.post(url)["Location"] == service_url(service.name)
    service.refresh_from_db()
    assert service.state == "destroying"
    assert service.runs.filter(action="destroy", state="queued").exists()


def test_a_service_still_deploying_is_not_destroyed(client, bob, research, profile, workstation):
    service = launched(research, bob, profile, workstation)
    client.force_login(bob)
    response = client.post(reverse("compute:destroy", args=["research", service.name]), follow=True)
    assert "it can be destroyed once its run has finished" in response.content.decode()
    service.refresh_from_db()
    assert service.state == "pending"


def test_studio_shows_the_live_services_of_a_profile(
    client, bob, dave, research, profile, workstation
):
    as_running(launched(research, bob, profile, workstation, name="bobs"))
    destroyed = launched(research, dave, profile, workstation, name="gone")
    Service.objects.filter(pk=destroyed.pk).update(state="destroyed")
    client.force_login(dave)
    fragment = reverse("compute:profile_services", args=["research", "echo-service"])
    view = client.get(reverse("profiles:view", args=["research", "echo-service"])).content
    assert fragment in view.decode()
    html = client.get(fragment).content.decode()
    assert "1 service</strong> launched from this profile is live" in html
    assert "bobs" in html and "gone" not in html


def test_the_page_shows_a_run_whose_worker_died_as_failed(
    client, bob, research, profile, workstation, settings
):
    from django.utils import timezone

    settings.COMPUTE_RUN_LEASE_SECONDS = 30
    service = launched(research, bob, profile, workstation)
    long_ago = timezone.now() - timezone.timedelta(seconds=31)
    Run.objects.filter(service=service).update(state="running", heartbeat_at=long_ago)
    Service.objects.filter(pk=service.pk).update(state="deploying")
    client.force_login(bob)
    response = client.get(service_url(service.name))
    assert response.context["service"].state == "failed"
    assert "stopped without finishing" in response.content.decode()


def test_a_sensitive_input_typed_into_a_refused_launch_is_asked_for_again(
    client, bob, profile, workstation
):
    client.force_login(bob)
    data = {"name": "Not A Name", "instance": workstation.pk, "var_greeting": "hi",
            "var_gpu_count": "2", "var_flavour": "b", "var_token": "typed-secret-77"}  # fmt: skip
    response = client.post(launch_url(profile), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "typed-secret-77" not in html
    token = html[html.index('name="var_token"') :]
    assert "Not saved: this page reported an error, so type it again." in token[:1500]
    assert not Service.objects.exists()
