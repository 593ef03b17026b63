"""Launching a service and running its code in the background (SPEC §8): compute/services.py
and compute/tasks.py, with the local driver running real processes.

Runs are executed as a worker executes them (``execute_run.call``) in transactional tests: the
heartbeat writes from its own thread and connection, as in a worker.
"""

import json

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from compute import services as compute
from compute.inputs import InputProblems
from compute.models import ComputeInstance, Run, Service, ServiceEvent
from compute.tasks import execute_run, reap_stale_runs
from profiles import services
from profiles.models import TemplateVersion
from tests.factories import make_profile, make_template

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SCRIPT = """#!/bin/sh
set -e
echo "$1 $PAAS_SERVICE at revision $PAAS_REVISION with $PAAS_VAR_greeting"
echo "token is $PAAS_VAR_token"
if [ "$1" = deploy ]; then
  echo "runs=$(( $(cat runs 2>/dev/null || echo 0) + 1 ))" > runs.env
  echo "url=http://127.0.0.1:9/$PAAS_SERVICE" >> "$PAAS_OUTPUTS"
  echo "secret_out=s3" >> "$PAAS_OUTPUTS"
  echo "stray=1" >> "$PAAS_OUTPUTS"
  [ "$PAAS_VAR_greeting" != fail ] || { echo "the greeting says fail" >&2; exit 3; }
else
  echo "destroyed by revision $PAAS_REVISION" > destroyed.txt
fi
"""


@pytest.fixture(autouse=True)
def _sandbox(settings, tmp_path):
    settings.COMPUTE_LOCAL_ROOT = str(tmp_path / "services")
    settings.COMPUTE_RUN_TIME_LIMIT = 20


def with_code(version: TemplateVersion, script: str) -> TemplateVersion:
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline=script
    )
    version.refresh_from_db()
    return version


@pytest.fixture
def version(system):
    return with_code(
        make_template(
            system,
            "echo",
            variables=[
                {"name": "greeting", "value": "hello"},
                {"name": "token", "value": "tok-123", "sensitive": True},
            ],
            outputs=[{"name": "url"}, {"name": "secret_out", "sensitive": True}],
        ),
        SCRIPT,
    )


@pytest.fixture
def profile(research, version, dave):
    return make_profile(research, "echo-service", version=version, actor=dave, status="ready")


def launch(research, bob, profile, workstation, name="my-echo", **submitted) -> Service:
    return compute.launch(
        project=research,
        actor=bob,
        profile=profile,
        name=name,
        instance=workstation,
        submitted=submitted,
    )


def deploy(service: Service) -> Run:
    run = service.runs.get(action="deploy")
    assert execute_run.call(run.pk) in {"succeeded", "failed"}
    run.refresh_from_db()
    service.refresh_from_db()
    return run


def test_a_launch_pins_the_revision_its_code_and_its_inputs(research, bob, profile, workstation):
    service = launch(research, bob, profile, workstation, greeting="hi")
    assert (service.state, service.revision, service.owner) == ("pending", 1, bob)
    assert service.code_inline == SCRIPT
    assert service.inputs == {"greeting": "hi"}
    assert json.loads(service.secrets) == {"token": "tok-123"}
    assert service.value_types == {"greeting": "text", "token": "text"}
    assert [r.action for r in service.runs.all()] == ["deploy"]
    assert ServiceEvent.objects.get(service=service).action == "launched"


def test_the_deploy_is_queued_for_the_workers_once_the_launch_is_committed(
    research, bob, profile, workstation
):
    service = launch(research, bob, profile, workstation)
    queued = DBTaskResult.objects.get(task_path="compute.tasks.execute_run")
    assert queued.args_kwargs == {"args": [service.runs.get().pk], "kwargs": {}}


def test_while_a_run_is_in_progress_one_reaper_is_queued_for_half_a_lease_later(
    research, bob, profile, workstation, settings
):
    settings.COMPUTE_RUN_LEASE_SECONDS = 60
    launch(research, bob, profile, workstation)
    launch(research, bob, profile, workstation, name="second")
    reaper = DBTaskResult.objects.get(task_path="compute.tasks.reap_runs")
    wait = (reaper.run_after - reaper.enqueued_at).total_seconds()
    assert 29 < wait < 31


def test_a_deploy_runs_the_code_and_the_service_runs_with_its_outputs(
    research, bob, profile, workstation
):
    service = launch(research, bob, profile, workstation)
    run = deploy(service)
    assert (run.state, run.exit_code, run.error) == ("succeeded", 0, "")
    assert service.state == "running"
    assert service.outputs == [
        {"name": "url", "displayName": "URL", "sensitive": False,
         "value": "http://127.0.0.1:9/my-echo"},
        {"name": "secret_out", "displayName": "Secret out", "sensitive": True},
    ]  # fmt: skip
    assert json.loads(service.output_secrets) == {"secret_out": "s3"}
    assert "deploy my-echo at revision 1 with hello" in run.log
    assert "(output “stray” is not one the profile shows; ignored)" in run.log
    states = [e.detail.get("to") for e in service.events.order_by("pk") if e.detail.get("to")]
    assert states == ["deploying", "running"]


