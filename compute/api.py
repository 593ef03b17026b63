"""REST API for what runs (SPEC §8): compute instances and services, as documents.

The access rules are the pages' (compute.instance_views, compute.views). Everyone in the
project reads its compute instances and registers one (owning it); only the owner, the
project's admins and superusers change or remove one (403 for other members, who can see it),
and only superusers register, change or switch to a ``local`` one. A member sees, launches and
destroys their own services (another member's is a 404); the project's admins every one.
Outsiders get 404 and anonymous callers 401, through ProjectAPIView.

Shapes are checked by compute.serializers, each connection field by the checks the Compute
Instances form uses, launches and destroys go through compute.services; no response holds a
private key, a sensitive input or a sensitive output.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.utils import extend_schema_view as extend_view
from rest_framework import serializers, status
from rest_framework.response import Response

from compute import services as compute
from compute.filters import ComputeInstanceFilter, ServiceFilter
from compute.inputs import InputProblems
from compute.instance_forms import (
    MISSING,
    check_connection,
    check_host,
    check_username,
    normalized_host_key,
    normalized_private_key,
)
from compute.instance_views import LOCAL_NOT_YOURS, NOT_YOURS
from compute.models import ComputeInstance, Connection, Run, Service, ServiceState
from compute.serializers import (
    DEFAULT_SSH_PORT,
    KEY_SET,
    ComputeInstanceDocumentSerializer,
    RunSerializer,
    ServiceDocumentSerializer,
)
from compute.tasks import reap_stale_runs
from profiles.api import merge_patch
from profiles.documents import DocumentError, causes_from
from profiles.models import ServiceProfile
from profiles.rules import name_taken
from studio.api import (
    API_VERSION,
    PAGING,
    SEARCH,
    Conflict,
    FilteredListView,
    ProjectAPIView,
    StatusSerializer,
    list_document,
    list_serializer,
    paging,
    parameter_names,
)
from studio.models import Project


def _at(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def parse(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _project_causes(metadata: dict, project: Project) -> list[tuple[str, str]]:
    if metadata.get("project", project.name) != project.name:
        return [("metadata.project", f"The document is for project {metadata['project']}.")]
    return []


# Compute instances ----------------------------------------------------------------------------

INSTANCE_PATHS = {
    "name": "metadata.name",
    "display_name": "metadata.displayName",
    "labels": "metadata.labels",
    "gpus": "spec.gpus",
    "connection": "spec.connection.type",
    "host": "spec.connection.host",
    "port": "spec.connection.port",
    "username": "spec.connection.username",
    "private_key": "spec.connection.privateKey",
    "host_key": "spec.connection.hostKey",
}
CONNECTION_KEYS = {  # document key: model field
    "host": "host",
    "port": "port",
    "username": "username",
    "privateKey": "private_key",
    "hostKey": "host_key",
}
LOCAL_TAKES_NO_FIELDS = "A local connection has no other fields: leave this out."
NO_KEY_TO_KEEP = (
    f'No private key is stored to keep: send the key itself instead of "{KEY_SET}", or leave '
    "privateKey out."
)


def instance_document(instance: ComputeInstance) -> dict:
    """``instance`` as a ``kind: ComputeInstance`` document; the private key only as "set"."""
    connection: dict = {"type": instance.connection}
    if not instance.is_local:
        connection |= {"host": instance.host, "port": instance.port, "username": instance.username}
        if instance.private_key:
            connection["privateKey"] = KEY_SET
        connection["hostKey"] = instance.host_key
    return {
        "apiVersion": API_VERSION,
        "kind": "ComputeInstance",
        "metadata": {
            "name": instance.name,
            "project": instance.project.name,
            "displayName": instance.display_name,
            "labels": instance.labels,
        },
        "spec": {"gpus": instance.gpus, "connection": connection},
        "status": {
            "checkedAt": _at(instance.checked_at),
            "reachable": instance.reachable,
            "probe": instance.probe,
            "owner": instance.owner.get_username() if instance.owner else None,
        },
    }


def _first_message(error: ValidationError) -> str:
    return error.messages[0]


def connection_fields(
    connection: dict, *, user, stored_key: str
) -> tuple[dict, list[tuple[str, str]]]:
    """The model fields a document's ``spec.connection`` sets, and what is wrong with it.

    The form's checks, field by field (compute.instance_forms); ``stored_key`` is the private
    key an instance has, which ``"set"`` keeps.
    """
    causes: list[tuple[str, str]] = []

    def cause(key: str, message: str) -> None:
        causes.append((f"spec.connection.{key}", message))

    kind = connection["type"]
    try:
        check_connection(kind, user)
    except ValidationError as error:
        cause("type", _first_message(error))
    if kind == Connection.LOCAL:
        for key in CONNECTION_KEYS:
            if key in connection:
                cause(key, LOCAL_TAKES_NO_FIELDS)
        empty = {"host": "", "port": None, "username": "", "private_key": "", "host_key": ""}
        return {"connection": kind, **empty}, causes

    fields = {
        "connection": kind,
        "host": connection.get("host", ""),
        "port": connection.get("port", DEFAULT_SSH_PORT),
        "username": connection.get("username", ""),
        "private_key": "",
        "host_key": "",
    }
    for key, check in [("host", check_host), ("username", check_username)]:
        try:
            check(fields[key])
        except ValidationError as error:
            cause(key, _first_message(error))
    key = connection.get("privateKey", "")
    if key == KEY_SET:
        if stored_key:
            fields["private_key"] = stored_key
        else:
            cause("privateKey", NO_KEY_TO_KEEP)
    else:
        try:
            fields["private_key"] = normalized_private_key(key)
        except ValidationError as error:
            cause("privateKey", _first_message(error))  # never repeats the key
    try:
        fields["host_key"] = normalized_host_key(connection.get("hostKey", ""))
    except ValidationError as error:
        cause("hostKey", _first_message(error))
    refused = {path for path, _ in causes}
    for field, message in MISSING.items():
        path = INSTANCE_PATHS[field]
        if path not in refused and fields[field] in ("", None):
            causes.append((path, message))
    return fields, causes


def apply_instance_document(
    instance: ComputeInstance, document: dict, *, project: Project, user
) -> ComputeInstance:
    """Set ``instance`` (new, or locked for a replace) from a shape-checked document and save
    it; DocumentError (saving nothing) with every problem by document path."""
    metadata, spec = document["metadata"], document["spec"]
    causes = _project_causes(metadata, project)
    fields, connection_causes = connection_fields(
        spec["connection"], user=user, stored_key=instance.private_key
    )
    causes += connection_causes
    instance.project = project
    instance.name = metadata["name"]
    instance.display_name = metadata["displayName"]
    instance.labels = metadata["labels"]
    instance.gpus = spec["gpus"]
    for field, value in fields.items():
        setattr(instance, field, value)
    refused = {path for path, _ in causes}
    exclude = [field for field, path in INSTANCE_PATHS.items() if path in refused]
    try:
        # The name was checked as the instance was created; constraints on refused fields
        # (the connection's) are left out: their causes say more than the constraint.
        instance.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as error:
        causes += causes_from(error, INSTANCE_PATHS)
    if causes:
        raise DocumentError(causes)
    instance.save()
    return instance


@contextmanager
def creating_instance(project: Project, name: str) -> Iterator[None]:
    """A block that creates the instance ``name`` in ``project``; 409 if the name is taken.

    Creations in a project queue on its row, so the later of two with one name is told the name
    is taken rather than failing."""
    try:
        with transaction.atomic():
            Project.objects.select_for_update(no_key=True).get(pk=project.pk)
            if taken := name_taken(ComputeInstance, project, name):
                raise Conflict(taken)
            yield
    except IntegrityError:
        raise Conflict(name_taken(ComputeInstance, project, name) or "The name is taken.") from None


INSTANCE_SEARCH = OpenApiParameter(
    "q", SEARCH.type, description="Words to find in name, display name, GPUs."
)
INSTANCE_LIST_PARAMETERS = [INSTANCE_SEARCH, *PAGING]
InstanceListSerializer = list_serializer(
    "ComputeInstanceList", ComputeInstanceDocumentSerializer(many=True)
)
NOT_YOURS_RESPONSE = OpenApiResponse(
    StatusSerializer,
    description="Only the instance's owner, the project's admins and superusers may change or "
    "remove it; only superusers change a local one.",
)


@extend_view(
    get=extend_schema(
        parameters=INSTANCE_LIST_PARAMETERS,
        responses=InstanceListSerializer,
        summary="List the project's compute instances",
        operation_id="listComputeInstances",
    )
)
class InstanceListView(FilteredListView):
    """The project's compute instances, for everyone in it; a document registers one."""

    admin_writes = False  # members register instances too, and own them
    conflicts_on = ("POST",)  # the name is taken
    kind = "ComputeInstanceList"
    query_parameters = {"GET": parameter_names(INSTANCE_LIST_PARAMETERS)}
    filterset_class = ComputeInstanceFilter
    filter_parameters = {"q": "q"}
    ordering = ("name",)

    def get_queryset(self):
        return ComputeInstance.objects.filter(project=self.project).select_related(
            "project", "owner"
        )

    def documents(self, page):
        return [instance_document(instance) for instance in page]

    @extend_schema(
        request=ComputeInstanceDocumentSerializer,
        responses={201: ComputeInstanceDocumentSerializer},
        summary="Register a compute instance (the caller owns it; local: superusers only)",
        operation_id="createComputeInstance",
    )
    def post(self, request, project: str):
        document = parse(ComputeInstanceDocumentSerializer, request.data)
        with creating_instance(self.project, document["metadata"]["name"]):
            instance = apply_instance_document(
                ComputeInstance(owner=request.user),
                document,
                project=self.project,
                user=request.user,
            )
        return Response(instance_document(instance), status=status.HTTP_201_CREATED)


