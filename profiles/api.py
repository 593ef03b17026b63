"""REST API for service profiles and environment templates (SPEC §4 documents).

Service profile endpoints are PaaS Studio's: for the project's admins (members 403). Template
endpoints may be read by anyone in the project. The views are thin: shapes are checked by
profiles.serializers, writes go through profiles.services, access through studio.access.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from profiles import rules, services
from profiles.documents import (
    API_VERSION,
    DocumentError,
    profile_document,
    template_document,
)
from profiles.filters import ServiceProfileFilter
from profiles.models import (
    EnvironmentTemplate,
    ProfileEvent,
    ServiceProfile,
    TemplateVersion,
)
from profiles.serializers import (
    ProfileDocumentSerializer,
    ResourceNameField,
    SharingSerializer,
    StrictSerializer,
    TemplateDocumentSerializer,
)
from studio import access
from studio.api import Conflict, ProjectAPIView, list_serializer
from studio.models import Project
from studio.validators import validate_resource_name

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000

PAGING = [
    OpenApiParameter(
        "q",
        {"type": "string", "pattern": "^[^\\u0000]*$"},  # a NUL character is a 400
        description="Words to find in name, display name, description.",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        description=f"At most this many items (1 to {MAX_LIMIT}).",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        description="Skip this many items.",
    ),
]
SERVICE_TYPE = OpenApiParameter(
    "serviceType",
    str,
    enum=ServiceProfile.ServiceType.values,
    description="Only profiles of this service type (leave the parameter out for all).",
)


LIST_PARAMETERS = [*PAGING, SERVICE_TYPE]


def parameter_names(parameters: list[OpenApiParameter]) -> tuple[str, ...]:
    """The names a view's ``query_parameters`` takes: those its schema documents."""
    return tuple(parameter.name for parameter in parameters)


def paging(request) -> tuple[int, int]:
    """``limit`` and ``offset`` from the query string; 400 naming the parameter when bad."""
    values = {}
    for name, default, low, high in [
        ("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        ("offset", 0, 0, MAX_OFFSET),
    ]:
        raw = request.query_params.get(name, str(default))
        if not (raw.isascii() and raw.isdigit() and len(raw) < 12 and low <= int(raw) <= high):
            raise serializers.ValidationError(
                {name: [f"Give a whole number from {low} to {high:,}."]}
            )
        values[name] = int(raw)
    return values["limit"], values["offset"]


def choice_param(request, name: str) -> str:
    """A query parameter whose schema lists fixed values: present but empty is a 400 too
    (django-filter would read it as no filter at all)."""
    value = request.query_params.get(name)
    if value == "":
        raise serializers.ValidationError(
            {name: ["Give one of the listed values, or leave the parameter out."]}
        )
    return value or ""


def filter_errors(filters, names: dict[str, str]) -> serializers.ValidationError:
    """A filter form's errors under the query parameters' own names."""
    return serializers.ValidationError(
        {names.get(field, field): messages for field, messages in filters.errors.items()}
    )


def list_document(kind: str, items: list, count: int) -> dict:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"count": count}, "items": items}


def documents_queryset(queryset):
    """What profile_document reads, fetched in a fixed number of queries."""
    return queryset.select_related(
        "project", "template_version__template", "created_by", "modified_by"
    ).prefetch_related("inputs", "outputs", "shared_with")


def parse_document(data) -> dict:
    serializer = ProfileDocumentSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@contextmanager
def creating_profile(project: Project, name: str) -> Iterator[None]:
    """:func:`services.creating_profile`, a taken name answered with 409."""
    try:
        with services.creating_profile(project=project, name=name):
            yield
    except services.NameTaken as taken:
        raise Conflict(str(taken)) from None


ProfileListSerializer = list_serializer("ServiceProfileList", ProfileDocumentSerializer(many=True))


