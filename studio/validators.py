"""The naming rule shared by projects and service profiles (SPEC §3)."""

import re

from django.core.exceptions import ValidationError

RESOURCE_NAME_MAX_LENGTH = 63
# Also enforced by the database: see the ``name_format`` constraints.
# \A and \Z (not ^ and $, which let a trailing newline through in Python) mean the same in
# PostgreSQL and in the REGEXP function Django gives SQLite.
RESOURCE_NAME_PATTERN = r"\A[a-z]([a-z0-9-]{0,61}[a-z0-9])?\Z"
_RESOURCE_NAME = re.compile(RESOURCE_NAME_PATTERN)


def validate_resource_name(value: str) -> None:
    """1 to 63 of ``a-z 0-9 -``, starting with a letter and not ending with ``-``."""
    if not isinstance(value, str) or not value:
        raise ValidationError("Enter a name.", code="required")
    if len(value) > RESOURCE_NAME_MAX_LENGTH:
        raise ValidationError(
            "Use at most %(limit)d characters (this one has %(length)d).",
            code="max_length",
            params={"limit": RESOURCE_NAME_MAX_LENGTH, "length": len(value)},
        )
    if _RESOURCE_NAME.fullmatch(value) is None:
        raise ValidationError(
            "Use lowercase letters, digits and hyphens, starting with a letter and not "
            "ending with a hyphen (for example jupyter-notebook).",
            code="invalid_name",
        )


# The name a list's page for making one more takes in the URLs beside its rows' own
# (service-profiles/new/, compute-instances/new/): a row of that name could not be opened.
PAGE_NAMES = frozenset({"new"})


def validate_listed_name(value: str) -> None:
    """:func:`validate_resource_name` for rows whose pages sit beside a ``new/`` page."""
    validate_resource_name(value)
    if value in PAGE_NAMES:
        raise ValidationError(
            "“%(name)s” is the name of the page that creates one: choose another name.",
            code="reserved_name",
            params={"name": value},
        )
