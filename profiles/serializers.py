"""The profile document of SPEC §4 as DRF serializers: what the API, export and apply accept.

They check the document's shape (types, required keys, no unknown keys); the domain rules run
when applying.apply_profile_document builds the models, through the same model validation the
Studio and the Django admin use. Every error names its field by document path.

Types are strict (SPEC §6): text must be a string and a boolean ``true``/``false`` (DRF's own
fields would turn ``12345`` into ``"12345"`` and ``"yes"`` into ``true``), a mapping's keys are
text (YAML's ``{1: a}`` is refused), and names, URLs and code are taken exactly as sent, so a
name with a space breaks the naming rule instead of being trimmed. Only free text (display
names, descriptions) loses surrounding spaces, as in the Studio's forms. A variable's
``value`` alone may be any JSON scalar or structure: it is stored as its text.
"""

import json
import math
from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from profiles import validators
from profiles.choices import Override, ServiceType, Sharing, Status, ValueType, VersionState
from studio.api import API_VERSION
from studio.validators import RESOURCE_NAME_MAX_LENGTH, RESOURCE_NAME_PATTERN


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields), key=str)
            if unknown:
                raise serializers.ValidationError(
                    {str(key): ["This field is not part of the document."] for key in unknown}
                )
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text, and only text: numbers and booleans are refused, not turned into strings.

    Surrounding spaces are kept (and so refused by a naming rule) unless ``trim_whitespace``.
    """

    default_error_messages = {
        "invalid": "Enter text (a string; in YAML, quote 1, true or 2026-01-01)."
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProseField(StrictCharField):
    """Free text (a display name, a description): surrounding spaces are dropped."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        # The validator's pattern, with JSON Schema's anchors for Python's \A and \Z.
        "pattern": "^" + RESOURCE_NAME_PATTERN.removeprefix(r"\A").removesuffix(r"\Z") + "$",
        "maxLength": RESOURCE_NAME_MAX_LENGTH,
    }
)
class ResourceNameField(StrictCharField):
    """A profile's or a template's name, as sent: the model's validation (SPEC §3 slug rule)
    refuses one that breaks the rule along with every other problem of the document."""


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false``; not ``"yes"``, ``"true"``, ``1`` or ``"on"``."""

    default_error_messages = {"invalid": "Enter true or false (a boolean, not text or a number)."}

    def to_internal_value(self, data) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid")


class StrictIntegerField(serializers.IntegerField):
    """A whole number; not ``"3"``, ``3.0`` or ``true``."""

    default_error_messages = {"invalid": "Enter a whole number (not text)."}

    def to_internal_value(self, data) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def _json_problem(data) -> str | None:
    """Why ``data`` (a list or mapping from YAML or JSON) is not plain JSON, if it is not."""
    if isinstance(data, dict):
        for key, item in data.items():
            if not isinstance(key, str):
                return f"the key {key!r} is not text"
            problem = _json_problem(item)
            if problem:
                return problem
        return None
    if isinstance(data, list):
        return next(filter(None, map(_json_problem, data)), None)
    if isinstance(data, float) and not math.isfinite(data):
        return f"{data} is not a JSON number"
    if data is None or isinstance(data, str | int | float):
        return None
    return f"{data!r} is not a JSON value"


@extend_schema_field(OpenApiTypes.ANY)
class ValueField(serializers.Field):
    """A variable's value: text in the database, any YAML/JSON scalar or structure in a document.

    Numbers and booleans become their text (``1``, ``true``); lists and objects become JSON.
    """

    default_error_messages = {
        "invalid": "Enter text, a number, a boolean or JSON.",
        "not_json": "Enter text, a number, a boolean or JSON: {problem}.",
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data) -> str:
        if isinstance(data, bool):
            text = "true" if data else "false"
        elif isinstance(data, int | float):
            if not math.isfinite(data):
                self.fail("not_json", problem=f"{data} is not a JSON number")
            text = str(data)
        elif isinstance(data, str):
            text = data
        elif isinstance(data, list | dict):
            problem = _json_problem(data)
            if problem:
                self.fail("not_json", problem=problem)
            text = json.dumps(data)
        else:
            self.fail("invalid")
        if "\x00" in text:
            self.fail("null_characters")
        return text

    def to_representation(self, value: str) -> str:
        return value


class TextMapField(serializers.DictField):
    """A mapping of text keys to text values (labels, annotations, extra configuration).

    DRF's DictField would turn a YAML key ``1`` into ``"1"``: a key that is not text is refused.
    """

    child = StrictCharField(allow_blank=True)

    def run_child_validation(self, data: dict) -> dict:
        errors = {
            str(key): ["A key must be text (in YAML, quote keys like 1 or true)."]
            for key in data
            if not isinstance(key, str)
        }
        if errors:
            raise serializers.ValidationError(errors)
        return super().run_child_validation(data)


class OverrideSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Override.values)
    restrictedValues = serializers.ListField(
        child=ValueField(), required=False, default=list, max_length=1000
    )


class InputSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    displayName = ProseField(allow_blank=True, required=False, max_length=100)
    description = ProseField(allow_blank=True, required=False, max_length=2000)
    value = ValueField(required=False)
    required = StrictBooleanField(required=False)
    sensitive = StrictBooleanField(required=False)
    override = OverrideSerializer(required=False)


class OutputSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    displayName = ProseField(allow_blank=True, required=False, max_length=100)
    description = ProseField(allow_blank=True, required=False, max_length=2000)
    sensitive = StrictBooleanField(required=False)


class SharingSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Sharing.values)
    projects = serializers.ListField(
        child=StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH),
        required=False,
        default=list,
        max_length=1000,
    )


class TemplateRefSerializer(StrictSerializer):
    name = StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH)
    version = StrictCharField(max_length=8)


class MetadataSerializer(StrictSerializer):
    name = ResourceNameField()
    project = StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH, required=False)
    displayName = ProseField(max_length=100)
    description = ProseField(allow_blank=True, required=False, default="", max_length=2000)
    labels = TextMapField(required=False, default=dict)
    annotations = TextMapField(required=False, default=dict)
    revision = StrictIntegerField(required=False, min_value=1)


class SpecSerializer(StrictSerializer):
    environmentTemplate = TemplateRefSerializer()
    serviceType = serializers.ChoiceField(choices=ServiceType.values)
    iconURL = StrictCharField(allow_blank=True, required=False, default="")
    readme = StrictCharField(
        allow_blank=True, required=False, default="", validators=[validators.validate_readme_size]
    )
    extraConfig = TextMapField(required=False, default=dict)
    inputs = InputSerializer(many=True, required=False, default=list)
    outputs = OutputSerializer(many=True, required=False, default=list)
    sharing = SharingSerializer(required=False, default=lambda: {"type": "none", "projects": []})

    def validate_readme(self, value: str) -> str:
        """Rendered here, before a write opens its transaction; the model checks it again.

        ``manage.py apply`` asks for no rendering (context ``render_readme`` False): it writes
        in one transaction anyway, and the model leaves out a readme the profile already has.
        """
        if self.context.get("render_readme", True):
            validators.validate_readme(value)
        return value


STATUS_HELP = (
    "Read-only: what the server records. A document read back may be sent again with it; "
    "its keys and types are checked like the rest, its values are ignored."
)


class ProfileStatusSerializer(StrictSerializer):
    state = serializers.ChoiceField(choices=Status.values, required=False)
    createdAt = serializers.DateTimeField(allow_null=True, required=False)
    createdBy = StrictCharField(allow_null=True, required=False)
    modifiedAt = serializers.DateTimeField(allow_null=True, required=False)
    modifiedBy = StrictCharField(allow_null=True, required=False)


class ProfileDocumentSerializer(StrictSerializer):
    """A whole ``kind: ServiceProfile`` document; ``status`` is read-only: checked, then ignored."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["ServiceProfile"])
    metadata = MetadataSerializer()
    spec = SpecSerializer()
    status = ProfileStatusSerializer(required=False, help_text=STATUS_HELP)

    def validate(self, attrs: dict) -> dict:
        attrs.pop("status", None)
        return attrs