class ProfileListView(ProjectAPIView):
    admin_only = True
    query_parameters = {"GET": parameter_names(LIST_PARAMETERS)}
    conflicts_on = ("POST",)  # the name is taken

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses=ProfileListSerializer,
        summary="List the project's service profiles and those shared with it",
        operation_id="listServiceProfiles",
    )
    def get(self, request, project: str):
        limit, offset = paging(request)
        queryset = ServiceProfile.objects.visible_to(self.project)
        filters = ServiceProfileFilter(
            {
                "q": request.query_params.get("q", ""),
                "service_type": choice_param(request, "serviceType"),
            },
            queryset=queryset,
        )
        if not filters.is_valid():
            raise filter_errors(filters, {"service_type": "serviceType"})
        queryset = filters.qs.order_by("name", "project__name")
        count = queryset.count()
        page = documents_queryset(queryset)[offset : offset + limit]
        items = [profile_document(p, viewer=self.project) for p in page]
        return Response(list_document("ServiceProfileList", items, count))

    @extend_schema(
        request=ProfileDocumentSerializer,
        responses={201: ProfileDocumentSerializer},
        summary="Create a service profile from a document",
        operation_id="createServiceProfile",
    )
    def post(self, request, project: str):
        document = parse_document(request.data)
        with creating_profile(self.project, document["metadata"]["name"]):
            profile, _ = services.apply_profile_document(
                project=self.project, document=document, actor=request.user
            )
        return Response(profile_document(profile), status=status.HTTP_201_CREATED)


