"""The profile document of SPEC §4 as DRF serializers: what the API, export and apply accept.

They check the document's shape (types, required keys, no unknown keys); the domain rules run
when services.apply_profile_document builds the models, through the same model validation the
Studio and the Django admin use. Every error names its field by document path.
"""

import json
from collections.abc import Mapping

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from profiles.documents import API_VERSION
from profiles.models import Override, ServiceProfile, Sharing, TemplateVersion, ValueType


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


@extend_schema_field(OpenApiTypes.ANY)
class ValueField(serializers.Field):
    """A variable's value: text in the database, any YAML/JSON scalar or structure in a document.

    Numbers and booleans become their text (``1``, ``true``); lists and objects become JSON.
    """

    default_error_messages = {
        "invalid": "Enter text, a number, a boolean or JSON.",
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data) -> str:
        if isinstance(data, bool):
            text = "true" if data else "false"
        elif isinstance(data, int | float):
            text = str(data)
        elif isinstance(data, str):
            text = data
        elif isinstance(data, list | dict):
            text = json.dumps(data)
        else:
            self.fail("invalid")
        if "\x00" in text:
            self.fail("null_characters")
        return text

    def to_representation(self, value: str) -> str:
        return value


class TextMapField(serializers.DictField):
    """A mapping of text keys to text values (labels, annotations, extra configuration)."""

    child = serializers.CharField(allow_blank=True, trim_whitespace=False)


class OverrideSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Override.values)
    restrictedValues = serializers.ListField(
        child=ValueField(), required=False, default=list, max_length=1000
    )


class InputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    displayName = serializers.CharField(allow_blank=True, required=False, max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, max_length=2000)
    value = ValueField(required=False)
    required = serializers.BooleanField(required=False)
    sensitive = serializers.BooleanField(required=False)
    override = OverrideSerializer(required=False)


class OutputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    displayName = serializers.CharField(allow_blank=True, required=False, max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, max_length=2000)
    sensitive = serializers.BooleanField(required=False)


class SharingSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Sharing.values)
    projects = serializers.ListField(
        child=serializers.CharField(max_length=63), required=False, default=list, max_length=1000
    )


class TemplateRefSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63)
    version = serializers.CharField(max_length=8)


class MetadataSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63)
    project = serializers.CharField(max_length=63, required=False)
    displayName = serializers.CharField(max_length=100)
    description = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=2000
    )
    labels = TextMapField(required=False, default=dict)
    annotations = TextMapField(required=False, default=dict)
    revision = serializers.IntegerField(required=False, min_value=1)


class SpecSerializer(StrictSerializer):
    environmentTemplate = TemplateRefSerializer()
    serviceType = serializers.ChoiceField(choices=ServiceProfile.ServiceType.values)
    iconURL = serializers.CharField(allow_blank=True, required=False, default="")
    readme = serializers.CharField(
        allow_blank=True, required=False, default="", trim_whitespace=False
    )
    extraConfig = TextMapField(required=False, default=dict)
    inputs = InputSerializer(many=True, required=False, default=list)
    outputs = OutputSerializer(many=True, required=False, default=list)
    sharing = SharingSerializer(required=False, default=lambda: {"type": "none", "projects": []})


class StatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=ServiceProfile.Status.values)
    createdAt = serializers.DateTimeField(allow_null=True)
    createdBy = serializers.CharField(allow_null=True)
    modifiedAt = serializers.DateTimeField(allow_null=True)
    modifiedBy = serializers.CharField(allow_null=True)


class ProfileDocumentSerializer(StrictSerializer):
    """A whole ``kind: ServiceProfile`` document; ``status`` is read-only and ignored."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["ServiceProfile"])
    metadata = MetadataSerializer()
    spec = SpecSerializer()
    status = StatusSerializer(read_only=True)


# Environment templates ------------------------------------------------------------------------


class VariableSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    valueType = serializers.ChoiceField(choices=ValueType.values, default="text")
    description = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=2000
    )
    value = ValueField(required=False)
    required = serializers.BooleanField(required=False, default=False)
    sensitive = serializers.BooleanField(required=False, default=False)
    override = OverrideSerializer(required=False)


class DeclaredOutputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=2000
    )
    sensitive = serializers.BooleanField(required=False, default=False)


class CodeSerializer(StrictSerializer):
    repository = serializers.CharField(allow_blank=True, required=False, default="")
    path = serializers.CharField(allow_blank=True, required=False, default="")
    revision = serializers.CharField(allow_blank=True, required=False, default="")
    inline = serializers.CharField(
        allow_blank=True, required=False, default="", trim_whitespace=False
    )


class VersionSerializer(StrictSerializer):
    name = serializers.CharField(max_length=8)
    state = serializers.ChoiceField(choices=TemplateVersion.State.values)
    code = CodeSerializer()
    variables = VariableSerializer(many=True, required=False, default=list)
    outputs = DeclaredOutputSerializer(many=True, required=False, default=list)


class TemplateMetadataSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63)
    project = serializers.CharField(max_length=63, required=False)
    displayName = serializers.CharField(max_length=100)
    description = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=2000
    )


class TemplateSpecSerializer(StrictSerializer):
    sharing = SharingSerializer(required=False, default=lambda: {"type": "none", "projects": []})
    versions = VersionSerializer(many=True)


class TemplateDocumentSerializer(StrictSerializer):
    """A whole ``kind: EnvironmentTemplate`` document."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["EnvironmentTemplate"])
    metadata = TemplateMetadataSerializer()
    spec = TemplateSpecSerializer()
