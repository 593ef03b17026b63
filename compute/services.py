"""Writes to what runs: launch a service, destroy it, record what happened.

Keyword-only and atomic. A run is queued in the same transaction as the state change that
asks for it, and handed to the background workers only once that transaction has committed,
so a worker never looks for a run that is not there yet.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils import timezone

from compute.drivers import ProbeResult
from compute.inputs import ResolvedInputs, resolve_inputs
from compute.models import (
    ACTIVE_RUN_STATES,
    ComputeInstance,
    Run,
    RunAction,
    Service,
    ServiceEvent,
    ServiceState,
)
from compute.tasks import SSH_NOT_YET, driver_for_instance, execute_run, schedule_reaper
from profiles.models import ServiceProfile
from studio.models import Project


class LaunchRefused(Exception):
    """The launch cannot go ahead: ``field`` (or None, for the whole launch) and why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


def _enqueue(run: Run) -> None:
    """Hand ``run`` to the workers once the transaction that made it commits."""

    def hand_over() -> None:
        execute_run.enqueue(run.pk)
        schedule_reaper()

    transaction.on_commit(hand_over)


@contextmanager
def creating_service(*, project: Project, name: str) -> Iterator[None]:
    """A block that creates the service ``name`` in ``project``; LaunchRefused if it has one.

    Launches in a project queue on its row, as profile creations do, so the later of two
    launches with one name is told the name is taken rather than failing."""
    taken = f"“{name}” is taken in project {project.name}; pick another name."
    try:
        with transaction.atomic():
            Project.objects.select_for_update(no_key=True).get(pk=project.pk)
            if Service.objects.filter(project=project, name=name).exists():
                raise LaunchRefused(taken, field="name")
            yield
    except IntegrityError:
        raise LaunchRefused(taken, field="name") from None


def launch(
    *,
    project: Project,
    actor,
    profile: ServiceProfile,
    name: str,
    instance: ComputeInstance,
    submitted: dict[str, str],
) -> Service:
    """Launch ``profile`` (as ``project`` sees it) onto ``instance`` as the service ``name``.

    Pins the profile's current revision, its template version's code and value types, and
    the inputs resolved from what ``submitted`` holds (InputProblems names each refused one);
    queues the deploy. The profile must be ready and in the project's catalog at this moment.
    """
    with creating_service(project=project, name=name):
        current = (
            ServiceProfile.objects.in_catalog_of(project)
            .select_related("project", "template_version")
            .filter(pk=profile.pk)
            .first()
        )
        if current is None:
            raise LaunchRefused(
                f"{profile.display_name} is no longer in the catalog of {project.name}; "
                "it cannot be launched."
            )
        if instance.project_id != project.pk:
            raise LaunchRefused("Choose a compute instance of this project.", field="instance")
        pinned = current.revisions.get(number=current.revision)
        version = current.template_version
        value_types = dict(version.variables.values_list("name", "value_type"))
        resolved: ResolvedInputs = resolve_inputs(
            document=pinned.document,
            secrets=json.loads(pinned.secrets) if pinned.secrets else {},
            value_types=value_types,
            submitted=submitted,
        )
        service = Service.objects.create(
            project=project,
            owner=actor,
            owner_name=actor.get_username(),
            name=name,
            profile=current,
            profile_owner=current.project.name,
            profile_name=current.name,
            revision=pinned.number,
            document=pinned.document,
            value_types=value_types,
            code_inline=version.code_inline,
            code_repository=version.code_repository,
            code_path=version.code_path,
            code_revision=version.code_revision,
            compute_instance=instance,
            instance_name=instance.name,
            inputs=resolved.plain,
            secrets=json.dumps(resolved.secrets) if resolved.secrets else "",
            state=ServiceState.PENDING,
        )
        ServiceEvent.record(
            service=service,
            actor=actor,
            action=ServiceEvent.Action.LAUNCHED,
            detail={"profile": f"{service.profile_owner}/{service.profile_name}",
                    "revision": service.revision, "instance": instance.name},
        )  # fmt: skip
        _enqueue(Run.objects.create(service=service, action=RunAction.DEPLOY))
    return service


class DestroyRefused(Exception):
    """The service cannot be destroyed now (the message says why)."""


@transaction.atomic
def destroy(*, service: Service, actor) -> Run:
    """Queue the destroy run of ``service`` (running or failed): its code, at its pinned
    revision, removes what the deploy made."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.state not in (ServiceState.RUNNING, ServiceState.FAILED):
        raise DestroyRefused(
            f"{service.name} is {service.get_state_display().lower()}; it can be destroyed once "
            "its run has finished."
        )
    if service.runs.filter(state__in=ACTIVE_RUN_STATES).exists():
        raise DestroyRefused(f"{service.name} has a run in progress; wait for it to finish.")
    previous = service.state
    service.state = ServiceState.DESTROYING
    service.save(update_fields=["state", "modified_at"])
    ServiceEvent.record(
        service=service,
        actor=actor,
        action=ServiceEvent.Action.DESTROY_REQUESTED,
        detail={"from": previous},
    )
    run = Run.objects.create(service=service, action=RunAction.DESTROY)
    _enqueue(run)
    return run


def probe_instance(*, instance: ComputeInstance) -> ProbeResult:
    """Run the harmless probe on ``instance`` and store when, whether it answered, and what."""
    driver = driver_for_instance(instance)
    result = driver.probe() if driver else ProbeResult(reachable=False, output=SSH_NOT_YET)
    instance.checked_at = timezone.now()
    instance.reachable = result.reachable
    instance.probe = result.output
    instance.save(update_fields=["checked_at", "reachable", "probe"])
    return result


def remove_instance(*, instance: ComputeInstance) -> bool:
    """Delete ``instance`` unless a live service is on it; whether it was deleted."""
    with transaction.atomic():
        locked = (
            ComputeInstance.objects.select_for_update().filter(pk=instance.pk).order_by().first()
        )
        if locked is None:
            return True  # removed meanwhile
        if locked.services.live().exists():
            return False
        locked.delete()
    return True
