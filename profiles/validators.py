"""Syntax rules of SPEC §3 for what a service profile or environment template carries.

Written once and used by every way in: model fields (and so the Django admin), the Studio
forms and the API. Each validator raises ``ValidationError`` with a message that names the
offending key or value, so a person can find what to fix.
"""

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from profiles.readme import render_readme

DISPLAY_NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2_000
ICON_URL_MAX_LENGTH = 2_048
README_MAX_BYTES = 256 * 1024
ANNOTATIONS_MAX_BYTES = 256 * 1024
LABEL_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
LABEL_PREFIX_MAX_LENGTH = 253

_LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?")
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Also enforced by the database (the versions' ``name_format`` constraint); \A and \Z as in
# studio.validators.RESOURCE_NAME_PATTERN.
VERSION_NAME_PATTERN = r"\Av[1-9][0-9]{0,5}\Z"
_VERSION_NAME = re.compile(VERSION_NAME_PATTERN)


def validate_version_name(value: str) -> None:
    if not isinstance(value, str) or _VERSION_NAME.fullmatch(value) is None:
        raise ValidationError("Name versions v1, v2, v3, …", code="invalid_version")


def _label_key_problem(key: object) -> str | None:
    """Why ``key`` is not a Kubernetes label key, or None when it is one."""
    if not isinstance(key, str) or not key:
        return "a key may not be empty"
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return f"“{key}”: the prefix before “/” may not be empty"
        if len(prefix) > LABEL_PREFIX_MAX_LENGTH:
            return f"“{key}”: the prefix is longer than {LABEL_PREFIX_MAX_LENGTH} characters"
        if any(_DNS_LABEL.fullmatch(part) is None or len(part) > 63 for part in prefix.split(".")):
            return (
                f"“{key}”: the prefix must be a DNS subdomain "
                "(lowercase letters, digits, “-” and “.”, e.g. example.com)"
            )
    if not name:
        return f"“{key}”: the name after the prefix may not be empty"
    if len(name) > LABEL_NAME_MAX_LENGTH:
        return f"“{key}”: the name is longer than {LABEL_NAME_MAX_LENGTH} characters"
    if _LABEL_NAME.fullmatch(name) is None:
        return (
            f"“{key}”: use letters, digits, “-”, “_” and “.”, "
            "beginning and ending with a letter or digit"
        )
    return None


def _label_value_problem(key: str, value: object) -> str | None:
    if not isinstance(value, str):
        return f"“{key}”: the value must be text"
    if value == "":
        return None
    if len(value) > LABEL_VALUE_MAX_LENGTH:
        return f"“{key}”: the value is longer than {LABEL_VALUE_MAX_LENGTH} characters"
    if _LABEL_NAME.fullmatch(value) is None:
        return (
            f"“{key}”: the value may hold letters, digits, “-”, “_” and “.”, "
            "beginning and ending with a letter or digit"
        )
    return None


def utf8_size(text: str) -> int:
    """Bytes ``text`` takes stored as UTF-8; ValidationError for text that cannot be stored."""
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        raise ValidationError(
            "The text holds a character that cannot be stored (a lone surrogate).",
            code="invalid_text",
        ) from None


def _require_mapping(value: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValidationError("Enter key/value pairs.", code="invalid_type")
    return value


def _raise_all(problems: list[str], code: str) -> None:
    if problems:
        raise ValidationError(
            [ValidationError("%(problem)s.", code=code, params={"problem": p}) for p in problems]
        )


def validate_label_key(key: object) -> None:
    problem = _label_key_problem(key)
    if problem:
        raise ValidationError("%(problem)s.", code="invalid_key", params={"problem": problem})


def validate_label_value(value: object) -> None:
    problem = _label_value_problem("value", value)
    if problem:
        raise ValidationError("%(problem)s.", code="invalid_value", params={"problem": problem})


def validate_labels(value: object) -> None:
    """Kubernetes label syntax for every key and value."""
    labels = _require_mapping(value)
    problems = []
    for key, item in labels.items():
        problem = _label_key_problem(key) or _label_value_problem(key, item)
        if problem:
            problems.append(problem)
    _raise_all(problems, "invalid_label")


def validate_annotations(value: object) -> None:
    """Label-syntax keys, any text values, at most 256 KiB in all."""
    annotations = _require_mapping(value)
    problems = []
    for key, item in annotations.items():
        problem = _label_key_problem(key)
        if problem is None and not isinstance(item, str):
            problem = f"“{key}”: the value must be text"
        if problem:
            problems.append(problem)
    _raise_all(problems, "invalid_annotation")
    size = sum(utf8_size(k) + utf8_size(v) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        raise ValidationError(
            "Annotations may hold at most 256 KiB in all (these hold %(size)s bytes).",
            code="too_large",
            params={"size": f"{size:,}"},
        )


def validate_variable_name(value: object) -> None:
    """An environment-variable-like name: ``[A-Za-z_][A-Za-z0-9_]*``."""
    if not isinstance(value, str) or _VARIABLE_NAME.fullmatch(value) is None:
        raise ValidationError(
            "“%(name)s” is not a valid name: use letters, digits and “_”, "
            "not starting with a digit.",
            code="invalid_name",
            params={"name": value},
        )


def validate_extra_config(value: object) -> None:
    """Keys like environment variable names (unique by construction of a mapping), text values."""
    config = _require_mapping(value)
    problems = []
    for key, item in config.items():
        if not isinstance(key, str) or _VARIABLE_NAME.fullmatch(key) is None:
            problems.append(
                f"“{key}” is not a valid key: use letters, digits and “_”, "
                "not starting with a digit"
            )
        elif not isinstance(item, str):
            problems.append(f"“{key}”: the value must be text")
    _raise_all(problems, "invalid_extra_config")


def unique_pairs(pairs: list[tuple[str, str]], what: str = "key") -> dict[str, str]:
    """Turn submitted (key, value) rows into a mapping, refusing a key given twice."""
    seen: dict[str, str] = {}
    duplicates = []
    for key, item in pairs:
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen[key] = item
    if duplicates:
        raise ValidationError(
            "Each %(what)s may appear once; given more than once: %(keys)s.",
            code="duplicate_key",
            params={"what": what, "keys": ", ".join(duplicates)},
        )
    return seen


_http_url = URLValidator(schemes=["http", "https"])


def validate_icon_url(value: str) -> None:
    """An absolute http(s) URL of at most 2,048 characters."""
    if len(value) > ICON_URL_MAX_LENGTH:
        raise ValidationError(
            "Use at most %(limit)s characters.",
            code="max_length",
            params={"limit": f"{ICON_URL_MAX_LENGTH:,}"},
        )
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:  # e.g. an unbalanced "[" in the host
        raise ValidationError("Enter a valid URL.", code="invalid") from None
    if scheme not in {"http", "https"}:
        raise ValidationError(
            "Enter an absolute http:// or https:// address.", code="invalid_scheme"
        )
    _http_url(value)


#: Where a template version's code may live: a git repository by one of these URL schemes.
REPOSITORY_SCHEMES = ("https", "http", "ssh", "git", "file")
REPOSITORY_URL_MAX_LENGTH = 200
_REPOSITORY_URL_MESSAGE = (
    "Enter a valid URL: give the repository as an https://, ssh://, git:// or file:// URL."
)


def validate_repository_url(value: str) -> None:
    """A git repository's URL: https://, http://, ssh:// or git:// with a host, or file:///path.

    Credentials never belong in a template: a URL carrying a password is refused (the platform's
    PAAS_CODE_CREDENTIALS setting holds them). scp-like ``git@host:path`` is not a URL; write it
    as ``ssh://git@host/path``.
    """
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValidationError(_REPOSITORY_URL_MESSAGE, code="invalid")
    if any(
        character.isspace() or ord(character) < 32 or ord(character) == 127 for character in value
    ):
        raise ValidationError(_REPOSITORY_URL_MESSAGE, code="invalid")
    try:
        parts = urlsplit(value)
        host, password = parts.hostname, parts.password
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        raise ValidationError(_REPOSITORY_URL_MESSAGE, code="invalid") from None
    if parts.scheme.lower() not in REPOSITORY_SCHEMES or not value.lower().startswith(
        f"{parts.scheme.lower()}://"
    ):
        raise ValidationError(_REPOSITORY_URL_MESSAGE, code="invalid_scheme")
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.strip("/"):
            raise ValidationError(
                "Enter a valid URL: a file:// URL names a folder on this machine, "
                "e.g. file:///srv/git/templates.git.",
                code="invalid",
            )
        return
    if not host or host.startswith("-") or (parts.username or "").startswith("-"):
        raise ValidationError(_REPOSITORY_URL_MESSAGE, code="invalid")
    if password is not None:
        raise ValidationError(
            "Leave the password out of the repository URL: the platform's credentials setting "
            "holds it, never a template.",
            code="credentials",
        )
    if parts.query or parts.fragment:
        raise ValidationError(_REPOSITORY_URL_MESSAGE, code="invalid")


def validate_readme(value: str) -> None:
    """At most 256 KiB, and a readme that renders: not nested too deeply, not too slow."""
    validate_readme_size(value)
    render_readme(value)  # remembered, so saving it does not render it again


def validate_readme_size(value: str) -> None:
    """At most 256 KiB: what :func:`validate_readme` checks before rendering."""
    size = utf8_size(value)
    if size > README_MAX_BYTES:
        raise ValidationError(
            "The readme may be at most 256 KiB (this one is %(size)s bytes).",
            code="too_large",
            params={"size": f"{size:,}"},
        )


# Values by valueType -------------------------------------------------------------------------

_BOOLEAN_TEXT = {"true": True, "false": False}
# What a number looks like to the code templates hand values to: ASCII digits, no "_".
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?", re.ASCII)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_value(value_type: str, text: str) -> Any:
    """The typed value of ``text`` for a variable of ``value_type``, or ValidationError.

    Values travel as text (forms, encrypted columns); this is the one place that says what each
    type accepts. The empty string means "no value" and parses to None.
    """
    if text == "":
        return None
    if value_type == "text":
        return text
    if value_type == "number":
        number = None
        if _NUMBER.fullmatch(text.strip()):
            try:
                number = Decimal(text.strip())
            except InvalidOperation:
                number = None
        if number is None or not number.is_finite():
            raise ValidationError(
                "“%(value)s” is not a number.", code="invalid_number", params={"value": text}
            )
        return number
    if value_type == "boolean":
        try:
            return _BOOLEAN_TEXT[text.strip().lower()]
        except KeyError:
            raise ValidationError(
                "“%(value)s” is not a boolean: use true or false.",
                code="invalid_boolean",
                params={"value": text},
            ) from None
    if value_type == "json":
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:
            raise ValidationError(
                "This is not valid JSON: %(error)s.",
                code="invalid_json",
                params={"error": str(error).split(":")[0]},
            ) from None
    raise ValidationError(
        "Unknown value type “%(type)s”.", code="invalid_type", params={"type": value_type}
    )
