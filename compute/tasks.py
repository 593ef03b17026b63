"""Background work (SPEC §8): a run of a service's code, executed by a worker.

Workers are ``manage.py db_worker`` processes (Django's task framework, with the database
queue of django-tasks-db), on this machine or any other sharing the database. A run is claimed
with a guarded update, so however often its task is delivered it is executed once; while it
executes, a heartbeat keeps its lease, and a run whose worker died is failed by the next
worker (or page) that looks.
"""

import json
import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from compute.drivers import Code, Driver, LaunchSpec, RunResult
from compute.drivers.local import LocalDriver
from compute.models import (
    ACTIVE_RUN_STATES,
    ComputeInstance,
    Run,
    RunAction,
    RunState,
    Service,
    ServiceEvent,
    ServiceState,
)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_seconds() -> float:
    return float(settings.COMPUTE_RUN_LEASE_SECONDS)


SSH_NOT_YET = "This portal cannot reach SSH compute instances yet."


def driver_for_instance(instance: ComputeInstance | None) -> Driver | None:
    """The driver that reaches ``instance`` (None: none can, yet)."""
    if instance is not None and instance.is_local:
        return LocalDriver(root=Path(settings.COMPUTE_LOCAL_ROOT))
    return None


def launch_spec(service: Service, action: str) -> LaunchSpec:
    """What the driver needs, from what the service pinned: no model goes past this point."""
    secrets = json.loads(service.secrets) if service.secrets else {}
    metadata, spec = service.document["metadata"], service.document["spec"]
    return LaunchSpec(
        service=service.name,
        project=service.project.name,
        profile=service.profile_name,
        revision=service.revision,
        action=action,
        code=Code(
            inline=service.code_inline,
            repository=service.code_repository,
            path=service.code_path,
            revision=service.code_revision,
        ),
        variables={**service.inputs, **secrets},
        extra_env=dict(spec.get("extraConfig", {})),
        labels=dict(metadata.get("labels", {})),
        secrets=tuple(value for value in secrets.values() if value),
        time_limit=float(settings.COMPUTE_RUN_TIME_LIMIT),
    )


class _Heartbeat(threading.Thread):
    """Writes the run's new log lines and keeps its lease while the code runs."""

    def __init__(self, run_id: int) -> None:
        super().__init__(daemon=True, name=f"run-{run_id}-heartbeat")
        self.run_id = run_id
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)

    def flush(self) -> None:
        with self.lock:
            text, self.lines = "".join(f"{line}\n" for line in self.lines), []
        changes = {"heartbeat_at": timezone.now()}
        if text:
            changes["log"] = Concat("log", Value(text))
        Run.objects.filter(pk=self.run_id, state=RunState.RUNNING).update(**changes)

    def run(self) -> None:
        interval = min(1.0, lease_seconds() / 4)
        try:
            while not self.done.wait(interval):
                self.flush()
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.done.set()
        self.join()


def _outputs(service: Service, written: dict[str, str]) -> tuple[list[dict], dict, list[str]]:
    """The outputs the profile shows, in its order, with what the code wrote for them; the
    sensitive values apart; and the names written that the profile does not show."""
    shown = service.document["spec"].get("outputs", [])
    outputs, secrets = [], {}
    for item in shown:
        if item["name"] not in written:
            continue
        output = {
            "name": item["name"],
            "displayName": item.get("displayName") or item["name"],
            "sensitive": bool(item.get("sensitive")),
        }
        if output["sensitive"]:
            secrets[item["name"]] = written[item["name"]]
        else:
            output["value"] = written[item["name"]]
        outputs.append(output)
    ignored = sorted(set(written) - {item["name"] for item in shown})
    return outputs, secrets, ignored


def _move(service: Service, state: str, *, detail: dict | None = None) -> None:
    previous = service.state
    service.state = state
    service.save(update_fields=["state", "outputs", "output_secrets", "modified_at"])
    ServiceEvent.record(
        service=service,
        actor=None,
        action=ServiceEvent.Action.STATE_CHANGED,
        detail={"from": previous, "to": state} | (detail or {}),
    )


