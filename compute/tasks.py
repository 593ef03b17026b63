"""Background work (SPEC §8): runs of a service's code, instance checks and health checks.

Workers are ``manage.py db_worker`` processes (Django's task framework, with the database
queue of django-tasks-db), on this machine or any other sharing the database. A run is claimed
with a guarded update, so however often its task is delivered it is executed once; while it
executes, a heartbeat keeps its lease and notices a cancel, and a run whose worker died is
failed by the next worker (or page) that looks. Instance checks ("Fetch host key", "Test
connection") are claimed the same way. While services are running, a health check asks each
one's code for its state every ``COMPUTE_HEALTH_INTERVAL`` seconds.
"""

import json
import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat
from django.tasks import task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from compute.code import CodeUnavailable, fetch_code
from compute.drivers import CANCELLED, Code, Driver, LaunchSpec, RunResult, status_answer
from compute.drivers.local import LocalDriver
from compute.drivers.ssh import ConnectionProblem, SshDriver, fetch_host_key
from compute.models import (
    ACTIVE_RUN_STATES,
    CHECKED_STATES,
    CheckKind,
    ComputeInstance,
    InstanceCheck,
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


INSTANCE_GONE = "Its compute instance has been removed."


def driver_for_instance(instance: ComputeInstance) -> Driver:
    """The driver that reaches ``instance``."""
    if instance.is_local:
        return LocalDriver(root=Path(settings.COMPUTE_LOCAL_ROOT))
    return SshDriver(
        host=instance.host,
        port=instance.port or 22,
        username=instance.username,
        private_key=instance.private_key,
        host_key=instance.host_key,
        connect_timeout=float(settings.COMPUTE_SSH_CONNECT_TIMEOUT),
    )


def launch_spec(service: Service, action: str, *, folder: str = "") -> LaunchSpec:
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
            folder=folder,
        ),
        variables={**service.inputs, **secrets},
        extra_env=dict(spec.get("extraConfig", {})),
        labels=dict(metadata.get("labels", {})),
        secrets=tuple(value for value in secrets.values() if value),
        time_limit=float(
            settings.COMPUTE_STATUS_TIME_LIMIT
            if action == "status"
            else settings.COMPUTE_RUN_TIME_LIMIT
        ),
    )


def fetched_code(service: Service, on_line) -> str:
    """The local folder of the service's repository code at its pinned commit ("" for inline
    code), fetched into the worker's cache if it is not there yet."""
    if not service.code_repository:
        return ""
    on_line(f"(code: {service.code_repository} at {service.code_revision}, {service.code_path})")
    return str(fetch_code(service.code_repository, service.code_revision, service.code_path))


class _Heartbeat(threading.Thread):
    """Writes the run's new log lines and keeps its lease while the code runs."""

    def __init__(self, run_id: int) -> None:
        super().__init__(daemon=True, name=f"run-{run_id}-heartbeat")
        self.run_id = run_id
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        #: Set when the run was cancelled, or lost its lease: the driver stops the code.
        self.cancel = threading.Event()

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)

    def flush(self) -> None:
        with self.lock:
            text, self.lines = "".join(f"{line}\n" for line in self.lines), []
        changes = {"heartbeat_at": timezone.now()}
        if text:
            changes["log"] = Concat("log", Value(text))
        running = Run.objects.filter(pk=self.run_id, state=RunState.RUNNING)
        if not running.filter(cancel_requested_at__isnull=True).update(**changes):
            self.cancel.set()
            running.update(**changes)

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
    service.save(update_fields=["state", "outputs", "output_secrets", "checked_at", "modified_at"])
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
    if service.compute_instance is None:
        return _finish(run, service, RunResult(exit_code=None, error=INSTANCE_GONE))
    heartbeat = _Heartbeat(run_id)
    heartbeat.start()
    try:
        driver = driver_for_instance(service.compute_instance)
        folder = fetched_code(service, heartbeat.add)
        spec = launch_spec(service, run.action, folder=folder)
        result = driver.run(spec, heartbeat.add, heartbeat.cancel)
    except CodeUnavailable as error:
        result = RunResult(exit_code=None, error=error.message)
    except Exception as error:  # the run fails, saying why; the worker lives on
        result = RunResult(exit_code=None, error=f"The run could not start: {error}")
    finally:
        heartbeat.stop()
    heartbeat.flush()
    return _finish(run, service, result)