class InstanceDetailView(ProjectAPIView):
    admin_writes = False  # the owner changes their instance (changeable_by)
    conflicts_on = ("DELETE",)  # services are live on it

    def get_instance(self, name: str, *, lock: bool = False) -> ComputeInstance:
        """An instance of the project, as everyone in it sees it; 404 if there is none."""
        queryset = ComputeInstance.objects.filter(project=self.project)
        if lock:  # the bare row (see ProfileDetailView.lock_profile), then a fresh read
            get_object_or_404(queryset.select_for_update().order_by(), name=name)
        return get_object_or_404(queryset.select_related("project", "owner"), name=name)

    def changeable(self, name: str, *, editing: bool) -> ComputeInstance:
        """An instance the caller may change or remove; 403 if they can only see it."""
        instance = self.get_instance(name, lock=editing)
        user = self.request.user
        if not ComputeInstance.objects.changeable_by(self.project, user).filter(pk=instance.pk):
            raise PermissionDenied(NOT_YOURS)
        if editing and instance.is_local and not user.is_superuser:
            raise PermissionDenied(LOCAL_NOT_YOURS)
        return instance

    @extend_schema(
        responses=ComputeInstanceDocumentSerializer,
        summary="Get a compute instance",
        operation_id="getComputeInstance",
    )
    def get(self, request, project: str, name: str):
        return Response(instance_document(self.get_instance(name)))

    def _replace(self, instance: ComputeInstance, name: str, document: dict) -> Response:
        if document["metadata"]["name"] != name:
            raise serializers.ValidationError(
                {"metadata": {"name": ["The unique name cannot be changed."]}}
            )
        apply_instance_document(instance, document, project=self.project, user=self.request.user)
        return Response(instance_document(instance))

    @extend_schema(
        request=ComputeInstanceDocumentSerializer,
        responses={200: ComputeInstanceDocumentSerializer, 403: NOT_YOURS_RESPONSE},
        summary='Replace a compute instance (privateKey "set" keeps the stored key)',
        operation_id="replaceComputeInstance",
    )
    def put(self, request, project: str, name: str):
        with transaction.atomic():
            instance = self.changeable(name, editing=True)
            document = parse(ComputeInstanceDocumentSerializer, request.data)
            return self._replace(instance, name, document)

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/yaml": OpenApiTypes.OBJECT,
        },
        responses={200: ComputeInstanceDocumentSerializer, 403: NOT_YOURS_RESPONSE},
        summary="Change part of a compute instance (JSON merge patch)",
        operation_id="patchComputeInstance",
    )
    def patch(self, request, project: str, name: str):
        with transaction.atomic():
            instance = self.changeable(name, editing=True)
            if not isinstance(request.data, dict):
                raise serializers.ValidationError({"": ["Send a JSON (or YAML) object."]})
            current = instance_document(instance)
            current.pop("status")
            merged = merge_patch(current, request.data)
            return self._replace(instance, name, parse(ComputeInstanceDocumentSerializer, merged))

    @extend_schema(
        responses={204: None, 403: NOT_YOURS_RESPONSE},
        summary="Remove a compute instance (refused while services are live on it)",
        operation_id="deleteComputeInstance",
    )
    def delete(self, request, project: str, name: str):
        instance = self.changeable(name, editing=False)
        if not compute.remove_instance(instance=instance):
            raise Conflict(f"{name} was not removed: services are live on it. Destroy them first.")
        return Response(status=status.HTTP_204_NO_CONTENT)