@task()
def execute_run(run_id: int) -> str:
    """Claim run ``run_id`` and execute it; what happened, in a word. Safe to deliver twice:
    only the worker whose guarded update claims the queued run executes it."""
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=now, heartbeat_at=now, worker=worker_name()
    )
    if not claimed:
        return "not claimed"
    run = Run.objects.select_related("service__project", "service__compute_instance").get(pk=run_id)
    service = run.service
    if run.action == RunAction.DEPLOY:
        _move(service, ServiceState.DEPLOYING)
    driver = driver_for_instance(service.compute_instance)
    if driver is None:
        gone = "Its compute instance has been removed."
        result = RunResult(
            exit_code=None,
            outputs={},
            error=gone if service.compute_instance is None else SSH_NOT_YET,
        )
        return _finish(run, service, result)
    heartbeat = _Heartbeat(run_id)
    heartbeat.start()
    try:
        result = driver.run(launch_spec(service, run.action), heartbeat.add)
    except Exception as error:  # the run fails, saying why; the worker lives on
        result = RunResult(exit_code=None, outputs={}, error=f"The run could not start: {error}")
    finally:
        heartbeat.stop()
    heartbeat.flush()
    return _finish(run, service, result)


@transaction.atomic
def _finish(run: Run, service: Service, result: RunResult) -> str:
    current = Run.objects.select_for_update().get(pk=run.pk)
    if current.state != RunState.RUNNING:
        return "lost its lease"  # failed meanwhile as stale; what it did is in its log
    lines = []
    outputs, secrets = [], {}
    if run.action == RunAction.DEPLOY and result.ok:
        outputs, secrets, ignored = _outputs(service, result.outputs)
        lines += [f"(output “{name}” is not one the profile shows; ignored)" for name in ignored]
    if result.error:
        lines.append(result.error)
    state = RunState.SUCCEEDED if result.ok else RunState.FAILED
    Run.objects.filter(pk=run.pk).update(
        state=state,
        exit_code=result.exit_code,
        error=result.error
        or ("" if result.ok else f"The code exited with status {result.exit_code}."),
        finished_at=timezone.now(),
        log=Concat("log", Value("".join(f"{line}\n" for line in lines))),
    )
    service = Service.objects.select_for_update().get(pk=service.pk)
    if run.action == RunAction.DEPLOY and result.ok:
        service.outputs = outputs
        service.output_secrets = json.dumps(secrets) if secrets else ""
        _move(service, ServiceState.RUNNING)
    elif run.action == RunAction.DESTROY and result.ok:
        service.outputs, service.output_secrets = [], ""
        _move(service, ServiceState.DESTROYED)
    else:
        _move(service, ServiceState.FAILED, detail={"run": run.action})
    return state


def reap_stale_runs(*, service: Service | None = None) -> int:
    """Fail the runs (of ``service``, or all) whose worker stopped sending its heartbeat; how
    many there were."""
    cutoff = timezone.now() - timedelta(seconds=lease_seconds())
    reaped = 0
    runs = Run.objects.filter(state=RunState.RUNNING, heartbeat_at__lt=cutoff)
    for run in runs.filter(service=service) if service else runs:
        with transaction.atomic():
            stale = Run.objects.filter(pk=run.pk, state=RunState.RUNNING, heartbeat_at__lt=cutoff)
            reason = (
                f"The worker running it ({run.worker}) stopped without finishing: no sign of "
                f"life for {lease_seconds():g} seconds."
            )
            if not stale.update(
                state=RunState.FAILED,
                error=reason,
                finished_at=timezone.now(),
                log=Concat("log", Value(reason + "\n")),
            ):
                continue
            service = Service.objects.select_for_update().get(pk=run.service_id)
            _move(service, ServiceState.FAILED, detail={"run": run.action, "reason": reason})
            reaped += 1
    return reaped


@task()
def reap_runs() -> int:
    """Fail abandoned runs; while runs are in progress, look again half a lease later. How
    many were failed."""
    reaped = reap_stale_runs()
    schedule_reaper()
    return reaped


def schedule_reaper() -> None:
    """Keep one reaper queued while any run is in progress, so that a run whose worker was
    killed is failed within its lease even when nobody looks at it."""
    if not Run.objects.filter(state__in=ACTIVE_RUN_STATES).exists():
        return
    queued = DBTaskResult.objects.filter(task_path=reap_runs.module_path, status="READY")
    if not queued.exists():
        later = timezone.now() + timedelta(seconds=lease_seconds() / 2)
        reap_runs.using(run_after=later).enqueue()
