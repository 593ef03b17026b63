"""The documents of SPEC §8 as DRF serializers: ``kind: ComputeInstance`` and ``kind: Service``.

They check a document's shape as strictly as the profile document's (profiles.serializers: no
unknown keys, text only as text, whole numbers only as numbers); the rules of each field run
when compute.api applies the document, through the checks the Compute Instances form uses
(compute.instance_forms) and the model's own validation. ``status`` is read-only: a document
read back may be sent again with it, and it is checked, then ignored.

Secrets are write-only: a stored private key reads back as ``"set"`` (and ``"set"`` sent back
keeps it); a sensitive input reads back as ``{name, sensitive: true}`` and a sensitive output
without its value.
"""

from rest_framework import serializers

from compute.instance_forms import HOST_KEY_MAX_LENGTH, PRIVATE_KEY_MAX_LENGTH
from compute.models import Connection, RunAction, RunState, ServiceState
from profiles.serializers import (
    STATUS_HELP,
    ProseField,
    ResourceNameField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
    TextMapField,
    ValueField,
)
from profiles.validators import DISPLAY_NAME_MAX_LENGTH
from studio.api import API_VERSION
from studio.validators import (
    RESOURCE_NAME_MAX_LENGTH,
    validate_listed_name,
    validate_resource_name,
)

# What a stored private key reads back as; sent back, it keeps the stored key.
KEY_SET = "set"
DEFAULT_SSH_PORT = 22


class DocumentSerializer(StrictSerializer):
    """A whole document: its ``status``, when sent, is checked and then dropped."""

    def validate(self, attrs: dict) -> dict:
        attrs.pop("status", None)
        return attrs


# Compute instances ----------------------------------------------------------------------------


class InstanceMetadataSerializer(StrictSerializer):
    name = ResourceNameField(validators=[validate_listed_name])
    project = StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH, required=False)
    displayName = ProseField(max_length=DISPLAY_NAME_MAX_LENGTH)
    labels = TextMapField(required=False, default=dict)


class ConnectionSerializer(StrictSerializer):
    """How the portal reaches the machine. ``local`` takes no other field (superusers only)."""

    type = serializers.ChoiceField(
        choices=Connection.values,
        help_text="ssh, or local (the portal's own workers: superusers only, no other fields).",
    )
    host = StrictCharField(
        required=False, allow_blank=True, max_length=253, help_text="A DNS name or IP address."
    )
    port = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=65535,
        help_text=f"The SSH port; {DEFAULT_SSH_PORT} when left out.",
    )
    username = StrictCharField(required=False, allow_blank=True, max_length=100)
    privateKey = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=PRIVATE_KEY_MAX_LENGTH,
        help_text=(
            f'Write-only. Reads back as "{KEY_SET}" when a key is stored (and is left out when '
            f'none is); send "{KEY_SET}" to keep the stored key, a key (OpenSSH or PEM) to '
            "replace it, or leave it out for none."
        ),
    )
    hostKey = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=HOST_KEY_MAX_LENGTH,
        help_text="The host's line from ssh-keyscan (known_hosts format); required for ssh.",
    )


class InstanceSpecSerializer(StrictSerializer):
    gpus = ProseField(
        required=False, allow_blank=True, default="", max_length=200, help_text="2x NVIDIA H100"
    )
    connection = ConnectionSerializer()


class InstanceStatusSerializer(StrictSerializer):
    checkedAt = serializers.DateTimeField(allow_null=True, required=False)
    reachable = StrictBooleanField(allow_null=True, required=False)
    probe = StrictCharField(allow_blank=True, required=False)
    owner = StrictCharField(allow_null=True, required=False)


class ComputeInstanceDocumentSerializer(DocumentSerializer):
    """A whole ``kind: ComputeInstance`` document; ``status`` is read-only."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["ComputeInstance"])
    metadata = InstanceMetadataSerializer()
    spec = InstanceSpecSerializer()
    status = InstanceStatusSerializer(required=False, help_text=STATUS_HELP)


# Services -------------------------------------------------------------------------------------


class ServiceMetadataSerializer(StrictSerializer):
    name = ResourceNameField(validators=[validate_resource_name])
    project = StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH, required=False)


class ServiceProfileRefSerializer(StrictSerializer):
    name = StrictCharField(max_length=RESOURCE_NAME_MAX_LENGTH)
    project = StrictCharField(
        max_length=RESOURCE_NAME_MAX_LENGTH, help_text="The project that owns the profile."
    )


class ServiceVariableSerializer(StrictSerializer):
    """An input's value. A sensitive input reads back as ``{name, sensitive: true}``; sent so
    (without a value), the input keeps the profile's value."""

    name = StrictCharField(max_length=100)
    value = ValueField(required=False)
    sensitive = StrictBooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        if "value" not in attrs and not attrs.get("sensitive"):
            raise serializers.ValidationError(
                {"value": ["Give the input's value (or leave the input out for its default)."]}
            )
        return attrs


class ServiceSpecSerializer(StrictSerializer):
    serviceProfile = ServiceProfileRefSerializer()
    computeInstance = StrictCharField(
        max_length=RESOURCE_NAME_MAX_LENGTH, help_text="A compute instance of the project."
    )
    variables = ServiceVariableSerializer(
        many=True,
        required=False,
        default=list,
        max_length=1000,
        help_text="Values for the inputs the profile lets users set; the others take its values.",
    )


class ServiceOutputSerializer(StrictSerializer):
    name = StrictCharField()
    displayName = StrictCharField(allow_blank=True)
    value = StrictCharField(allow_blank=True, required=False)
    sensitive = StrictBooleanField(required=False, help_text="Its value is never shown here.")


class ServiceStatusSerializer(StrictSerializer):
    state = serializers.ChoiceField(choices=ServiceState.values, required=False)
    checkedAt = serializers.DateTimeField(
        allow_null=True, required=False, help_text="When a health check last looked at it."
    )
    profileRevision = StrictIntegerField(min_value=1, required=False)
    outputs = ServiceOutputSerializer(many=True, required=False)
    createdAt = serializers.DateTimeField(allow_null=True, required=False)
    owner = StrictCharField(allow_blank=True, required=False)


class ServiceDocumentSerializer(DocumentSerializer):
    """A whole ``kind: Service`` document: sent, it launches; ``status`` is read-only."""

    apiVersion = serializers.ChoiceField(choices=[API_VERSION])
    kind = serializers.ChoiceField(choices=["Service"])
    metadata = ServiceMetadataSerializer()
    spec = ServiceSpecSerializer()
    status = ServiceStatusSerializer(required=False, help_text=STATUS_HELP)


class RunSerializer(serializers.Serializer):
    """One run of a service's code (read-only); sensitive inputs are ``***`` in its log."""

    action = serializers.ChoiceField(choices=RunAction.values)
    state = serializers.ChoiceField(choices=RunState.values)
    exitCode = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)
    log = serializers.CharField(allow_blank=True)
