"""Writes to what runs: launch, redeploy, update, cancel and destroy services; check instances.

Keyword-only and atomic. A run is queued in the same transaction as the state change that
asks for it, and handed to the background workers only once that transaction has committed,
so a worker never looks for a run that is not there yet.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from compute.inputs import ResolvedInputs, as_env, launchable_inputs, resolve_inputs
from compute.models import (
    ACTIVE_RUN_STATES,
    SETTLED_STATES,
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
from compute.tasks import execute_run, run_check, schedule_reaper
from profiles.documents import document_diff
from profiles.models import ServiceProfile
from profiles.validators import parse_value
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
            code_revision=_pinned_commit(version),
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


class RunRefused(Exception):
    """The service's run cannot be asked for, or cancelled, now (the message says why)."""


def _settled(service: Service, doing: str) -> Service:
    """``service`` locked, if it is deployed and has no run in progress; else RunRefused."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.state not in SETTLED_STATES:
        raise RunRefused(
            f"{service.name} is {service.get_state_display().lower()}; it can be {doing} once "
            "its run has finished."
        )
    if service.runs.filter(state__in=ACTIVE_RUN_STATES).exists():
        raise RunRefused(f"{service.name} has a run in progress; wait for it to finish.")
    return service


@transaction.atomic
def destroy(*, service: Service, actor) -> Run:
    """Queue the destroy run of ``service`` (deployed, with no run in progress): its code, at
    its pinned revision, removes what the deploy made."""
    service = _settled(service, "destroyed")
    return _queue_run(
        service, actor, ServiceState.DESTROYING, RunAction.DESTROY,
        ServiceEvent.Action.DESTROY_REQUESTED,
    )  # fmt: skip


def _queue_run(service: Service, actor, state: str, action: str, event: str, **detail) -> Run:
    """Move the locked ``service`` to ``state``, note ``event`` (with where it came from and
    ``detail``), and queue a run of ``action``."""
    previous = service.state
    service.state = state
    service.save()
    ServiceEvent.record(
        service=service, actor=actor, action=event, detail={"from": previous, **detail}
    )
    run = Run.objects.create(service=service, action=action)
    _enqueue(run)
    return run


class CheckRefused(Exception):
    """The instance check cannot be asked for now (the message says why)."""


def request_check(*, instance: ComputeInstance, kind: str, actor) -> InstanceCheck:
    """Queue a "Fetch host key" or "Test connection" of ``instance``; the workers do it.

    A check of that kind already in progress is returned as it is, rather than queued twice.
    """
    if kind == CheckKind.FETCH_HOST_KEY and instance.is_local:
        raise CheckRefused("A local compute instance has no host key to fetch.")
    try:
        with transaction.atomic():
            check = InstanceCheck.objects.create(
                instance=instance,
                kind=kind,
                requested_by=actor,
                host=instance.host,
                port=instance.port,
            )
            transaction.on_commit(lambda: _hand_over_check(check))
    except IntegrityError:
        return InstanceCheck.objects.filter(
            instance=instance, kind=kind, state__in=ACTIVE_RUN_STATES
        ).first() or request_check(instance=instance, kind=kind, actor=actor)
    return check


def _hand_over_check(check: InstanceCheck) -> None:
    run_check.enqueue(check.pk)
    schedule_reaper()


@transaction.atomic
def trust_host_key(*, instance: ComputeInstance, check: InstanceCheck) -> None:
    """Store the key that ``check`` fetched as ``instance``'s host key: a person confirmed its
    fingerprint. Refused if the check found none, or the instance's address changed since."""
    instance = ComputeInstance.objects.select_for_update().get(pk=instance.pk)
    if check.instance_id != instance.pk or check.kind != CheckKind.FETCH_HOST_KEY:
        raise CheckRefused("That is not a host key fetched for this instance.")
    if check.state != RunState.SUCCEEDED or not check.result:
        raise CheckRefused("That fetch found no key to trust.")
    if (check.host, check.port) != (instance.host, instance.port):
        raise CheckRefused(
            "The instance's host or port changed after this key was fetched; fetch it again."
        )
    instance.host_key = check.result
    instance.save(update_fields=["host_key", "modified_at"])


@transaction.atomic
def redeploy(*, service: Service, actor) -> Run:
    """Queue a deploy of ``service`` at its pinned revision, with its inputs as they are
    (``deploy`` is safe to run again)."""
    service = _settled(service, "redeployed")
    return _queue_run(
        service, actor, ServiceState.PENDING, RunAction.DEPLOY,
        ServiceEvent.Action.REDEPLOY_REQUESTED, revision=service.revision,
    )  # fmt: skip


@dataclass(frozen=True)
class Update:
    """What updating a service to its profile's latest revision would change."""

    revision: int  # the revision it would pin
    changes: list[dict[str, str]]  # the document, field by field (profiles.documents)
    inputs: dict[str, tuple[str, str]]  # non-sensitive input values that change: before, after


def _latest(service: Service):
    """The profile's current revision, as the service's project may launch it; or None."""
    profile = (
        ServiceProfile.objects.in_catalog_of(service.project)
        .select_related("template_version")
        .filter(pk=service.profile_id)
        .first()
    )
    if profile is None:
        return None, None
    return profile, profile.revisions.get(number=profile.revision)


