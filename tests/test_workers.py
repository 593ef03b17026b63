"""Real workers (``manage.py db_worker`` processes) against the test database (PostgreSQL in
CI): every run is executed exactly once however many workers share the queue, and a worker
killed mid-run leaves its run failed, with the reason, within the lease."""

import os
import signal
import time
from collections.abc import Callable

import pytest

from compute import services as compute
from compute.models import ComputeInstance, Run, Service
from profiles.models import TemplateVersion
from tests.factories import make_profile, make_template

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"Still waiting after {seconds} s for {what}."
        time.sleep(0.2)


@pytest.fixture
def setup(research, system, bob, settings):
    settings.COMPUTE_RUN_LEASE_SECONDS = 3

    def profile(name: str, script: str, **extra):
        version = make_template(system, name)
        TemplateVersion.objects.filter(pk=version.pk).update(
            code_repository="", code_path="", code_revision="", code_inline=script
        )
        version.refresh_from_db()
        return make_profile(research, name, version=version, status="ready", extra_config=extra)

    instance = ComputeInstance.objects.create(
        project=research, name="demo-workstation", display_name="Demo", connection="local"
    )
    return profile, instance, bob


def test_two_workers_execute_twenty_launches_each_exactly_once(research, setup, workers, tmp_path):
    make, instance, bob = setup
    executions = tmp_path / "executions.log"
    profile = make("counter", '#!/bin/sh\necho "$PAAS_SERVICE" >> "$EXECUTIONS"\n',
                   EXECUTIONS=str(executions))  # fmt: skip
    for number in range(20):
        compute.launch(project=research, actor=bob, profile=profile, name=f"svc-{number}",
                       instance=instance, submitted={})  # fmt: skip
    workers("worker-a")
    workers("worker-b")
    wait_for(lambda: not Run.objects.exclude(state__in=["succeeded", "failed"]).exists(),
             120, "all 20 runs to finish")  # fmt: skip

    assert set(Run.objects.values_list("state", flat=True)) == {"succeeded"}
    assert set(Service.objects.values_list("state", flat=True)) == {"running"}
    lines = executions.read_text().split()
    assert sorted(lines) == sorted(f"svc-{number}" for number in range(20))  # once each
    assert all(Run.objects.values_list("worker", flat=True))  # each claimed by a worker


def test_a_worker_killed_mid_run_leaves_the_run_failed_within_the_lease(
    research, setup, workers, tmp_path
):
    make, instance, bob = setup
    pids = tmp_path / "pids"
    profile = make(
        "sleeper",
        '#!/bin/sh\nif [ "$1" = deploy ]; then echo $$ >> "$PIDS"; echo started; sleep 60; fi\n',
        PIDS=str(pids),
    )
    service = compute.launch(project=research, actor=bob, profile=profile, name="sleepy",
                             instance=instance, submitted={})  # fmt: skip
    first = workers("worker-a")
    wait_for(lambda: "started" in Run.objects.get().log, 30, "the deploy to start")
    os.killpg(first.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    for pid in pids.read_text().split():  # the code's own process group outlives the worker
        os.killpg(int(pid), signal.SIGKILL)

    workers("worker-b")
    wait_for(lambda: Run.objects.get().state == "failed", 3 + 10, "the run to be failed")
    assert time.monotonic() - killed_at < 3 + 10
    run = Run.objects.get()
    assert run.error.startswith("The worker running it (")
    assert "stopped without finishing: no sign of life for 3 seconds." in run.error
    service.refresh_from_db()
    assert service.state == "failed"

    destroy = compute.destroy(service=service, actor=bob)
    wait_for(lambda: Run.objects.get(pk=destroy.pk).state == "succeeded", 30, "the destroy")
    service.refresh_from_db()
    assert service.state == "destroyed"