# Environment templates ------------------------------------------------------------------------


class VariableSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    valueType = serializers.ChoiceField(choices=ValueType.values, default="text")
    description = ProseField(allow_blank=True, required=False, default="", max_length=2000)
    value = ValueField(required=False)
    required = StrictBooleanField(required=False, default=False)
    sensitive = StrictBooleanField(required=False, default=False)
    override = OverrideSerializer(required=False)


class DeclaredOutputSerializer(StrictSerializer):
    name = StrictCharField(max_length=100)
    description = ProseField(allow_blank=True, required=False, default="", max_length=2000)
    sensitive = StrictBooleanField(required=False, default=False)


class CodeSerializer(StrictSerializer):
    repository = StrictCharField(allow_blank=True, required=False, default="")
    path = StrictCharField(allow_blank=True, required=False, default="")
    revision = StrictCharField(allow_blank=True, required=False, default="")
    inline = StrictCharField(allow_blank=True, required=False, default="")


class VersionSerializer(StrictSerializer):
    name = StrictCharField(max_length=8)
    state = serializers.ChoiceField(choices=VersionState.values)
    code = CodeSerializer()
    variables = VariableSerializer(many=True, required=False, default=list)
    outputs = DeclaredOutputSerializer(many=True, required=False, default=list)


class TemplateMetadataSerializer(StrictSerializer):
    name = ResourceNameField()
    project = StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH, required=False)
    displayName = ProseField(max_length=100)
    description = ProseField(allow_blank=True, required=False, default="", max_length=2000)


class TemplateSpecSerializer(StrictSerializer):
    sharing = SharingSerializer(required=False, default=lambda: {"type": "none", "projects": []})
    versions = VersionSerializer(many=True)


class TemplateDocumentSerializer(StrictSerializer):
    """A whole ``kind: EnvironmentTemplate`` document."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["EnvironmentTemplate"])
    metadata = TemplateMetadataSerializer()
    spec = TemplateSpecSerializer()