def test_sensitive_input_values_never_reach_the_log(research, bob, profile, workstation):
    run = deploy(launch(research, bob, profile, workstation))
    assert "token is ***" in run.log
    assert "tok-123" not in run.log


def test_a_run_delivered_twice_is_executed_once(research, bob, profile, workstation):
    service = launch(research, bob, profile, workstation)
    run = deploy(service)
    assert execute_run.call(run.pk) == "not claimed"
    run.refresh_from_db()
    assert run.log.count("deploy my-echo") == 1


def test_code_that_fails_leaves_the_service_failed_with_its_log(
    research, bob, profile, workstation
):
    service = launch(research, bob, profile, workstation, greeting="fail")
    run = deploy(service)
    assert (run.state, run.exit_code) == ("failed", 3)
    assert run.error == "The code exited with status 3."
    assert "the greeting says fail" in run.log
    assert (service.state, service.outputs) == ("failed", [])


def test_destroy_runs_the_pinned_code_even_after_the_profile_changed_and_is_gone(
    research, bob, dave, profile, workstation, tmp_path
):
    service = launch(research, bob, profile, workstation)
    deploy(service)
    newer = with_code(make_template(research, "other"), "#!/bin/sh\necho other code\n")
    services.save_general(
        profile=profile, actor=dave, expected_revision=1, changes={"template_version": newer}
    )
    services.delete_profile(profile=profile, actor=dave)

    run = compute.destroy(service=service, actor=bob)
    assert execute_run.call(run.pk) == "succeeded"
    service.refresh_from_db()
    assert (service.state, service.revision, service.profile) == ("destroyed", 1, None)
    run.refresh_from_db()
    assert run.log.startswith("destroy my-echo at revision 1 with ")
    assert "other code" not in run.log
    # What the service had on the instance, its working folder included, is gone.
    assert not (tmp_path / "services/research/my-echo").exists()


def test_a_service_is_destroyed_only_once_its_run_has_finished(research, bob, profile, workstation):
    service = launch(research, bob, profile, workstation)
    with pytest.raises(compute.RunRefused, match="can be destroyed once its run"):
        compute.destroy(service=service, actor=bob)


def test_a_run_whose_worker_died_is_failed_with_the_reason(
    research, bob, profile, workstation, settings
):
    settings.COMPUTE_RUN_LEASE_SECONDS = 30
    service = launch(research, bob, profile, workstation)
    long_ago = timezone.now() - timezone.timedelta(seconds=31)
    Run.objects.filter(service=service).update(
        state="running", worker="box:4242", started_at=long_ago, heartbeat_at=long_ago
    )
    assert reap_stale_runs() == 1
    run = service.runs.get()
    service.refresh_from_db()
    assert run.state == "failed"
    assert run.error == (
        "The worker running it (box:4242) stopped without finishing: no sign of life for 30 "
        "seconds."
    )
    assert service.state == "failed"
    compute.destroy(service=service, actor=bob)  # and it can be destroyed


def test_a_fresh_heartbeat_keeps_the_run(research, bob, profile, workstation):
    service = launch(research, bob, profile, workstation)
    Run.objects.filter(service=service).update(state="running", heartbeat_at=timezone.now())
    assert reap_stale_runs() == 0


def test_a_draft_profile_cannot_be_launched(research, bob, version, dave, workstation):
    draft = make_profile(research, "draft-one", version=version, actor=dave)
    with pytest.raises(compute.LaunchRefused, match="no longer in the catalog"):
        launch(research, bob, draft, workstation)
    assert not Service.objects.exists()


def test_a_taken_name_is_refused_at_the_name(research, bob, profile, workstation):
    launch(research, bob, profile, workstation)
    with pytest.raises(compute.LaunchRefused) as refused:
        launch(research, bob, profile, workstation)
    assert refused.value.field == "name"
    assert str(refused.value) == "“my-echo” is taken in project research; pick another name."


def test_an_instance_of_another_project_is_refused(research, finance, bob, profile):
    elsewhere = ComputeInstance.objects.create(
        project=finance, name="theirs", display_name="Theirs", connection="local"
    )
    with pytest.raises(compute.LaunchRefused) as refused:
        launch(research, bob, profile, elsewhere)
    assert refused.value.field == "instance"


def test_refused_inputs_launch_nothing(research, bob, profile, workstation):
    with pytest.raises(InputProblems) as refused:
        launch(research, bob, profile, workstation, nope="1")
    assert list(refused.value.problems) == ["nope"]
    assert not Service.objects.exists() and not Run.objects.exists()
