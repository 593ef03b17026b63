"""The profile document of SPEC §4: one shape for snapshots, the API, export and apply."""

from datetime import datetime
from typing import Any

from profiles.models import ServiceProfile

API_VERSION = "paas.envmgmt.io/v1"


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _username(user) -> str | None:
    return user.get_username() if user else None


def input_document(setting, *, include_secrets: bool = False) -> dict[str, Any]:
    override: dict[str, Any] = {"type": setting.override}
    if setting.override == "restricted":
        override["restrictedValues"] = list(setting.restricted_values)
    document: dict[str, Any] = {
        "name": setting.name,
        "displayName": setting.display_name,
        "description": setting.description,
    }
    if not setting.sensitive or include_secrets:
        document["value"] = setting.effective_value
    document |= {"required": setting.required, "sensitive": setting.sensitive, "override": override}
    return document


def profile_document(profile: ServiceProfile, *, include_secrets: bool = False) -> dict[str, Any]:
    """The whole profile as a document; sensitive values only when ``include_secrets``.

    Reads ``inputs``, ``outputs`` and ``shared_with`` through ``.all()``, so a list can
    prefetch them.
    """
    version = profile.template_version
    sharing: dict[str, Any] = {"type": profile.sharing}
    if profile.sharing == "selected":
        sharing["projects"] = sorted(p.name for p in profile.shared_with.all())
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
            "inputs": [
                input_document(s, include_secrets=include_secrets) for s in profile.inputs.all()
            ],
            "outputs": [
                {
                    "name": o.name,
                    "displayName": o.display_name,
                    "description": o.description,
                    "sensitive": o.sensitive,
                }
                for o in profile.outputs.all()
            ],
            "sharing": sharing,
        },
        "status": {
            "state": profile.status,
            "createdAt": _timestamp(profile.created_at),
            "createdBy": _username(profile.created_by),
            "modifiedAt": _timestamp(profile.modified_at),
            "modifiedBy": _username(profile.modified_by),
        },
    }


def profile_secrets(profile: ServiceProfile) -> dict[str, str]:
    """The sensitive input values, by variable name."""
    return {s.name: s.secret for s in profile.inputs.all() if s.sensitive and s.secret}


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