@transaction.atomic
def _finish(run: Run, service: Service, result: RunResult) -> str:
    current = Run.objects.select_for_update().get(pk=run.pk)
    if current.state != RunState.RUNNING:
        return "lost its lease"  # failed meanwhile as stale; what it did is in its log
    cancelled = current.cancel_requested_at is not None
    if cancelled and not result.error:
        result = RunResult(exit_code=result.exit_code, outputs=result.outputs, error=CANCELLED)
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
        service.checked_at = None  # a fresh deploy: the next health check looks soon
        _move(service, ServiceState.RUNNING)
        transaction.on_commit(schedule_health_check)
    elif run.action == RunAction.DESTROY and result.ok:
        service.outputs, service.output_secrets = [], ""
        _move(service, ServiceState.DESTROYED)
    elif run.action == RunAction.DEPLOY and cancelled:
        # Cancelled: what the deploy made so far is removed.
        _move(service, ServiceState.DESTROYING, detail={"run": run.action, "cancelled": True})
        destroy = Run.objects.create(service=service, action=RunAction.DESTROY)
        transaction.on_commit(lambda: execute_run.enqueue(destroy.pk))
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
    """Fail abandoned runs (and instance checks); while runs are in progress, look again half
    a lease later. How many were failed."""
    reaped = reap_stale_runs() + reap_stale_checks()
    schedule_reaper()
    schedule_health_check(later=True)
    return reaped


def schedule_reaper() -> None:
    """Keep one reaper queued while any run or instance check is in progress, so that one
    whose worker was killed is failed within its lease even when nobody looks at it."""
    busy = Run.objects.filter(state__in=ACTIVE_RUN_STATES).exists() or (
        InstanceCheck.objects.filter(state__in=ACTIVE_RUN_STATES).exists()
    )
    if not busy:
        return
    queued = DBTaskResult.objects.filter(task_path=reap_runs.module_path, status="READY")
    if not queued.exists():
        later = timezone.now() + timedelta(seconds=lease_seconds() / 2)
        reap_runs.using(run_after=later).enqueue()


# Instance checks ------------------------------------------------------------------------------


