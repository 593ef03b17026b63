"""The profile document of SPEC §4: one shape for snapshots, the API, export and apply."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from profiles.choices import Override, Sharing
from profiles.models import EnvironmentTemplate, ServiceProfile, TemplateVersion
from studio import access
from studio.api import API_VERSION, FieldErrors
from studio.models import Project


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _username(user) -> str | None:
    return user.get_username() if user else None


def input_document(setting, *, include_secrets: bool = False) -> dict[str, Any]:
    """A profile input (or a template variable: it has no display name)."""
    override: dict[str, Any] = {"type": setting.override}
    if setting.override == Override.RESTRICTED:
        override["restrictedValues"] = list(setting.restricted_values)
    document: dict[str, Any] = {
        "name": setting.name,
        "displayName": getattr(setting, "display_name", ""),
        "description": setting.description,
    }
    if not setting.sensitive or include_secrets:
        document["value"] = setting.effective_value
    document |= {"required": setting.required, "sensitive": setting.sensitive, "override": override}
    return document


@dataclass(frozen=True)
class Parts:
    """A profile's related rows as the caller holds them: what a document of changes not yet
    saved (or just written) is made of, without reading them back."""

    inputs: Sequence
    outputs: Sequence
    shared_with: Sequence[Project]


def sharing_document(obj, viewer=None, shared_with=None) -> dict[str, Any]:
    """A profile's or template's ``sharing`` as ``viewer`` may know it (SPEC §2).

    Whom it is shared with is the owner's business: the whole list goes to the owning project's
    admins (and when no viewer is named: exports, snapshots). Anyone else sees the type and, of
    the list, only their own project when it is on it.
    """
    sharing: dict[str, Any] = {"type": obj.sharing}
    if obj.sharing != Sharing.SELECTED:
        return sharing
    if shared_with is None:
        shared_with = obj.shared_with.all()
    names = sorted(p.name for p in shared_with)
    if viewer is None or (viewer.pk == obj.project_id and access.is_admin(viewer)):
        sharing["projects"] = names
    elif viewer.name in names:
        sharing["projects"] = [viewer.name]
    return sharing


def profile_document(
    profile: ServiceProfile,
    *,
    include_secrets: bool = False,
    viewer=None,
    parts: Parts | None = None,
) -> dict[str, Any]:
    """The whole profile as a document; sensitive values only when ``include_secrets``.

    ``viewer``, the project asking (with the caller's role), sees the sharing list only if
    its admins own the profile: see :func:`sharing_document`.

    Reads ``inputs``, ``outputs`` and ``shared_with`` through ``.all()``, so a list can
    prefetch them, unless ``parts`` gives them.
    """
    if parts is None:
        parts = Parts(profile.inputs.all(), profile.outputs.all(), profile.shared_with.all())
    version = profile.template_version
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceProfile",
        "metadata": {
            "name": profile.name,
            "project": profile.project.name,
            "displayName": profile.display_name,
            "description": profile.description,
            "labels": dict(profile.labels),
            "annotations": dict(profile.annotations),
            "revision": profile.revision,
        },
        "spec": {
            "environmentTemplate": {"name": version.template.name, "version": version.name},
            "serviceType": profile.service_type,
            "iconURL": profile.icon_url,
            "readme": profile.readme,
            "extraConfig": dict(profile.extra_config),
            "inputs": [input_document(s, include_secrets=include_secrets) for s in parts.inputs],
            "outputs": [
                {
                    "name": o.name,
                    "displayName": o.display_name,
                    "description": o.description,
                    "sensitive": o.sensitive,
                }
                for o in parts.outputs
            ],
            "sharing": sharing_document(profile, viewer, parts.shared_with),
        },
        "status": {
            "state": profile.status,
            "createdAt": _timestamp(profile.created_at),
            "createdBy": _username(profile.created_by),
            "modifiedAt": _timestamp(profile.modified_at),
            "modifiedBy": _username(profile.modified_by),
        },
    }


def documents_queryset(queryset: QuerySet[ServiceProfile]) -> QuerySet[ServiceProfile]:
    """What :func:`profile_document` reads, fetched in a fixed number of queries."""
    return queryset.select_related(
        "project", "template_version__template", "created_by", "modified_by"
    ).prefetch_related("inputs", "outputs", "shared_with")


def templates_queryset(project: Project) -> QuerySet[EnvironmentTemplate]:
    """The templates ``project`` may build on, with what :func:`template_document` reads."""
    return with_versions(EnvironmentTemplate.objects.available_to(project)).order_by(
        "name", "project__name"
    )


def with_versions(templates: QuerySet[EnvironmentTemplate]) -> QuerySet[EnvironmentTemplate]:
    """``templates`` with their project, sharing, and versions with variables and outputs."""
    return templates.select_related("project").prefetch_related(
        "shared_with",
        Prefetch(
            "versions", queryset=TemplateVersion.objects.prefetch_related("variables", "outputs")
        ),
    )


def profile_secrets(profile: ServiceProfile, parts: Parts | None = None) -> dict[str, str]:
    """The sensitive input values, by variable name."""
    inputs = profile.inputs.all() if parts is None else parts.inputs
    return {s.name: s.secret for s in inputs if s.sensitive and s.secret}


def content_of(document: dict[str, Any]) -> dict[str, Any]:
    """What a person changed: the document without its bookkeeping (revision, timestamps)."""
    metadata = {k: v for k, v in document["metadata"].items() if k != "revision"}
    return {"metadata": metadata, "spec": document["spec"], "state": document["status"]["state"]}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Dotted paths of the fields that differ between two documents, in document order."""
    changes: list[str] = []

    def walk(old: Any, new: Any, path: str) -> None:
        if isinstance(old, dict) and isinstance(new, dict) and path.count(".") < 1:
            for key in dict.fromkeys([*new, *old]):  # the fresh side keeps document order
                walk(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        elif old != new:
            changes.append(path)

    walk(content_of(before), content_of(after), "")
    return changes


def document_diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, str]]:
    """Field by field, what differs between two revisions' documents: each changed path with
    its value on either side (JSON text for what is not text), in document order."""
    rows = []
    for path in changed_fields(before, after):
        section, _, key = path.partition(".")
        rows.append(
            {
                "path": path,
                "before": _shown(_at(before, section, key)),
                "after": _shown(_at(after, section, key)),
            }
        )
    return rows