def _kept_inputs(service: Service, document: dict) -> dict[str, str]:
    """What the person launching set and the new ``document`` still lets them set: a value
    that differs from the pinned revision's default, and every sensitive value."""
    secrets = json.loads(service.secrets) if service.secrets else {}
    defaults = {
        item["name"]: _as_text(service.value_types.get(item["name"], "text"), item.get("value", ""))
        for item in service.document["spec"]["inputs"]
        if not item["sensitive"]
    }
    kept = {}
    for item in launchable_inputs(document):
        name = item["name"]
        if name in secrets:
            kept[name] = secrets[name]
        elif name in service.inputs and service.inputs[name] != defaults.get(name):
            kept[name] = service.inputs[name]
    return kept


def _as_text(value_type: str, value: str) -> str | None:
    """A default as the code would have received it (None if it does not parse)."""
    try:
        return as_env(value_type, parse_value(value_type, value))
    except ValidationError:
        return None


def plan_update(*, service: Service) -> Update | None:
    """What updating ``service`` to its profile's latest revision would change (None when the
    profile is gone from the catalog, or the service is at its latest revision). Raises
    InputProblems if the values set at launch do not fit the latest revision."""
    profile, latest = _latest(service)
    if profile is None or latest.number == service.revision:
        return None
    resolved = _resolve_latest(service, profile, latest)
    inputs = {
        name: (service.inputs.get(name, ""), value)
        for name, value in resolved.plain.items()
        if service.inputs.get(name) != value
    }
    return Update(
        revision=latest.number,
        changes=document_diff(service.document, latest.document),
        inputs=inputs,
    )


def _resolve_latest(service: Service, profile: ServiceProfile, latest) -> ResolvedInputs:
    value_types = dict(profile.template_version.variables.values_list("name", "value_type"))
    return resolve_inputs(
        document=latest.document,
        secrets=json.loads(latest.secrets) if latest.secrets else {},
        value_types=value_types,
        submitted=_kept_inputs(service, latest.document),
    )


@transaction.atomic
def update_service(*, service: Service, actor, revision: int) -> Run:
    """Pin ``service`` to its profile's latest revision (which must be ``revision``, the one
    the person confirmed), with its inputs resolved again, and queue a deploy of it."""
    service = _settled(service, "updated")
    profile, latest = _latest(service)
    if profile is None:
        raise RunRefused(f"{service.profile_name} is no longer in this project's catalog.")
    if latest.number != revision:
        raise RunRefused(
            f"The profile moved on to revision {latest.number} meanwhile; look at what changed "
            "and confirm again."
        )
    resolved = _resolve_latest(service, profile, latest)
    version = profile.template_version
    previous_revision = service.revision
    service.revision = latest.number
    service.document = latest.document
    service.value_types = dict(version.variables.values_list("name", "value_type"))
    service.code_inline = version.code_inline
    service.code_repository = version.code_repository
    service.code_path = version.code_path
    service.code_revision = _pinned_commit(version)
    service.inputs = resolved.plain
    service.secrets = json.dumps(resolved.secrets) if resolved.secrets else ""
    return _queue_run(
        service, actor, ServiceState.PENDING, RunAction.DEPLOY,
        ServiceEvent.Action.UPDATE_REQUESTED, revision=latest.number,
        previous_revision=previous_revision,
    )  # fmt: skip


def _pinned_commit(version) -> str:
    """The code revision a service pins: the commit the version's revision named when it was
    activated (repository code), or its revision as written (older versions)."""
    return getattr(version, "code_commit", "") or version.code_revision


@transaction.atomic
def cancel_run(*, service: Service, actor) -> Run:
    """Cancel ``service``'s run in progress. A queued run fails at once; a running one is
    stopped by its worker (the code's process group). A cancelled deploy is followed by a
    destroy, which removes what it made."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    run = (
        Run.objects.select_for_update()
        .filter(service=service, state__in=ACTIVE_RUN_STATES)
        .order_by("-created_at", "-pk")
        .first()
    )
    if run is None:
        raise RunRefused(f"{service.name} has no run in progress to cancel.")
    if run.cancel_requested_at is not None:
        return run
    ServiceEvent.record(
        service=service,
        actor=actor,
        action=ServiceEvent.Action.CANCEL_REQUESTED,
        detail={"run": run.action},
    )
    now = timezone.now()
    if run.state == RunState.RUNNING:
        run.cancel_requested_at = now
        run.save(update_fields=["cancel_requested_at"])
        return run
    message = "Cancelled before it started."
    run.state, run.error, run.cancel_requested_at, run.finished_at = (
        RunState.FAILED, message, now, now)  # fmt: skip
    run.log = message + "\n"
    run.save(update_fields=["state", "error", "cancel_requested_at", "finished_at", "log"])
    previous = service.state
    if run.action == RunAction.DEPLOY:
        service.state = ServiceState.DESTROYING
        _enqueue(Run.objects.create(service=service, action=RunAction.DESTROY))
    else:
        service.state = ServiceState.FAILED
    service.save(update_fields=["state", "modified_at"])
    ServiceEvent.record(
        service=service,
        actor=None,
        action=ServiceEvent.Action.STATE_CHANGED,
        detail={"from": previous, "to": service.state, "run": run.action, "cancelled": True},
    )
    return run


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