@task()
def run_check(check_id: int) -> str:
    """Claim instance check ``check_id`` and do it: fetch the host key the instance offers (to
    be confirmed by a person), or run the harmless probe and store what came back."""
    claimed = InstanceCheck.objects.filter(pk=check_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "not claimed"
    check = InstanceCheck.objects.select_related("instance").get(pk=check_id)
    instance = check.instance
    changes: dict = {"finished_at": timezone.now()}
    try:
        if check.kind == CheckKind.FETCH_HOST_KEY:
            fetched = fetch_host_key(
                check.host, check.port or 22, float(settings.COMPUTE_SSH_CONNECT_TIMEOUT)
            )
            changes |= {"result": fetched.key, "fingerprint": fetched.fingerprint}
            ok = True
        else:
            probe = driver_for_instance(instance).probe()
            changes |= {"result": probe.output, "problem": probe.problem}
            ok = probe.reachable
            if not ok:
                changes["error"] = probe.output
            ComputeInstance.objects.filter(pk=instance.pk).update(
                checked_at=timezone.now(), reachable=ok, probe=probe.output
            )
    except ConnectionProblem as problem:
        ok = False
        changes |= {"problem": problem.kind, "error": str(problem)}
    except Exception as error:  # the check fails, saying why; the worker lives on
        ok = False
        changes |= {"problem": "protocol", "error": f"The check could not run: {error}"}
    changes["state"] = RunState.SUCCEEDED if ok else RunState.FAILED
    changes["finished_at"] = timezone.now()
    InstanceCheck.objects.filter(pk=check_id, state=RunState.RUNNING).update(**changes)
    return changes["state"]


def check_lease() -> timedelta:
    """How long a check may be running before it counts as abandoned by its worker."""
    return timedelta(seconds=lease_seconds() + 3 * float(settings.COMPUTE_SSH_CONNECT_TIMEOUT))


def reap_stale_checks() -> int:
    """Fail the instance checks whose worker died while doing them; how many there were."""
    return InstanceCheck.objects.filter(
        state=RunState.RUNNING, started_at__lt=timezone.now() - check_lease()
    ).update(
        state=RunState.FAILED,
        error="The worker doing this check stopped without finishing it; try again.",
        finished_at=timezone.now(),
    )


# Health -------------------------------------------------------------------------------------


def health_interval() -> timedelta:
    return timedelta(seconds=float(settings.COMPUTE_HEALTH_INTERVAL))


def check_service_health(
    service: Service, *, unreachable: dict[int, RunResult] | None = None
) -> str:
    """Ask ``service``'s code for its state (``<entry> status``) and record a change as an
    event; the state it is in afterwards. Only one worker checks a service at a time (a
    guarded update claims the check), and never while a run of it is in progress.

    ``unreachable`` remembers, by instance, the instances a pass of checks found unreachable,
    so their other services are not waited for again."""
    claimed = (
        Service.objects.filter(
            pk=service.pk, state__in=CHECKED_STATES, checked_at=service.checked_at
        )
        .exclude(runs__state__in=ACTIVE_RUN_STATES)
        .update(checked_at=timezone.now())
    )
    instance = service.compute_instance
    if not claimed or instance is None:
        return service.state
    lines: list[str] = []
    if unreachable is not None and instance.pk in unreachable:
        result = unreachable[instance.pk]
    else:
        try:
            result = driver_for_instance(instance).run(launch_spec(service, "status"), lines.append)
        except Exception:  # a check that cannot run says nothing new
            return service.state
        if result.problem and unreachable is not None:
            unreachable[instance.pk] = result
    answer = status_answer(lines)
    if result.problem:
        found = ServiceState.UNREACHABLE
    elif answer == "running" or (not answer and service.state == ServiceState.UNREACHABLE):
        found = ServiceState.RUNNING  # reachable again, and no word that it is not running
    elif answer == "stopped":
        found = ServiceState.STOPPED
    elif answer == "failed":
        found = ServiceState.FAILED
    else:
        return service.state  # the code does not say: nothing to record
    with transaction.atomic():
        current = (
            Service.objects.select_for_update()
            .filter(pk=service.pk, state__in=CHECKED_STATES)
            .exclude(runs__state__in=ACTIVE_RUN_STATES)
            .first()
        )
        if current is None or current.state == found:
            return current.state if current else service.state
        detail = {"by": "health check"}
        if result.problem:
            detail["reason"] = result.error
        _move(current, found, detail=detail)
    return found


@task()
def check_health() -> int:
    """Health-check every running service not checked for an interval; while any is running,
    look again an interval later. How many were checked."""
    due = timezone.now() - health_interval()
    services = (
        Service.objects.filter(state__in=CHECKED_STATES)
        .filter(Q(checked_at__isnull=True) | Q(checked_at__lt=due))
        .select_related("project", "compute_instance")
        .order_by("checked_at", "pk")
    )
    checked = 0
    unreachable: dict[int, RunResult] = {}
    for service in services:
        check_service_health(service, unreachable=unreachable)
        checked += 1
    schedule_health_check(later=True)
    return checked


def health_checks_stalled(service: Service) -> bool:
    """Whether ``service`` should have been checked by now and was not (the worker doing the
    checks died, say); no query."""
    if service.state not in CHECKED_STATES or service.checked_at is None:
        return False
    return service.checked_at < timezone.now() - 3 * health_interval()


def schedule_health_check(*, later: bool = False) -> None:
    """Keep one health check queued while any service is running (soon after a deploy, else an
    interval later)."""
    if not Service.objects.filter(state__in=CHECKED_STATES).exists():
        return
    queued = DBTaskResult.objects.filter(task_path=check_health.module_path, status="READY")
    if not queued.exists():
        delay = health_interval() if later else timedelta(seconds=1)
        check_health.using(run_after=timezone.now() + delay).enqueue()