def _at(document: dict[str, Any], section: str, key: str) -> Any:
    if section == "state":
        return document.get("status", {}).get("state")
    value = document.get(section, {})
    return value.get(key) if key else value


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


# Reading documents: model field names to document paths, for error messages --------------------

PROFILE_PATHS = {
    "name": "metadata.name",
    "display_name": "metadata.displayName",
    "description": "metadata.description",
    "labels": "metadata.labels",
    "annotations": "metadata.annotations",
    "template_version": "spec.environmentTemplate.version",
    "service_type": "spec.serviceType",
    "icon_url": "spec.iconURL",
    "readme": "spec.readme",
    "extra_config": "spec.extraConfig",
    "sharing": "spec.sharing.type",
    "shared_with": "spec.sharing.projects",
}
INPUT_PATHS = {
    "name": "name",
    "value": "value",
    "display_name": "displayName",
    "description": "description",
    "required": "required",
    "sensitive": "sensitive",
    "override": "override.type",
    "restricted_values": "override.restrictedValues",
}
TEMPLATE_PATHS = {
    "name": "metadata.name",
    "display_name": "metadata.displayName",
    "description": "metadata.description",
    "sharing": "spec.sharing.type",
    "shared_with": "spec.sharing.projects",
}
VERSION_PATHS = {
    "name": "name",
    "state": "state",
    "code_repository": "code.repository",
    "code_path": "code.path",
    "code_revision": "code.revision",
    "code_inline": "code.inline",
    "__all__": "code",
}
OUTPUT_PATHS = {
    "name": "name",
    "display_name": "displayName",
    "description": "description",
    "sensitive": "sensitive",
}


class DocumentError(FieldErrors):
    """A document that cannot be applied; ``causes`` pairs each document path with a message."""

    message = "The document is invalid."


def causes_from(error, paths: dict[str, str], prefix: str = "") -> list[tuple[str, str]]:
    """Document-path causes from a Django ValidationError raised by a model's full_clean()."""
    found = []
    for field, messages in error.message_dict.items():
        path = paths.get(field, field if field != "__all__" else "")
        found.extend(((prefix + path).rstrip("."), message) for message in messages)
    return found


def clean_for_export(document: dict[str, Any]) -> dict[str, Any]:
    """A document as code keeps it: without its read-only bookkeeping (revision, status)."""
    document = {key: value for key, value in document.items() if key != "status"}
    document["metadata"] = {k: v for k, v in document["metadata"].items() if k != "revision"}
    return document


def template_document(template, *, include_secrets: bool = False, viewer=None) -> dict[str, Any]:
    """An environment template with its versions (``kind: EnvironmentTemplate``).

    Reads ``versions`` (each with ``variables`` and ``outputs``) and ``shared_with`` through
    ``.all()``, so a list can prefetch them.
    """
    versions = []
    for version in template.versions.all():
        code = (
            {"inline": version.code_inline}
            if version.code_inline
            else {
                "repository": version.code_repository,
                "path": version.code_path,
                "revision": version.code_revision,
            }
        )
        variables = []
        for variable in version.variables.all():
            item = input_document(variable, include_secrets=include_secrets)
            item.pop("displayName")
            variables.append({"name": item.pop("name"), "valueType": variable.value_type, **item})
        versions.append(
            {
                "name": version.name,
                "state": version.state,
                "code": code,
                "variables": variables,
                "outputs": [
                    {"name": o.name, "description": o.description, "sensitive": o.sensitive}
                    for o in version.outputs.all()
                ],
            }
        )
    return {
        "apiVersion": API_VERSION,
        "kind": "EnvironmentTemplate",
        "metadata": {
            "name": template.name,
            "project": template.project.name,
            "displayName": template.display_name,
            "description": template.description,
        },
        "spec": {"sharing": sharing_document(template, viewer), "versions": versions},
    }
