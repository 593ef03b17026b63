"""What runs (SPEC §8): compute instances, services launched onto them, runs and events.

A service pins what it was launched from: the profile revision's document, the template
version's code and the value types of its variables, and the resolved inputs. Later edits,
version changes or the deletion of the profile never change what a service is or does.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from profiles.models import ServiceProfile
from profiles.validators import DISPLAY_NAME_MAX_LENGTH, validate_labels
from studio import access
from studio.fields import EncryptedTextField
from studio.models import Project
from studio.validators import RESOURCE_NAME_PATTERN, validate_listed_name, validate_resource_name


class Connection(models.TextChoices):
    SSH = "ssh", "SSH"
    LOCAL = "local", "Local (the portal's own workers)"


class RunAction(models.TextChoices):
    DEPLOY = "deploy", "Deploy"
    DESTROY = "destroy", "Destroy"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# A run in one of these is in progress; a service has at most one.
ACTIVE_RUN_STATES = [RunState.QUEUED, RunState.RUNNING]


class ServiceState(models.TextChoices):
    PENDING = "pending", "Pending"
    DEPLOYING = "deploying", "Deploying"
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    UNREACHABLE = "unreachable", "Unreachable"
    FAILED = "failed", "Failed"
    DESTROYING = "destroying", "Destroying"
    DESTROYED = "destroyed", "Destroyed"


# A service in one of these is live: it holds (or is getting) something on its instance.
LIVE_STATES = [ServiceState.PENDING, ServiceState.DEPLOYING, ServiceState.RUNNING,
               ServiceState.STOPPED, ServiceState.UNREACHABLE,
               ServiceState.DESTROYING]  # fmt: skip

# A deployed service in one of these has no run in progress: it may be redeployed, destroyed
# or checked. ``stopped`` and ``unreachable`` come from health checks of a running service.
SETTLED_STATES = [ServiceState.RUNNING, ServiceState.STOPPED, ServiceState.UNREACHABLE,
                  ServiceState.FAILED]  # fmt: skip

# Health checks look at services in these; what they find moves a service between them.
CHECKED_STATES = [ServiceState.RUNNING, ServiceState.STOPPED, ServiceState.UNREACHABLE]


def _named(*, what: str) -> list[models.BaseConstraint]:
    return [
        models.UniqueConstraint(
            fields=["project", "name"],
            name="%(app_label)s_%(class)s_unique_name_per_project",
            violation_error_message=f"This project already has a {what} with this name.",
        ),
        models.CheckConstraint(
            condition=Q(name__regex=RESOURCE_NAME_PATTERN),
            name="%(app_label)s_%(class)s_name_format",
            violation_error_message="The unique name breaks the naming rule.",
        ),
    ]


class ComputeInstanceQuerySet(models.QuerySet):
    def changeable_by(self, project: Project, user) -> "ComputeInstanceQuerySet":
        """The instances of ``project`` that ``user`` may change or remove: their own, or every
        one for the project's admins (``project`` as :func:`studio.access.project_for` gives)."""
        instances = self.filter(project=project)
        return instances if access.is_admin(project) else instances.filter(owner=user)


