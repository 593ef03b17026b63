"""What every API endpoint shares: YAML as well as JSON, one error shape, size limits, access.

Errors are ``kind: Status`` documents naming each field by its document path::

    {"apiVersion": "paas.envmgmt.io/v1", "kind": "Status", "code": 400, "reason": "Invalid",
     "message": "...", "details": {"causes": [{"field": "spec.inputs[0].value", "message": "..."}]}}
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from profiles.documents import API_VERSION, DocumentError
from studio import access
from studio.models import Project


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
    if isinstance(exc, DocumentError):
        return Response(status_document(400, "The document is invalid.", exc.causes), status=400)
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
        message = "The document is invalid." if causes else "The request is invalid."
        response.data = status_document(response.status_code, message, causes)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = status_document(response.status_code, str(detail))
    return response


class ProjectAPIView(APIView):
    """An endpoint under ``projects/{project}/``: resolves the project with the user's role.

    Outsiders get 404 (through :func:`access.project_for`), members 403 where ``admin_only``
    or on writes where ``admin_writes``; bodies over API_MAX_BODY_BYTES get 413.
    """

    admin_only = False
    admin_writes = True

    def initial(self, request, *args, **kwargs) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"The request body may be at most {settings.API_MAX_BODY_BYTES:,} bytes."
            )
        super().initial(request, *args, **kwargs)
        self.project = access.project_for(request.user, kwargs["project"])
        writing = request.method not in ("GET", "HEAD", "OPTIONS")
        if (self.admin_only or (writing and self.admin_writes)) and not access.is_admin(
            self.project
        ):
            raise exceptions.PermissionDenied("Only the project's admins may do this.")


ProjectListSerializer = inline_serializer(
    "ProjectList",
    fields={
        "apiVersion": serializers.CharField(),
        "kind": serializers.CharField(),
        "metadata": inline_serializer(
            "ProjectListMetadata", fields={"count": serializers.IntegerField()}
        ),
        "items": inline_serializer(
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
                    fields={"role": serializers.ChoiceField(choices=["admin", "member"])},
                ),
            },
        ),
    },
)


class ProjectListView(APIView):
    """The projects the caller belongs to, with their role."""

    @extend_schema(
        responses=ProjectListSerializer, operation_id="listProjects", summary="Your projects"
    )
    def get(self, request):
        projects = access.projects_with_role(request.user).order_by("name")
        items = [project_document(p) for p in projects]
        return Response(
            {
                "apiVersion": API_VERSION,
                "kind": "ProjectList",
                "metadata": {"count": len(items)},
                "items": items,
            }
        )


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
    """drf-spectacular hook: request bodies (our strict documents) allow no other keys."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and "properties" in component:
            component["additionalProperties"] = False
    return result
