"""Redeploy and update (SPEC §8): a running service deploys again at its pinned revision, or
moves to its profile's latest revision once the person has seen what changes.

Runs are executed as a worker executes them (``execute_run.call``) on the local instance.
"""

import json

import pytest
from django.urls import reverse

from compute import services as compute
from compute.inputs import InputProblems
from compute.models import Run, Service, ServiceEvent
from compute.tasks import execute_run
from profiles import services
from tests.test_launching import _sandbox, deploy, launch, profile, version  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def change_default(profile, actor, name: str, value: str, **fields) -> None:
    """A new revision of ``profile`` where the input ``name`` defaults to ``value``."""
    profile.refresh_from_db()
    row = profile.inputs.get(name=name)
    row.value = value
    for field, new in fields.items():
        setattr(row, field, new)
    services.save_inputs(
        profile=profile, actor=actor, expected_revision=profile.revision, inputs=[row]
    )
    profile.refresh_from_db()


@pytest.fixture
def running(research, bob, profile, workstation) -> Service:
    service = launch(research, bob, profile, workstation)
    assert deploy(service).state == "succeeded"
    return service


def execute_queued(service: Service) -> Run:
    """Execute the service's queued run as a worker would; the run, as it ended."""
    run = service.runs.get(state="queued")
    assert execute_run.call(run.pk) in {"succeeded", "failed"}
    run.refresh_from_db()
    service.refresh_from_db()
    return run


def test_a_redeploy_runs_the_pinned_revision_again(running, bob, dave, profile):
    change_default(profile, dave, "greeting", "bonjour")
    queued = compute.redeploy(service=running, actor=bob)
    running.refresh_from_db()
    assert running.state == "pending"
    run = execute_queued(running)
    assert (run.pk, run.state) == (queued.pk, "succeeded")
    assert "at revision 1 with hello" in run.log, "the pinned revision and its inputs"
    assert (running.state, running.revision) == ("running", 1)
    event = ServiceEvent.objects.filter(service=running, action="redeploy_requested").get()
    assert (event.actor, event.detail) == (bob, {"from": "running", "revision": 1})


def test_an_update_shows_what_changes_and_keeps_what_was_set_at_launch(
    research, bob, dave, profile, workstation
):
    service = launch(research, bob, profile, workstation, name="kept", greeting="hi there")
    deploy(service)
    change_default(profile, dave, "greeting", "bonjour", description="Say it")
    plan = compute.plan_update(service=service)
    assert plan.revision == 2
    assert [row["path"] for row in plan.changes] == ["spec.inputs"]
    assert plan.inputs == {}, "the value set at launch is kept"

    compute.update_service(service=service, actor=bob, revision=2)
    service.refresh_from_db()
    assert (service.state, service.revision, service.inputs) == (
        "pending",
        2,
        {"greeting": "hi there"},
    )
    assert json.loads(service.secrets) == {"token": "tok-123"}
    run = execute_queued(service)
    assert run.state == "succeeded", run.log
    assert "at revision 2 with hi there" in run.log
    event = ServiceEvent.objects.get(service=service, action="update_requested")
    assert event.detail == {"from": "running", "revision": 2, "previous_revision": 1}


def test_an_update_takes_the_new_default_where_the_launch_kept_the_old_one(
    running, bob, dave, profile
):
    change_default(profile, dave, "greeting", "bonjour")
    plan = compute.plan_update(service=running)
    assert plan.inputs == {"greeting": ("hello", "bonjour")}
    compute.update_service(service=running, actor=bob, revision=2)
    running.refresh_from_db()
    assert running.inputs == {"greeting": "bonjour"}


def test_an_update_is_refused_when_the_profile_moved_on_meanwhile(running, bob, dave, profile):
    change_default(profile, dave, "greeting", "bonjour")
    change_default(profile, dave, "greeting", "hola")
    with pytest.raises(compute.RunRefused, match="moved on to revision 3 meanwhile"):
        compute.update_service(service=running, actor=bob, revision=2)
    running.refresh_from_db()
    assert (running.revision, running.state) == (1, "running")