# Services -------------------------------------------------------------------------------------


def service_document(service: Service, project: Project) -> dict:
    """``service`` (of ``project``) as a ``kind: Service`` document, without a sensitive value:
    its sensitive inputs as ``{name, sensitive: true}``, its sensitive outputs without value."""
    variables = []
    for item in service.document["spec"]["inputs"]:
        if item["sensitive"]:
            variables.append({"name": item["name"], "sensitive": True})
        elif item["name"] in service.inputs:
            variables.append({"name": item["name"], "value": service.inputs[item["name"]]})
    outputs = []
    for output in service.outputs:
        shown = {"name": output["name"], "displayName": output.get("displayName", "")}
        if output.get("sensitive"):
            shown["sensitive"] = True
        else:
            shown["value"] = output.get("value", "")
        outputs.append(shown)
    return {
        "apiVersion": API_VERSION,
        "kind": "Service",
        "metadata": {"name": service.name, "project": project.name},
        "spec": {
            "serviceProfile": {"name": service.profile_name, "project": service.profile_owner},
            "computeInstance": service.instance_name,
            "variables": variables,
        },
        "status": {
            "state": service.state,
            "checkedAt": _at(service.checked_at),
            "profileRevision": service.revision,
            "outputs": outputs,
            "createdAt": _at(service.created_at),
            "owner": service.owner_name,
        },
    }


