"""The domain rules of SPEC §3 that look at more than one value at once.

Each ``*_problems`` function returns ``{field: [message, ...]}`` (empty when all is well) so that
every way in can attach the messages to its own fields: a model's ``clean()`` (the Django
admin), a Studio form, an API serializer. :func:`raise_problems` turns them into the
``ValidationError`` Django forms understand.
"""

from collections.abc import Iterable
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from profiles.choices import Override, Sharing
from profiles.validators import parse_value
from studio.models import Project

Problems = dict[str, list[str]]


class Setting(Protocol):
    """What a template variable and a profile input have in common."""

    required: bool
    sensitive: bool
    override: str
    restricted_values: Any

    @property
    def effective_value(self) -> str: ...


class Variable(Setting, Protocol):
    """A template variable: a setting with a value type."""

    value_type: str


class Version(Protocol):
    """A template version, as the version rule reads it."""

    name: str
    state: str
    is_active: bool


def raise_problems(problems: Problems) -> None:
    if problems:
        raise ValidationError(problems)


def _add(problems: Problems, field: str, message: str) -> None:
    problems.setdefault(field, []).append(message)


def comparable(value: Any) -> Any:
    """A value to compare parsed values by, keeping JSON true apart from 1 and false from 0."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list):
        return ("list", tuple(comparable(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, comparable(v)) for k, v in value.items())))
    return value


def _parsed(value_type: str, values: Iterable[str]) -> list[Any]:
    return [comparable(parse_value(value_type, v)) for v in values]


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def setting_problems(value_type: str, setting: Setting) -> Problems:
    """Whether a variable's or input's default, requirement and override policy hang together."""
    problems: Problems = {}
    value = setting.effective_value
    restricted = setting.restricted_values
    if not _is_text_list(restricted):
        _add(problems, "restricted_values", "Restricted values must be a list of text values.")
        return problems

    try:
        parsed_value = comparable(parse_value(value_type, value))
    except ValidationError as error:
        message = error.messages[0]
        if setting.sensitive:  # never repeat a secret in a message
            message = f"The sensitive value is not a valid {value_type} value; enter a new one."
        _add(problems, "value", message)
        parsed_value = None

    if setting.override == Override.RESTRICTED:
        if not restricted:
            _add(problems, "restricted_values", "List at least one value end users may choose.")
        if any(v == "" for v in restricted):
            _add(problems, "restricted_values", "A restricted value may not be empty.")
        if len(set(restricted)) != len(restricted):
            _add(problems, "restricted_values", "Each restricted value may appear once.")
        try:
            allowed = _parsed(value_type, restricted)
        except ValidationError as error:
            _add(
                problems,
                "restricted_values",
                f"Every restricted value must be valid: {error.messages[0]}",
            )
        else:
            if value != "" and "value" not in problems and parsed_value not in allowed:
                _add(problems, "value", "The default must be one of the restricted values.")
    elif restricted:
        _add(
            problems,
            "restricted_values",
            "Restricted values apply only when override is Restricted.",
        )

    if setting.override == Override.NOT_ALLOWED and setting.required and value == "":
        _add(
            problems,
            "value",
            "A required input that end users may not override needs a value.",
        )
    return problems


def tightening_problems(variable: Variable, setting: Setting) -> Problems:
    """Progressive templating: a profile input may tighten its variable, never loosen it."""
    problems: Problems = {}
    if variable.required and not setting.required:
        _add(problems, "required", "The template requires this variable, so it stays required.")
    if variable.sensitive and not setting.sensitive:
        _add(
            problems, "sensitive", "The template marks this variable sensitive; it stays sensitive."
        )

    if variable.override == Override.NOT_ALLOWED:
        if setting.override != Override.NOT_ALLOWED:
            _add(
                problems,
                "override",
                "The template does not allow overriding this variable; it stays Not allowed.",
            )
        if setting.effective_value != variable.effective_value:
            _add(problems, "value", "The template fixes this value; it cannot be changed here.")
    elif variable.override == Override.RESTRICTED:
        if setting.override == Override.ALLOWED:
            _add(
                problems,
                "override",
                "The template restricts this variable to a list; choose Restricted or Not allowed.",
            )
        if not _is_text_list(setting.restricted_values):
            return problems  # reported by setting_problems
        try:
            template_allowed = _parsed(variable.value_type, variable.restricted_values)
            mine = _parsed(variable.value_type, setting.restricted_values)
            value = comparable(parse_value(variable.value_type, setting.effective_value))
        except ValidationError:
            return problems  # the value problems are reported by setting_problems
        if setting.override == Override.RESTRICTED and any(v not in template_allowed for v in mine):
            extra = [
                text
                for text, parsed in zip(setting.restricted_values, mine, strict=True)
                if parsed not in template_allowed
            ]
            _add(
                problems,
                "restricted_values",
                "The template allows only "
                + ", ".join(variable.restricted_values)
                + "; not "
                + ", ".join(extra)
                + ".",
            )
        if setting.effective_value != "" and value not in template_allowed:
            _add(
                problems,
                "value",
                "The template allows only " + ", ".join(variable.restricted_values) + ".",
            )
    return problems


def sharing_problems(
    *, owner: Project | None, sharing: str, projects: Iterable[Project] | None = None
) -> Problems:
    """Sharing is none, all, or a non-empty list of other, real projects.

    ``projects`` is None where the caller cannot see the list yet (a model's ``clean()`` runs
    before many-to-many rows are saved); the list is then checked by the form that carries it.
    """
    problems: Problems = {}
    if sharing not in Sharing.values:
        _add(problems, "sharing", "Choose None, All Projects or Selected Projects.")
        return problems
    if projects is None:
        return problems
    projects = list(projects)
    if sharing == Sharing.SELECTED and not projects:
        _add(problems, "shared_with", "Pick at least one project to share with.")
    if sharing != Sharing.SELECTED and projects:
        _add(problems, "shared_with", "Projects are picked only for Selected Projects.")
    for project in projects:
        if project.is_system_catalog:
            _add(problems, "shared_with", "Nothing is shared into the system catalog.")
        elif owner is not None and project.pk == owner.pk:
            _add(
                problems,
                "shared_with",
                f"“{project.name}” owns it already; pick other projects.",
            )
    return problems


def _taken(rows: QuerySet, name: str, exclude_pk) -> bool:
    return rows.filter(name=name).exclude(pk=exclude_pk).exists()


def name_taken(model: type[Model], project: Project, name: str, *, exclude_pk=None) -> str | None:
    """Why ``name`` cannot be used for a new ``model`` row (profile, template) in ``project``."""
    if _taken(model._default_manager.filter(project=project), name, exclude_pk):
        return f"“{name}” is taken in project {project.name}; pick another name."
    return None


def version_name_taken(template: Model, name: str, *, exclude_pk=None) -> str | None:
    """Why ``name`` cannot be used for a new version of ``template``."""
    if _taken(template.versions.all(), name, exclude_pk):
        return f"{template} already has a version {name}."
    return None


def version_problems(
    *, project: Project, template_name: str, version: Version, available: bool
) -> Problems:
    """A profile may be built only on an active version of a template available to its project
    (``available``: whether the version's template is)."""
    problems: Problems = {}
    if not available:
        _add(
            problems,
            "template_version",
            f"The template “{template_name}” is not available to project {project.name}.",
        )
    elif not version.is_active:
        _add(
            problems,
            "template_version",
            f"Version {version.name} of {template_name} is {version.state}; "
            "choose an active version.",
        )
    return problems