def test_an_update_whose_launch_values_no_longer_fit_is_refused(
    research, bob, dave, profile, workstation
):
    service = launch(research, bob, profile, workstation, name="misfit", greeting="hi")
    deploy(service)
    change_default(
        profile, dave, "greeting", "bonjour", override="restricted",
        restricted_values=["bonjour", "hola"],
    )  # fmt: skip
    with pytest.raises(InputProblems) as refused:
        compute.plan_update(service=service)
    assert refused.value.problems == {"greeting": ["Greeting must be one of: bonjour, hola."]}


def test_nothing_to_update_at_the_latest_revision(running):
    assert compute.plan_update(service=running) is None


def test_a_service_with_a_run_in_progress_is_not_redeployed(running, bob):
    compute.redeploy(service=running, actor=bob)
    with pytest.raises(compute.RunRefused, match="can be redeployed once its run has finished"):
        compute.redeploy(service=running, actor=bob)


# The page ------------------------------------------------------------------------------------


def test_the_redeploy_page_shows_the_diff_and_confirms_the_update(
    client, running, bob, dave, profile
):
    change_default(profile, dave, "greeting", "bonjour")
    client.force_login(bob)
    page = reverse("compute:redeploy", args=["research", running.name])
    html = client.get(page).content.decode()
    assert "Redeploy revision 1" in html and "Update to revision 2" in html
    assert "spec.inputs" in html and "bonjour" in html
    assert '<input type="hidden" name="revision" value="2">' in html

    response = client.post(page, {"to": "latest", "revision": "2"})
    assert response["Location"] == reverse("compute:service", args=["research", running.name])
    running.refresh_from_db()
    assert (running.revision, running.state) == (2, "pending")
    shown = client.get(response["Location"]).content.decode()
    assert "Updating my-echo to revision 2: its deploy is queued." in shown
    assert "Cancel deploy" in shown


def test_the_redeploy_page_says_when_there_is_nothing_to_update(client, running, bob):
    client.force_login(bob)
    html = client.get(reverse("compute:redeploy", args=["research", running.name])).content
    assert b"at the profile's latest revision, 1: there is nothing to update" in html


def test_the_service_page_offers_redeploy_and_cancel_when_they_apply(client, running, bob):
    client.force_login(bob)
    page = reverse("compute:service", args=["research", running.name])
    html = client.get(page).content.decode()
    assert "Redeploy" in html and "Cancel deploy" not in html
    client.post(reverse("compute:redeploy", args=["research", running.name]), {"to": "pinned"})
    html = client.get(page).content.decode()
    assert "Cancel deploy" in html
    assert 'href="/projects/research/services/my-echo/redeploy/"' not in html, "a run is on"


def test_cancelling_a_queued_deploy_destroys_what_it_would_have_made(client, running, bob):
    client.force_login(bob)
    compute.redeploy(service=running, actor=bob)
    response = client.post(reverse("compute:cancel", args=["research", running.name]))
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.state == "destroying"
    cancelled = running.runs.filter(action="deploy").order_by("-pk").first()
    assert (cancelled.state, cancelled.error) == ("failed", "Cancelled before it started.")
    assert execute_queued(running).action == "destroy"
    assert running.state == "destroyed"


def test_the_service_page_keeps_earlier_runs_with_their_errors(client, running, bob):
    client.force_login(bob)
    compute.redeploy(service=running, actor=bob)
    compute.cancel_run(service=running, actor=bob)
    execute_queued(running)
    html = client.get(reverse("compute:service", args=["research", running.name])).content
    html = html.decode()
    assert "Earlier runs" in html
    earlier = html[html.index('data-testid="earlier-runs"') :]
    assert earlier.index("Cancelled before it started.") < earlier.index("exit 0")
    assert "Cancel requested" in html and "(cancelled deploy)" in html