def run_document(run: Run) -> dict:
    return {
        "action": run.action,
        "state": run.state,
        "exitCode": run.exit_code,
        "error": run.error,
        "startedAt": _at(run.started_at),
        "finishedAt": _at(run.finished_at),
        "log": run.log,
    }


def submitted_variables(variables: list[dict]) -> tuple[dict[str, str], dict[str, int], list]:
    """What ``spec.variables`` sends, by input name; where each is in the list; and the names
    given twice. A sensitive input sent without a value is not sent: it keeps its value."""
    submitted, positions, causes = {}, {}, []
    for index, variable in enumerate(variables):
        name = variable["name"]
        if name in positions:
            causes.append(("spec.variables", f"“{name}” is given twice."))
            continue
        positions[name] = index
        if "value" in variable:
            submitted[name] = variable["value"]
    return submitted, positions, causes


def input_causes(
    problems: dict[str, list[str]], positions: dict[str, int], declared: set[str]
) -> list[tuple[str, str]]:
    """InputProblems by document path: a sent input's at its value, any other (unknown, or not
    sent) at ``spec.variables``, naming it."""
    causes = []
    for name, messages in problems.items():
        for message in messages:
            if name in declared and name in positions:
                causes.append((f"spec.variables[{positions[name]}].value", message))
            elif name in declared:
                causes.append(("spec.variables", f"{name}: {message}"))
            else:
                causes.append(("spec.variables", message))
    return causes


LAUNCH_PATHS = {"instance": "spec.computeInstance", None: "spec.serviceProfile"}

STATE = OpenApiParameter(
    "state",
    str,
    enum=ServiceState.values,
    description="Only services in this state (leave the parameter out for all).",
)
SERVICE_SEARCH = OpenApiParameter(
    "q", SEARCH.type, description="Words to find in name, profile name, compute instance name."
)
SERVICE_LIST_PARAMETERS = [SERVICE_SEARCH, *PAGING, STATE]
ServiceListSerializer = list_serializer("ServiceList", ServiceDocumentSerializer(many=True))
RunListSerializer = list_serializer("ServiceRunList", RunSerializer(many=True))


