"""REST API for service profiles and environment templates (SPEC §4 documents).

Service profile endpoints are PaaS Studio's: for the project's admins (members 403). Template
endpoints may be read by anyone in the project. The views are thin: shapes are checked by
profiles.serializers, writes go through profiles.services, access through studio.access.
"""

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from profiles import applying, services, visibility
from profiles.documents import (
    DocumentError,
    documents_queryset,
    profile_document,
    template_document,
    templates_queryset,
)
from profiles.filters import VisibleProfileFilter
from profiles.models import EnvironmentTemplate, ServiceProfile, Visibility
from profiles.serializers import (
    ProfileDocumentSerializer,
    ResourceNameField,
    SharingSerializer,
    StrictSerializer,
    TemplateDocumentSerializer,
)
from studio.api import (
    PAGING,
    SEARCH,
    Conflict,
    FilteredListView,
    ProjectAPIView,
    list_document,
    list_serializer,
    paging,
    parameter_names,
)
from studio.models import Project
from studio.validators import validate_listed_name

SERVICE_TYPE = OpenApiParameter(
    "serviceType",
    str,
    enum=ServiceProfile.ServiceType.values,
    description="Only profiles of this service type (leave the parameter out for all).",
)
LIST_PARAMETERS = [SEARCH, *PAGING, SERVICE_TYPE]


class ProfileDocumentListView(FilteredListView):
    """A list of profile documents, searched and filtered by service type (Studio, catalog)."""

    kind = "ServiceProfileList"
    query_parameters = {"GET": parameter_names(LIST_PARAMETERS)}
    choice_parameters = ("serviceType",)
    kept = True

    # What is listed is the project's visibility rows (profiles.models.Visibility): they hold
    # what lists filter by type, count and sort by, so only the page's profiles are read.

    def profiles(self, page) -> list[ServiceProfile]:
        """The profiles of a page of visibility rows, with what :func:`profile_document`
        reads."""
        return visibility.profiles_of(page, documents_queryset(ServiceProfile.objects.all()))


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


@extend_schema_view(
    get=extend_schema(
        parameters=LIST_PARAMETERS,
        responses=ProfileListSerializer,
        summary="List the project's service profiles and those shared with it",
        operation_id="listServiceProfiles",
    )
)
class ProfileListView(ProfileDocumentListView):
    """The project's service profiles, with those shared with it; a document creates one."""

    admin_only = True
    conflicts_on = ("POST",)  # the name is taken
    filterset_class = VisibleProfileFilter
    filter_parameters = {"q": "q", "serviceType": "service_type"}
    ordering = ("name", "owner_name")

    def get_queryset(self):
        return Visibility.objects.seen_by(self.project)

    def documents(self, page):
        return [profile_document(p, viewer=self.project) for p in self.profiles(page)]

    @extend_schema(
        request=ProfileDocumentSerializer,
        responses={201: ProfileDocumentSerializer},
        summary="Create a service profile from a document",
        operation_id="createServiceProfile",
    )
    def post(self, request, project: str):
        document = parse_document(request.data)
        with creating_profile(self.project, document["metadata"]["name"]):
            profile, _ = applying.apply_profile_document(
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
        profile = documents_queryset(visible).first_as_seen_by(self.project)
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
            profile, _ = applying.apply_profile_document(
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
        # revision the save checks is the current one, never one a concurrent write passed.
        with transaction.atomic():
            profile = get_object_or_404(
                ServiceProfile.objects.editable_in(self.project).select_for_update(), name=name
            )
            serializer = SharingSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            targets, causes = applying.sharing_targets(
                owner=self.project, sharing=serializer.validated_data, prefix=""
            )
            if causes:
                raise DocumentError(causes)
            services.save_sharing(
                profile=profile,
                actor=request.user,
                expected_revision=profile.revision,
                sharing=serializer.validated_data["type"],
                projects=targets,
            )
        return Response(self.sharing_of(profile))


class CloneSerializer(StrictSerializer):
    name = ResourceNameField(validators=[validate_listed_name])


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
        problems = source.template_version.problems_in(self.project)
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


TemplateListSerializer = list_serializer(
    "EnvironmentTemplateList", TemplateDocumentSerializer(many=True)
)


class TemplateListView(ProjectAPIView):
    query_parameters = {"GET": parameter_names(PAGING)}

    @extend_schema(
        parameters=PAGING,
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