class ProfileDetailView(ProjectAPIView):
    admin_only = True
    conflicts_on = ("PUT", "PATCH")  # a stale metadata.revision

    def get_profile(self, name: str) -> ServiceProfile:
        return get_object_or_404(
            documents_queryset(ServiceProfile.objects.editable_in(self.project)), name=name
        )

    def lock_profile(self, name: str) -> ServiceProfile:
        """The profile, read after taking its row lock (held until the transaction ends).

        The lock is taken on the bare row: PostgreSQL cannot lock the nullable side of an outer
        join, and the read that follows, a new statement, sees the last save before the lock.
        """
        get_object_or_404(
            ServiceProfile.objects.editable_in(self.project).select_for_update(), name=name
        )
        return self.get_profile(name)

    @extend_schema(
        responses=ProfileDocumentSerializer,
        summary="Get a service profile (the project's own, else one shared with it)",
        operation_id="getServiceProfile",
    )
    def get(self, request, project: str, name: str):
        # What the list shows can be read here: the project's own profile of that name, or
        # else one shared into the project (the system's first, then by owning project).
        visible = ServiceProfile.objects.visible_to(self.project).filter(name=name)
        profile = access.first_as_seen_by(documents_queryset(visible), self.project)
        if profile is None:
            raise Http404
        return Response(profile_document(profile, viewer=self.project))

    def _replace(self, request, name: str, document: dict) -> Response:
        """Apply a whole document; the caller holds the profile's row lock."""
        if document["metadata"]["name"] != name:
            raise serializers.ValidationError(
                {"metadata": {"name": ["The unique name cannot be changed."]}}
            )
        try:
            profile, _ = services.apply_profile_document(
                project=self.project,
                document=document,
                actor=request.user,
                expected_revision=document["metadata"].get("revision"),
            )
        except services.StaleEdit as stale:
            raise Conflict(str(stale)) from None
        return Response(profile_document(profile, viewer=self.project))

    @extend_schema(
        request=ProfileDocumentSerializer,
        responses=ProfileDocumentSerializer,
        summary="Replace a service profile (send metadata.revision for the stale-write check)",
        operation_id="replaceServiceProfile",
    )
    def put(self, request, project: str, name: str):
        with transaction.atomic():
            # Locked first, so that a profile deleted meanwhile is 404, not created anew.
            self.lock_profile(name)
            return self._replace(request, name, parse_document(request.data))

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/yaml": OpenApiTypes.OBJECT,
        },
        responses=ProfileDocumentSerializer,
        summary="Change part of a service profile (JSON merge patch)",
        operation_id="patchServiceProfile",
    )
    def patch(self, request, project: str, name: str):
        # Read, merge and write under one row lock: a patch merged into a document that another
        # write then replaces would undo that write, though both were answered 200.
        with transaction.atomic():
            current = profile_document(self.lock_profile(name))
            if not isinstance(request.data, dict):
                raise serializers.ValidationError({"": ["Send a JSON (or YAML) object."]})
            current["metadata"].pop("revision")
            current.pop("status")
            merged = merge_patch(current, request.data)
            return self._replace(request, name, parse_document(merged))

    @extend_schema(
        responses={204: None},
        summary="Delete a service profile for good",
        operation_id="deleteServiceProfile",
    )
    def delete(self, request, project: str, name: str):
        with transaction.atomic():
            services.delete_profile(profile=self.lock_profile(name), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileSharingView(ProjectAPIView):
    admin_only = True

    def sharing_of(self, profile: ServiceProfile) -> dict:
        return {
            "type": profile.sharing,
            "projects": sorted(p.name for p in profile.shared_with.all()),
        }

    @extend_schema(
        responses=SharingSerializer,
        summary="Get a profile's sharing",
        operation_id="getServiceProfileSharing",
    )
    def get(self, request, project: str, name: str):
        profile = get_object_or_404(ServiceProfile.objects.editable_in(self.project), name=name)
        return Response(self.sharing_of(profile))

    @extend_schema(
        request=SharingSerializer,
        responses=SharingSerializer,
        summary="Change a profile's sharing",
        operation_id="replaceServiceProfileSharing",
    )
    def put(self, request, project: str, name: str):
        # The sharing replaces whatever is saved when it lands: read under the row lock, the
        # revision save_section checks is the current one, never one a concurrent write passed.
        with transaction.atomic():
            profile = get_object_or_404(
                ServiceProfile.objects.editable_in(self.project).select_for_update(), name=name
            )
            serializer = SharingSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            targets, causes = services.sharing_targets(
                owner=self.project, sharing=serializer.validated_data, prefix=""
            )
            if causes:
                raise DocumentError(causes)

            def apply() -> None:
                profile.sharing = serializer.validated_data["type"]
                profile.save(update_fields=["sharing"])
                profile.shared_with.set(targets)

            services.save_section(
                profile=profile,
                actor=request.user,
                expected_revision=profile.revision,
                apply=apply,
                action=ProfileEvent.Action.SHARING_CHANGED,
            )
        return Response(self.sharing_of(profile))


class CloneSerializer(StrictSerializer):
    name = ResourceNameField(validators=[validate_resource_name])


class ProfileCloneView(ProjectAPIView):
    admin_only = True
    conflicts_on = ("POST",)  # the name is taken

    @extend_schema(
        request=CloneSerializer,
        responses={201: ProfileDocumentSerializer},
        summary="Clone a system profile into the project, as a draft",
        operation_id="cloneSystemProfile",
    )
    def post(self, request, project: str, name: str):
        source = get_object_or_404(ServiceProfile.objects.system(), name=name)
        serializer = CloneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new_name = serializer.validated_data["name"]
        problems = rules.version_problems(self.project, source.template_version)
        if problems:
            raise DocumentError(
                [
                    ("spec.environmentTemplate.version", message)
                    for messages in problems.values()
                    for message in messages
                ]
            )
        with creating_profile(self.project, new_name):
            profile = services.clone_profile(
                source=source, project=self.project, name=new_name, actor=request.user
            )
        return Response(profile_document(profile), status=status.HTTP_201_CREATED)


# Environment templates ------------------------------------------------------------------------


def templates_queryset(project: Project):
    return (
        EnvironmentTemplate.objects.available_to(project)
        .select_related("project")
        .prefetch_related(
            "shared_with",
            Prefetch(
                "versions",
                queryset=TemplateVersion.objects.prefetch_related("variables", "outputs"),
            ),
        )
        .order_by("name", "project__name")
    )


TemplateListSerializer = list_serializer(
    "EnvironmentTemplateList", TemplateDocumentSerializer(many=True)
)


class TemplateListView(ProjectAPIView):
    query_parameters = {"GET": parameter_names(PAGING[1:])}

    @extend_schema(
        parameters=PAGING[1:],
        responses=TemplateListSerializer,
        summary="Environment templates the project may build on",
        operation_id="listEnvironmentTemplates",
    )
    def get(self, request, project: str):
        limit, offset = paging(request)
        queryset = templates_queryset(self.project)
        count = queryset.count()
        items = [
            template_document(t, viewer=self.project) for t in queryset[offset : offset + limit]
        ]
        return Response(list_document("EnvironmentTemplateList", items, count))


class TemplateDetailView(ProjectAPIView):
    @extend_schema(
        responses=TemplateDocumentSerializer,
        summary="Get an environment template",
        operation_id="getEnvironmentTemplate",
    )
    def get(self, request, project: str, name: str):
        found = EnvironmentTemplate.objects.named_for(self.project, name)
        template = get_object_or_404(
            templates_queryset(self.project), pk=getattr(found, "pk", None)
        )
        return Response(template_document(template, viewer=self.project))
