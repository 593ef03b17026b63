"""What every API endpoint shares: YAML as well as JSON, one error shape, size limits, access.

Errors are ``kind: Status`` documents naming each field by its document path::

    {"apiVersion": "paas.envmgmt.io/v1", "kind": "Status", "code": 400, "reason": "Invalid",
     "message": "...", "details": {"causes": [{"field": "spec.inputs[0].value", "message": "..."}]}}
"""

import hashlib
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db.models import QuerySet
from django.http import Http404
from django_filters import FilterSet
from drf_spectacular import openapi
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from studio import access, freshness
from studio.models import Project, Role

API_VERSION = "paas.envmgmt.io/v1"


class FieldErrors(Exception):
    """A request refused field by field, answered 400: ``causes`` pairs each field (a document
    path such as ``spec.inputs[0].value``, or a query parameter) with a message."""

    message = "The request is invalid."

    def __init__(self, causes: list[tuple[str, str]]) -> None:
        self.causes = causes
        super().__init__("; ".join(f"{path}: {message}" for path, message in causes))


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource changed or exists already."
    default_code = "conflict"


REASONS = {
    400: "Invalid",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}


def status_document(code: int, message: str, causes: list[tuple[str, str]] = ()) -> dict:
    document = {
        "apiVersion": API_VERSION,
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": REASONS.get(code, "Error"),
        "message": message,
    }
    if causes:
        document["details"] = {"causes": [{"field": f, "message": m} for f, m in causes]}
    return document


def flatten(detail: Any, path: str = "") -> list[tuple[str, str]]:
    """DRF's nested error detail as (document path, message) pairs."""
    if isinstance(detail, dict):
        found = []
        for key, value in detail.items():
            if key == "non_field_errors":
                found += flatten(value, path)
            elif isinstance(key, int):  # DRF reports list items as {index: errors}
                found += flatten(value, f"{path}[{key}]")
            else:
                found += flatten(value, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [(path, str(item)) for item in detail]
        found = []
        for index, item in enumerate(detail):
            if item:
                found += flatten(item, f"{path}[{index}]")
        return found
    return [(path, str(detail))]


def handle_exception(exc, context) -> Response | None:
    """REST_FRAMEWORK's EXCEPTION_HANDLER: every error as one ``kind: Status`` document."""
    if isinstance(exc, FieldErrors):
        return Response(status_document(400, exc.message, exc.causes), status=400)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        causes = flatten(exc.detail)
        sent_document = getattr(context.get("request"), "method", "") in BODY_METHODS
        message = (
            "The document is invalid." if causes and sent_document else "The request is invalid."
        )
        response.data = status_document(response.status_code, message, causes)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = status_document(response.status_code, str(detail))
    return response


BODY_METHODS = ("POST", "PUT", "PATCH")


class StrictQueryMixin:
    """Refuses query parameters the operation does not take (``format`` is everyone's): a
    misspelt ``limt=`` is a 400 naming it, not a silently ignored filter. ``query_parameters``
    maps a method to the names it takes."""

    query_parameters: dict[str, tuple[str, ...]] = {}

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # 401 before anything about the request
        if not hasattr(self, request.method.lower()):
            return  # 405 Method Not Allowed comes first
        allowed = {"format", *self.query_parameters.get(request.method, ())}
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            raise serializers.ValidationError(
                {name: ["This operation takes no such query parameter."] for name in unknown}
            )


class ProjectAPIView(StrictQueryMixin, APIView):
    """An endpoint under ``projects/{project}/``: resolves the project with the user's role.

    Outsiders get 404 (through :func:`access.project_for`), members 403 where ``admin_only``
    or on writes where ``admin_writes``; bodies over API_MAX_BODY_BYTES get 413. The methods
    in ``conflicts_on`` may answer 409 (the schema says so).
    """

    admin_only = False
    admin_writes = True
    conflicts_on: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        writing = request.method not in SAFE_METHODS
        if writing and length.isdigit() and int(length) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"The request body may be at most {settings.API_MAX_BODY_BYTES:,} bytes."
            )
        super().initial(request, *args, **kwargs)
        self.project = access.project_for(request.user, kwargs["project"])
        if (self.admin_only or (writing and self.admin_writes)) and not access.is_admin(
            self.project
        ):
            raise exceptions.PermissionDenied("Only the project's admins may do this.")


class UnknownURLView(APIView):
    """Any other URL under the API's prefix: a 404 Status document, not the HTML 404 page
    (and 401 first for anonymous callers, as everywhere in the API)."""

    schema = None  # not an operation of the API

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("There is no such URL in the API.")


# The schema ---------------------------------------------------------------------------------


class StatusCauseSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_blank=True,
        help_text="The document path (spec.inputs[0].value) or query parameter at fault; "
        "empty for the body as a whole.",
    )
    message = serializers.CharField()


class StatusDetailsSerializer(serializers.Serializer):
    causes = StatusCauseSerializer(many=True)


class StatusSerializer(serializers.Serializer):
    """Every error response: a ``kind: Status`` document."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["Status"])
    status = serializers.ChoiceField(choices=["Failure"])
    code = serializers.IntegerField(min_value=400, max_value=599)
    reason = serializers.ChoiceField(choices=sorted(set(REASONS.values())))
    message = serializers.CharField()
    details = StatusDetailsSerializer(required=False)


ERRORS = {
    400: "The request is invalid: a parameter (format, limit, ...) or the document; "
    "details.causes names each field at fault.",
    401: "No valid credentials: send a personal API key in X-API-KEY.",
    403: "Only the project's admins may do this.",
    404: "No such project for the caller, or no such resource in it.",
    406: "The Accept header asks for neither JSON nor YAML.",
    409: "The resource exists already, or changed since the revision sent.",
    413: f"The body is larger than {settings.API_MAX_BODY_BYTES:,} bytes (API_MAX_BODY_BYTES).",
    415: "The body is neither JSON nor YAML.",
    429: "Too many invalid API keys came from the caller's address; retry after Retry-After "
    "seconds.",
}
RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 0},
        "description": "Seconds to wait before trying again.",
    }
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, adding the errors each operation can answer, as Status documents.

    Every operation: 400 (``?format=`` and its parameters), 401, 406, 429 (bad API keys).
    Under ``projects/{project}/``: 404, and 403 where members are refused; with a body, 413
    and 415; 409 on the view's ``conflicts_on`` methods.
    """

    def error_codes(self) -> list[int]:
        codes = [400, 401, 406, 429]
        view, method = self.view, self.method
        if isinstance(view, ProjectAPIView):
            codes.append(404)
            if view.admin_only or (method not in SAFE_METHODS and view.admin_writes):
                codes.append(403)
            if method in view.conflicts_on:
                codes.append(409)
        elif "{" in self.path:
            codes.append(404)
        if method in BODY_METHODS:
            codes += [413, 415]
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            response = self._get_response_for_code(
                OpenApiResponse(StatusSerializer, description=ERRORS[code]),
                str(code),
                direction=direction,
            )
            if code == 429:
                response["headers"] = RETRY_AFTER
            responses.setdefault(str(code), response)
        return responses


# Lists ---------------------------------------------------------------------------------------

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000

SEARCH = OpenApiParameter(
    "q",
    {"type": "string", "pattern": "^[^\\u0000]*$"},  # a NUL character is a 400
    description="Words to find in name, display name, description.",
)
PAGING = [
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


def parameter_names(parameters: list[OpenApiParameter]) -> tuple[str, ...]:
    """The names a view's ``query_parameters`` takes: those its schema documents."""
    return tuple(parameter.name for parameter in parameters)


def paging(request: Request) -> tuple[int, int]:
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


def choice_param(request: Request, name: str) -> str:
    """A query parameter whose schema lists fixed values: present but empty is a 400 too
    (django-filter would read it as no filter at all)."""
    value = request.query_params.get(name)
    if value == "":
        raise serializers.ValidationError(
            {name: ["Give one of the listed values, or leave the parameter out."]}
        )
    return value or ""


def list_document(kind: str, items: list, count: int) -> dict:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"count": count}, "items": items}


