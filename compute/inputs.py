"""Input resolution at launch (SPEC §8), written once for the launch form and the API.

A service takes its inputs from the profile revision it pins: the revision's document (which
holds no sensitive value) and its secrets. What the person launching sends is checked against
each input's override policy; every refusal names the input.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from profiles.choices import Override, ValueType
from profiles.validators import parse_value

Problems = dict[str, list[str]]


@dataclass(frozen=True)
class ResolvedInputs:
    """The value of every input of a launch, as the code receives it (``PAAS_VAR_<name>``)."""

    values: dict[str, str] = field(default_factory=dict)  # every input, by name
    sensitive: frozenset[str] = frozenset()  # the names whose values are never shown again

    @property
    def plain(self) -> dict[str, str]:
        return {name: v for name, v in self.values.items() if name not in self.sensitive}

    @property
    def secrets(self) -> dict[str, str]:
        return {name: v for name, v in self.values.items() if name in self.sensitive}


class InputProblems(Exception):
    """A launch refused input by input: ``problems`` maps each input's name to its messages."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{n}: {' '.join(m)}" for n, m in problems.items()))


def as_env(value_type: str, value: Any) -> str:
    """A parsed value as the code's environment carries it: JSON text for json, ``true`` or
    ``false`` for booleans, the number as written for numbers."""
    if value is None:
        return ""
    if value_type == ValueType.JSON:
        return json.dumps(value, separators=(",", ":"), default=str)
    if value_type == ValueType.BOOLEAN:
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f") if value == value.to_integral_value() else str(value)
    return str(value)


def launchable_inputs(document: dict) -> list[dict]:
    """The inputs of a revision's document that the person launching may set."""
    return [i for i in document["spec"]["inputs"] if i["override"]["type"] != Override.NOT_ALLOWED]


def resolve_inputs(
    *,
    document: dict,
    secrets: dict[str, str],
    value_types: dict[str, str],
    submitted: dict[str, str],
) -> ResolvedInputs:
    """Every input's value for a launch of the revision ``document`` (with its ``secrets``, and
    the ``value_types`` of its template version's variables), given what the person launching
    ``submitted`` (text, by input name); InputProblems if any is refused.

    - ``notallowed``: the profile's value; sending one is refused.
    - ``allowed``: the value sent, else the profile's default.
    - ``restricted``: only one of the restricted values; the default when none is sent.
    - ``required``: must end with a value. Every value must parse as its value type.
    - A sensitive input sent empty keeps its default (its field never shows the value).
    """
    problems: Problems = {}
    values: dict[str, str] = {}
    sensitive: set[str] = set()
    declared = {item["name"]: item for item in document["spec"]["inputs"]}
    for name in submitted:
        if name not in declared:
            problems.setdefault(name, []).append(f"“{name}” is not an input of this profile.")

    for name, item in declared.items():
        label = item.get("displayName") or name
        value_type = value_types.get(name, ValueType.TEXT)
        override = item["override"]["type"]
        default = secrets.get(name, "") if item["sensitive"] else item.get("value", "")
        value = default
        if name in submitted:
            sent = submitted[name]
            if override == Override.NOT_ALLOWED:
                if sent != default or item["sensitive"]:
                    problems.setdefault(name, []).append(
                        f"{label} is set by the profile and cannot be changed at launch."
                    )
            elif not (item["sensitive"] and sent == ""):
                value = sent
        if override == Override.RESTRICTED and value != "":
            allowed = item["override"].get("restrictedValues", [])
            if value not in allowed:
                problems.setdefault(name, []).append(
                    f"{label} must be one of: {', '.join(allowed)}."
                )
        if item["required"] and value == "":
            problems.setdefault(name, []).append(f"{label} needs a value.")
        try:
            parsed = parse_value(value_type, value)
        except ValidationError as error:
            message = error.messages[0]
            if item["sensitive"]:  # never repeat a secret in a message
                message = f"The value is not a valid {value_type} value."
            problems.setdefault(name, []).append(f"{label}: {message}")
            continue
        values[name] = as_env(value_type, parsed)
        if item["sensitive"]:
            sensitive.add(name)
    if problems:
        raise InputProblems(problems)
    return ResolvedInputs(values=values, sensitive=frozenset(sensitive))