class ComputeInstance(models.Model):
    """A machine a project's member already has, registered to launch services onto.

    ``ssh``: host, port, username, a private key (encrypted, write-only) and the host's public
    key, which must match. ``local``: the machine the portal's workers run on, a sandbox folder
    per service; only superusers create or assign one.
    """

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="compute_instances")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="compute_instances",
    )
    name = models.CharField("Unique Name", max_length=63, validators=[validate_listed_name])
    display_name = models.CharField("Display Name", max_length=DISPLAY_NAME_MAX_LENGTH)
    gpus = models.CharField(
        "GPUs", max_length=200, blank=True, help_text="What it has, e.g. 2x NVIDIA H100."
    )
    labels = models.JSONField(default=dict, blank=True, validators=[validate_labels])
    connection = models.CharField(max_length=10, choices=Connection.choices)
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    username = models.CharField(max_length=100, blank=True)
    private_key = EncryptedTextField(blank=True)
    host_key = models.TextField(
        "Host key", blank=True, help_text="The host's public key, as a known_hosts line has it."
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    reachable = models.BooleanField(null=True, blank=True)
    probe = models.TextField(blank=True, help_text="What the last connection test printed.")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    objects = ComputeInstanceQuerySet.as_manager()

    class Meta:
        ordering = ["name", "project__name"]
        constraints = [
            *_named(what="compute instance"),
            models.CheckConstraint(
                condition=~Q(display_name=""),
                name="%(app_label)s_%(class)s_display_name_required",
                violation_error_message="A display name is required.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(connection=Connection.SSH)
                    & ~Q(host="")
                    & ~Q(username="")
                    & Q(port__isnull=False, port__gte=1, port__lte=65535)
                )
                | (
                    Q(connection=Connection.LOCAL)
                    & Q(host="", username="", private_key="", host_key="", port__isnull=True)
                ),
                name="%(app_label)s_%(class)s_connection_complete",
                violation_error_message=(
                    "An SSH connection needs a host, a port from 1 to 65535 and a username; a "
                    "local one has none of them, nor keys."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    @property
    def is_local(self) -> bool:
        return self.connection == Connection.LOCAL


class ServiceQuerySet(models.QuerySet):
    def visible_in(self, project: Project, user) -> "ServiceQuerySet":
        """The services of ``project`` that ``user`` sees: a member their own (another's is a
        404), the project's admins every one (``project`` as ``access.project_for`` gives)."""
        services = self.filter(project=project)
        return services if access.is_admin(project) else services.filter(owner=user)

    def live(self) -> "ServiceQuerySet":
        return self.filter(state__in=LIVE_STATES)


class Service(models.Model):
    """One launch of a service profile onto a compute instance, pinned to a revision."""

    State = ServiceState

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="services")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="services"
    )
    owner_name = models.CharField(max_length=150, blank=True)
    name = models.CharField("Unique Name", max_length=63, validators=[validate_resource_name])
    profile = models.ForeignKey(
        ServiceProfile,
        on_delete=models.SET_NULL,  # a deleted profile leaves its services running
        null=True,
        blank=True,
        related_name="services",
    )
    profile_owner = models.CharField(max_length=63, help_text="The project the profile was in.")
    profile_name = models.CharField(max_length=63)
    revision = models.PositiveIntegerField(help_text="The profile revision it was launched from.")
    document = models.JSONField(help_text="The pinned revision's document (no sensitive value).")
    value_types = models.JSONField(default=dict, help_text="Each input's value type, pinned.")
    code_inline = models.TextField(blank=True)
    code_repository = models.CharField(max_length=500, blank=True)
    code_path = models.CharField(max_length=500, blank=True)
    code_revision = models.CharField(max_length=200, blank=True)
    compute_instance = models.ForeignKey(
        ComputeInstance,
        on_delete=models.SET_NULL,  # refused while the service is live (services.py)
        null=True,
        related_name="services",
    )
    instance_name = models.CharField(max_length=63)
    inputs = models.JSONField(default=dict, help_text="The resolved, non-sensitive inputs.")
    secrets = EncryptedTextField(blank=True, help_text="The sensitive inputs, as JSON.")
    state = models.CharField(max_length=12, choices=ServiceState.choices)
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When a health check last looked at it."
    )
    outputs = models.JSONField(default=list, help_text="What the last deploy wrote, in order.")
    output_secrets = EncryptedTextField(blank=True, help_text="Sensitive output values, as JSON.")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            *_named(what="service"),
            models.CheckConstraint(
                condition=Q(state__in=ServiceState.values),
                name="%(app_label)s_%(class)s_state_valid",
                violation_error_message="Unknown service state.",
            ),
            models.CheckConstraint(
                condition=(~Q(code_inline="") & Q(code_repository=""))
                | (Q(code_inline="") & ~Q(code_repository="")),
                name="%(app_label)s_%(class)s_one_code_reference",
                violation_error_message="A service runs inline code or code from a repository.",
            ),
        ]
        indexes = [
            # The Services list filters a project's services by state, newest first.
            models.Index(
                fields=["project", "state", "-created_at"], name="compute_service_list_idx"
            ),
            # A profile's page counts the live services launched from it.
            models.Index(fields=["profile", "state"], name="compute_service_profile_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES


class Run(models.Model):
    """One execution of a service's code (deploy or destroy), with its log as it arrived.

    At most one run per service is queued or running (constraint ``one_active_per_service``);
    a worker claims a queued run with a guarded update and keeps ``heartbeat_at`` fresh, so a
    run whose worker died is found and failed.
    """

    Action = RunAction
    State = RunState

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="runs")
    action = models.CharField(max_length=10, choices=RunAction.choices)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    log = models.TextField(blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the run failed, in a sentence.")
    worker = models.CharField(max_length=200, blank=True, help_text="Who claimed it.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["service"],
                condition=Q(state__in=ACTIVE_RUN_STATES),
                name="%(app_label)s_%(class)s_one_active_per_service",
                violation_error_message="The service already has a run in progress.",
            ),
            models.CheckConstraint(
                condition=Q(action__in=RunAction.values),
                name="%(app_label)s_%(class)s_action_valid",
                violation_error_message="A run deploys or destroys.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=RunState.values),
                name="%(app_label)s_%(class)s_state_valid",
                violation_error_message="Unknown run state.",
            ),
        ]
        indexes = [
            # Workers look for running runs whose heartbeat stopped.
            models.Index(fields=["state", "heartbeat_at"], name="compute_run_lease_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.get_action_display().lower()} ({self.state})"


class ServiceEvent(models.Model):
    """What happened to a service and who did it; kept after the service is gone."""

    class Action(models.TextChoices):
        LAUNCHED = "launched", "Launched"
        STATE_CHANGED = "state_changed", "State changed"
        DESTROY_REQUESTED = "destroy_requested", "Destroy requested"
        REDEPLOY_REQUESTED = "redeploy_requested", "Redeploy requested"
        UPDATE_REQUESTED = "update_requested", "Update requested"
        CANCEL_REQUESTED = "cancel_requested", "Cancel requested"
        OUTPUT_REVEALED = "output_revealed", "Sensitive output revealed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="service_events")
    service = models.ForeignKey(
        Service, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    service_name = models.CharField(max_length=63)
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # A service's event log, newest first.
            models.Index(
                fields=["project", "service_name", "-created_at"], name="compute_event_log_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_name}: {self.get_action_display()} by {self.actor_name or '—'}"

    @classmethod
    def record(cls, *, service: Service, actor, action: str, detail: dict | None = None):
        """Note that ``action`` happened to ``service``, done by ``actor`` (None: the system)."""
        return cls.objects.create(
            project=service.project,
            service=service if service.pk else None,
            service_name=service.name,
            action=action,
            actor=actor,
            actor_name=actor.get_username() if actor else "",
            detail=detail or {},
        )


class CheckKind(models.TextChoices):
    FETCH_HOST_KEY = "fetch_host_key", "Fetch host key"
    TEST_CONNECTION = "test_connection", "Test connection"


class InstanceCheck(models.Model):
    """A "Fetch host key" or "Test connection" of an instance, run in the background.

    A fetched key is only shown (``result``, ``fingerprint``) until a person confirms it; a
    test stores what the probe printed on the instance too. ``problem`` names the kind of
    connection problem when it failed (``refused``, ``timeout``, ``changed_host_key`` …).
    """

    Kind = CheckKind
    State = RunState

    instance = models.ForeignKey(ComputeInstance, on_delete=models.CASCADE, related_name="checks")
    kind = models.CharField(max_length=20, choices=CheckKind.choices)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    host = models.CharField(max_length=253, blank=True, help_text="Where it looked.")
    port = models.PositiveIntegerField(null=True, blank=True)
    result = models.TextField(blank=True, help_text="The key offered, or what the probe printed.")
    fingerprint = models.CharField(max_length=100, blank=True)
    problem = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["instance", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "kind"],
                condition=Q(state__in=ACTIVE_RUN_STATES),
                name="%(app_label)s_%(class)s_one_active_per_kind",
                violation_error_message="This check is already in progress.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CheckKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
                violation_error_message="Unknown check.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instance} {self.get_kind_display().lower()} ({self.state})"

    @property
    def in_progress(self) -> bool:
        return self.state in ACTIVE_RUN_STATES