class FilteredListView(ProjectAPIView):
    """``GET``: one page of a filtered list, as a ``kind`` list document with the whole count.

    The filter set is the one the HTML page uses; ``filter_parameters`` maps each query
    parameter to its filter (those in ``choice_parameters`` take listed values only), and a
    filter's errors come back under the parameter's name. Subclasses say what is listed
    (:meth:`get_queryset`), in which order, and how a page of it reads (:meth:`documents`);
    their schema goes on with ``extend_schema_view(get=...)``.
    """

    kind: ClassVar[str]
    filterset_class: ClassVar[type[FilterSet]]
    filter_parameters: ClassVar[dict[str, str]]
    choice_parameters: ClassVar[tuple[str, ...]] = ()
    ordering: ClassVar[tuple[str, ...]]
    # A list that shows only what renews the page token (studio.freshness), the same to all
    # who may open it, is kept as the pages keep their results: per project and query.
    kept: ClassVar[bool] = False

    def get_queryset(self) -> QuerySet:
        raise NotImplementedError

    def documents(self, page: QuerySet) -> list[dict]:
        raise NotImplementedError

    def get(self, request: Request, project: str) -> Response:
        if not self.kept:
            return Response(self.listed(request))
        query = sorted((k, v) for k, values in request.query_params.lists() for v in values)
        key = ":".join(
            [
                "api-list",
                freshness.token_of(request),
                self.kind,
                str(self.project.pk),
                hashlib.sha256(repr(query).encode()).hexdigest(),  # any length, any characters
            ]
        )
        kept = caches[freshness.PAGES]
        document = kept.get(key)
        if document is None:
            document = self.listed(request)
            kept.set(key, document)
        return Response(document)

    def listed(self, request: Request) -> dict:
        limit, offset = paging(request)
        data = {
            field: choice_param(request, name)
            if name in self.choice_parameters
            else request.query_params.get(name, "")
            for name, field in self.filter_parameters.items()
        }
        filters = self.filterset_class(data, queryset=self.get_queryset())
        if not filters.is_valid():
            names = {field: name for name, field in self.filter_parameters.items()}
            raise serializers.ValidationError(
                {names.get(field, field): errors for field, errors in filters.errors.items()}
            )
        queryset = filters.qs.order_by(*self.ordering)
        count = queryset.count()
        items = self.documents(queryset[offset : offset + limit])
        return list_document(self.kind, items, count)


# Projects ------------------------------------------------------------------------------------


_LIST_METADATA = inline_serializer("ListMetadata", fields={"count": serializers.IntegerField()})


def list_serializer(name: str, items: serializers.Serializer) -> serializers.Serializer:
    """The schema of a list document: ``kind: <name>``, ``metadata.count`` and ``items``."""
    return inline_serializer(
        name,
        fields={
            "apiVersion": serializers.CharField(),
            "kind": serializers.CharField(),
            "metadata": _LIST_METADATA,
            "items": items,
        },
    )


ProjectListSerializer = list_serializer(
    "ProjectList",
    inline_serializer(
        "Project",
        many=True,
        fields={
            "apiVersion": serializers.CharField(),
            "kind": serializers.CharField(),
            "metadata": inline_serializer(
                "ProjectMetadata",
                fields={
                    "name": serializers.CharField(),
                    "displayName": serializers.CharField(),
                    "description": serializers.CharField(allow_blank=True),
                },
            ),
            "status": inline_serializer(
                "ProjectStatus",
                fields={"role": serializers.ChoiceField(choices=Role.values)},
            ),
        },
    ),
)


class ProjectListView(StrictQueryMixin, APIView):
    """The projects the caller belongs to, with their role."""

    @extend_schema(
        responses=ProjectListSerializer, operation_id="listProjects", summary="Your projects"
    )
    def get(self, request):
        projects = access.projects_with_role(request.user).order_by("name")
        items = [project_document(p) for p in projects]
        return Response(list_document("ProjectList", items, len(items)))


def project_document(project: Project) -> dict:
    return {
        "apiVersion": API_VERSION,
        "kind": "Project",
        "metadata": {
            "name": project.name,
            "displayName": project.display_name,
            "description": project.description,
        },
        "status": {"role": project.role},
    }


def refuse_unknown_keys_in_schema(result, generator, request, public):
    """drf-spectacular hook: request bodies (our strict documents) allow no other keys, and a
    profile's ``status`` is read-only (requests may send it back: it is checked, then ignored)."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and "properties" in component:
            component["additionalProperties"] = False
        elif {"spec", "status"} <= set(component.get("properties", {})):
            component["properties"]["status"]["readOnly"] = True
    return result


# What each profile write answers with leads to the profile's other operations: OpenAPI links,
# so that clients (and schemathesis' stateful tests) can follow a created profile by its name.
PROFILE_OPERATIONS = [
    "getServiceProfile",
    "replaceServiceProfile",
    "patchServiceProfile",
    "deleteServiceProfile",
    "getServiceProfileSharing",
    "replaceServiceProfileSharing",
]
LINKED_FROM = {
    "createServiceProfile": "201",
    "cloneSystemProfile": "201",
    "getServiceProfile": "200",
    "replaceServiceProfile": "200",
    "patchServiceProfile": "200",
}


def link_profile_operations(result, generator, request, public):
    """drf-spectacular hook: OpenAPI links from a profile document to the profile's operations."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            code = LINKED_FROM.get(operation.get("operationId"))
            if code is None or code not in operation.get("responses", {}):
                continue
            operation["responses"][code]["links"] = {
                target: {
                    "operationId": target,
                    "parameters": {
                        "project": "$request.path.project",
                        "name": "$response.body#/metadata/name",
                    },
                    "description": "The profile this response describes.",
                }
                for target in PROFILE_OPERATIONS
                if target != operation["operationId"]
            }
    return result
