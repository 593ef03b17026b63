"""Health checks (SPEC §8, issue "services that stay true"): a running service's code is asked
for its state (``<entry> status``), and a change of state is an event.

Checks run as a worker runs them (``check_service_health``, ``check_health.call``) on the
local instance; tests/test_ssh_launch.py has them on a real SSH host, through real workers.
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from compute import services as compute
from compute.models import ComputeInstance, Service
from compute.tasks import check_health, check_service_health
from tests.test_compute_instances import HOST_KEY
from tests.test_launching import _sandbox, deploy, launch, profile, version, with_code  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ANSWERING = """#!/bin/sh
case "$1" in
  deploy) echo running > health ;;
  status) echo "looking"; cat health ;;
esac
"""


@pytest.fixture
def answering(version):
    return with_code(version, ANSWERING)


@pytest.fixture
def service(research, bob, answering, profile, workstation, tmp_path) -> Service:
    service = launch(research, bob, profile, workstation)
    assert deploy(service).state == "succeeded"
    return service


def health_file(service: Service, tmp_path):
    return tmp_path / "services" / "research" / service.name / "health"


@pytest.mark.parametrize("answer", ["stopped", "failed"])
def test_what_the_code_answers_is_the_services_state(service, tmp_path, answer):
    assert check_service_health(service) == "running"
    service.refresh_from_db()
    assert service.checked_at is not None
    assert not service.events.filter(detail__by="health check").exists(), "no change, no event"

    health_file(service, tmp_path).write_text(f"{answer}\n")
    assert check_service_health(service) == answer
    service.refresh_from_db()
    assert service.state == answer
    event = service.events.filter(action="state_changed").first()
    assert event.detail == {"from": "running", "to": answer, "by": "health check"}


def test_a_stopped_service_that_runs_again_is_running(service, tmp_path):
    health_file(service, tmp_path).write_text("stopped\n")
    check_service_health(service)
    service.refresh_from_db()
    health_file(service, tmp_path).write_text("running\n")
    assert check_service_health(service) == "running"


def test_code_that_does_not_answer_changes_nothing(service, tmp_path):
    health_file(service, tmp_path).write_text("who knows\n")
    assert check_service_health(service) == "running"
    service.refresh_from_db()
    assert service.state == "running" and service.checked_at is not None


def test_a_service_with_a_run_in_progress_is_not_checked(service, bob, tmp_path):
    health_file(service, tmp_path).write_text("stopped\n")
    compute.redeploy(service=service, actor=bob)
    service.refresh_from_db()
    service.state = "running"  # as a check that began before the redeploy saw it
    assert check_service_health(service) == "running"
    assert Service.objects.get(pk=service.pk).state == "pending"


def test_one_pass_checks_the_services_due_and_queues_the_next(service, tmp_path, settings):
    settings.COMPUTE_HEALTH_INTERVAL = 60
    health_file(service, tmp_path).write_text("stopped\n")
    assert check_health.call() == 1
    assert Service.objects.get(pk=service.pk).state == "stopped"
    assert check_health.call() == 0, "checked a moment ago: not due yet"
    queued = DBTaskResult.objects.filter(task_path="compute.tasks.check_health", status="READY")
    assert queued.exists(), "the next pass is queued while services are running"


def test_an_instance_found_unreachable_is_not_waited_for_twice(research, bob, profile, tmp_path):
    box = ComputeInstance.objects.create(
        project=research, name="gone", display_name="Gone", connection="ssh",
        host="127.0.0.1", port=1, username="u", host_key=HOST_KEY,
    )  # fmt: skip
    services = [launch(research, bob, profile, box, name=f"s{i}") for i in range(3)]
    Service.objects.filter(pk__in=[s.pk for s in services]).update(state="running")
    for service in services:
        service.runs.update(state="succeeded")
    memo: dict = {}
    for service in Service.objects.filter(pk__in=[s.pk for s in services]):
        assert check_service_health(service, unreachable=memo) == "unreachable"
    assert list(memo) == [box.pk]
    event = services[0].events.filter(action="state_changed").first()
    assert "refused the connection" in event.detail["reason"]


def test_looking_at_a_service_restarts_stalled_health_checks(client, service, bob):
    Service.objects.filter(pk=service.pk).update(checked_at=timezone.now() - timedelta(hours=1))
    DBTaskResult.objects.filter(task_path="compute.tasks.check_health").delete()
    client.force_login(bob)
    client.get(reverse("compute:service", args=["research", service.name]))
    assert DBTaskResult.objects.filter(
        task_path="compute.tasks.check_health", status="READY"
    ).exists()