@extend_view(
    get=extend_schema(
        parameters=SERVICE_LIST_PARAMETERS,
        responses=ServiceListSerializer,
        summary="List services: a member's own, every one for the project's admins",
        operation_id="listServices",
    )
)
class ServiceListView(FilteredListView):
    """The services the caller sees, newest first; a document launches one."""

    admin_writes = False  # members launch services
    conflicts_on = ("POST",)  # the name is taken
    kind = "ServiceList"
    query_parameters = {"GET": parameter_names(SERVICE_LIST_PARAMETERS)}
    filterset_class = ServiceFilter
    filter_parameters = {"q": "q", "state": "state"}
    choice_parameters = ("state",)
    ordering = ("-created_at", "-pk")

    def get_queryset(self):
        return Service.objects.visible_in(self.project, self.request.user)

    def documents(self, page):
        return [service_document(service, self.project) for service in page]

    @extend_schema(
        request=ServiceDocumentSerializer,
        responses={201: ServiceDocumentSerializer},
        summary="Launch a service: a catalog profile onto a compute instance of the project",
        operation_id="launchService",
    )
    def post(self, request, project: str):
        document = parse(ServiceDocumentSerializer, request.data)
        metadata, spec = document["metadata"], document["spec"]
        causes = _project_causes(metadata, self.project)
        reference = spec["serviceProfile"]
        profile = (
            ServiceProfile.objects.in_catalog_of(self.project)
            .filter(project__name=reference["project"], name=reference["name"])
            .select_related("project")
            .first()
        )
        if profile is None:
            causes.append(
                (
                    "spec.serviceProfile",
                    f"The catalog of {self.project.name} has no profile “{reference['name']}” "
                    f"of project {reference['project']}.",
                )
            )
        instance = ComputeInstance.objects.filter(
            project=self.project, name=spec["computeInstance"]
        ).first()
        if instance is None:
            causes.append(
                (
                    "spec.computeInstance",
                    f"Project {self.project.name} has no compute instance "
                    f"“{spec['computeInstance']}”.",
                )
            )
        submitted, positions, variable_causes = submitted_variables(spec["variables"])
        causes += variable_causes
        if causes:
            raise DocumentError(causes)
        try:
            service = compute.launch(
                project=self.project,
                actor=request.user,
                profile=profile,
                name=metadata["name"],
                instance=instance,
                submitted=submitted,
            )
        except InputProblems as refused:
            pinned = profile.revisions.get(number=profile.revision).document
            declared = {item["name"] for item in pinned["spec"]["inputs"]}
            raise DocumentError(input_causes(refused.problems, positions, declared)) from None
        except compute.LaunchRefused as refused:
            if refused.field == "name":
                raise Conflict(str(refused)) from None
            path = LAUNCH_PATHS.get(refused.field, "spec.serviceProfile")
            raise DocumentError([(path, str(refused))]) from None
        return Response(service_document(service, self.project), status=status.HTTP_201_CREATED)


class ServiceView(ProjectAPIView):
    """A service the caller sees: 404 for another member's, as for a missing one."""

    admin_writes = False  # members destroy their own services

    def get_service(self, name: str) -> Service:
        return get_object_or_404(
            Service.objects.visible_in(self.project, self.request.user), name=name
        )


class ServiceDetailView(ServiceView):
    conflicts_on = ("DELETE",)  # its run has not finished

    @extend_schema(
        responses=ServiceDocumentSerializer,
        summary="Get a service: its state, pinned revision and outputs",
        operation_id="getService",
    )
    def get(self, request, project: str, name: str):
        service = self.get_service(name)
        if reap_stale_runs(service=service):  # a run whose worker died is failed first
            service.refresh_from_db()
        return Response(service_document(service, self.project))

    @extend_schema(
        responses={202: ServiceDocumentSerializer},
        summary="Destroy a service: queue its destroy run (running or failed services only)",
        operation_id="destroyService",
    )
    def delete(self, request, project: str, name: str):
        service = self.get_service(name)
        try:
            compute.destroy(service=service, actor=request.user)
        except compute.RunRefused as refused:
            raise Conflict(str(refused)) from None
        service.refresh_from_db()
        return Response(service_document(service, self.project), status=status.HTTP_202_ACCEPTED)


class ServiceRunsView(ServiceView):
    query_parameters = {"GET": parameter_names(PAGING)}

    @extend_schema(
        parameters=PAGING,
        responses=RunListSerializer,
        summary="A service's runs, newest first, with their logs",
        operation_id="listServiceRuns",
    )
    def get(self, request, project: str, name: str):
        limit, offset = paging(request)
        service = self.get_service(name)
        reap_stale_runs(service=service)
        runs = service.runs.order_by("-created_at", "-pk")
        count = runs.count()
        items = [run_document(run) for run in runs[offset : offset + limit]]
        return Response(list_document("ServiceRunList", items, count))
