"""Forms of the Compute Instances pages (SPEC §8): the list's search, register and edit, remove.

The form owns its layout (crispy ``FormHelper``) and its cleaning. It checks every part of the
model's ``connection_complete`` rule itself, field by field, so a missing host or host key is
said next to its box and never only as the constraint's sentence at the top.
"""

import base64
import binascii
import ipaddress
import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError

from compute.models import ComputeInstance, Connection
from profiles import rules
from profiles.studio_forms import KeyValueField, SectionModelForm
from profiles.validators import validate_labels
from studio.forms import ConfirmNameForm, SecretsTypedAgain
from studio.models import Project

PRIVATE_KEY_MAX_LENGTH = 16 * 1024
HOST_KEY_MAX_LENGTH = 8 * 1024

_HOST_NAME = re.compile(
    r"(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_USERNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_KEY_TYPE = re.compile(r"(?:ssh|ecdsa|sk)-[A-Za-z0-9@.+-]+")

SSH_FIELDS = ("host", "port", "username", "private_key", "host_key")
MISSING = {
    "host": "An SSH connection needs the host's name or address.",
    "port": "An SSH connection needs a port from 1 to 65535.",
    "username": "An SSH connection needs the user name to sign in as.",
    "host_key": "An SSH connection needs the host's key: paste its line from ssh-keyscan.",
}
LOCAL_FOR_SUPERUSERS = (
    "Only a superuser may register a local compute instance: it runs template code on the "
    "portal's own host."
)

UNIQUE_NAME_READ_ONLY = """
<div class="mb-3">
  <label class="form-label" for="unique-name">Unique Name</label>
  <input id="unique-name" class="form-control-plaintext font-monospace fw-semibold px-2
    bg-body-secondary rounded" value="{{ form.instance.name }}" readonly
    aria-describedby="unique-name-help">
  <div id="unique-name-help" class="form-text">
    The unique name cannot be changed once the instance is registered.
  </div>
</div>
"""


class SecretTextarea(forms.Textarea):
    """A textarea that never renders a value: what is typed goes in, nothing comes back out."""

    def format_value(self, value) -> None:
        return None


class ComputeInstanceForm(SecretsTypedAgain, SectionModelForm):
    """Register (``instance`` unsaved) or edit a compute instance of ``project``.

    The unique name is asked only when registering. ``local`` is offered to superusers only and
    refused with a field error for anyone else. The private key is write-only: the box is never
    filled in, and on edit an empty box keeps the stored key. A local connection clears the SSH
    fields.
    """

    labels = KeyValueField(
        label="Labels",
        noun="label",
        row_validator=validate_labels,
        help_text="Key/value labels describing the machine, e.g. zone=lab-1 or gpu=h100.",
    )
    port = forms.IntegerField(
        label="Port",
        required=False,
        min_value=1,
        max_value=65535,
        help_text="The SSH port, 22 unless the host says otherwise.",
    )
    private_key = forms.CharField(
        label="Private key",
        required=False,
        strip=False,
        max_length=PRIVATE_KEY_MAX_LENGTH,
        widget=SecretTextarea(
            attrs={
                "rows": 4,
                "class": "font-monospace",
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "-----BEGIN OPENSSH PRIVATE KEY-----",
            }
        ),
    )
    host_key = forms.CharField(
        label="Host key",
        required=False,
        max_length=HOST_KEY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "class": "font-monospace", "spellcheck": "false"}),
        help_text=(
            "Paste the host's line from <code>ssh-keyscan -t ed25519 HOST</code>, checked on a "
            "machine you trust, or leave it empty and use <em>Fetch host key</em> once the "
            "instance is registered. A connection whose host key does not match is refused: "
            "nothing is trusted on first use."
        ),
    )

    class Meta:
        model = ComputeInstance
        fields = [
            "name",
            "display_name",
            "gpus",
            "labels",
            "connection",
            "host",
            "port",
            "username",
            "private_key",
            "host_key",
        ]
        labels = {"host": "Host", "username": "Username", "connection": "Connection type"}
        help_texts = {
            "name": "Lowercase letters, digits and hyphens, e.g. gpu-box-1. "
            "It cannot be changed once the instance is registered.",
            "display_name": "What people see, e.g. GPU box 1 (lab).",
            "gpus": "What it has, e.g. 2x NVIDIA H100.",
            "host": "Its DNS name or IP address, e.g. gpu-box-1.lab.example.com.",
            "username": "The account the portal signs in as, e.g. ubuntu.",
        }
        widgets = {
            "connection": forms.RadioSelect,
            "host": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "username": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        }

    def __init__(self, *args, project: Project, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.user = user
        self.instance.project = project
        self.creating = self.instance.pk is None
        if not self.creating:
            del self.fields["name"]
        self.key_stored = bool(self.instance.private_key)

        connection = self.fields["connection"]
        connection.choices = Connection.choices  # a stray "---------" would be a third choice
        if not user.is_superuser:
            # Offered to superusers only; posted by anyone else, clean_connection refuses it.
            connection.widget.choices = [(Connection.SSH.value, Connection.SSH.label)]
            connection.help_text = "Local (the portal's own workers) is for superusers only."
        else:
            connection.help_text = (
                "Local runs template code on the portal's own workers, in a sandbox folder per "
                "service."
            )
        if self.creating:
            # The instance's own empty values are in ``initial`` already: replace them.
            self.initial["connection"] = self.initial.get("connection") or Connection.SSH
            self.initial["port"] = self.initial.get("port") or 22

        self.initial["private_key"] = ""  # write-only: never put back into the page
        key = self.fields["private_key"]
        if self.key_stored:
            key.help_text = (
                "Private key: set. Leave this empty to keep it, or paste a new one to replace it."
            )
            key.when_left_empty = "Left empty, the stored key is kept."
        else:
            key.help_text = (
                "Private key: not set. The key the portal signs in with (OpenSSH or PEM): it is "
                "stored encrypted and never shown again, not even when this page reports an error."
            )

        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Fieldset(
                "Compute instance",
                "name" if self.creating else HTML(UNIQUE_NAME_READ_ONLY),
                "display_name",
                "gpus",
                HTML('{% include "profiles/_kv_fieldset.html" with field=form.labels %}'),
            ),
            Fieldset(
                "Connection",
                "connection",
                Div(
                    HTML(
                        '<p class="form-text mt-0">For an SSH connection only; '
                        "a local one has none of these.</p>"
                    ),
                    "host",
                    "port",
                    "username",
                    "private_key",
                    "host_key",
                    css_id="ssh-fields",
                    css_class="border-start ps-3",
                ),
            ),
        )

    def secret_fields(self) -> list[str]:
        return ["private_key"]

    # One field at a time --------------------------------------------------------------------

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]  # the model field's validators ran already
        if problem := rules.name_taken(ComputeInstance, self.project, name):
            raise ValidationError(problem, code="taken")
        return name

    def clean_connection(self) -> str:
        connection = self.cleaned_data["connection"]
        check_connection(connection, self.user)
        return connection

    def clean_host(self) -> str:
        host = self.cleaned_data["host"]
        check_host(host)
        return host

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        check_username(username)
        return username

    def clean_private_key(self) -> str:
        typed = normalized_private_key(self.cleaned_data["private_key"])
        if not typed:
            return self.instance.private_key if self.key_stored else ""
        return typed

    def clean_host_key(self) -> str:
        return normalized_host_key(self.cleaned_data["host_key"])

    # Together -------------------------------------------------------------------------------

    def clean(self):
        cleaned = super().clean()
        connection = cleaned.get("connection")
        if connection == Connection.LOCAL:
            cleaned |= {"host": "", "port": None, "username": "", "private_key": "", "host_key": ""}
            for field in SSH_FIELDS:
                self.errors.pop(field, None)  # what a local connection does not use is no error
        elif connection == Connection.SSH:
            # The host key may be left empty here and trusted after "Fetch host key".
            for field, message in MISSING.items():
                if field == "host_key":
                    continue
                if field not in self.errors and cleaned.get(field) in (None, ""):
                    self.add_error(field, ValidationError(message, code="required"))
        return cleaned


# The checks of each connection field, shared with the API (compute.serializers) -----------


def check_connection(connection: str, user) -> None:
    """Only superusers register (or switch to) a local instance."""
    if connection == Connection.LOCAL and not user.is_superuser:
        raise ValidationError(LOCAL_FOR_SUPERUSERS, code="local_for_superusers")


def check_host(host: str) -> None:
    if host and not _is_host(host):
        raise ValidationError(
            "Enter a host name or IP address, e.g. gpu-box-1.lab.example.com.", code="host"
        )


def check_username(username: str) -> None:
    if username and not _USERNAME.fullmatch(username):
        raise ValidationError(
            "A user name has letters, digits, dots, underscores and hyphens only.",
            code="username",
        )


def normalized_private_key(typed: str) -> str:
    """A pasted private key as stored (one trailing newline), or "" when nothing was pasted."""
    typed = typed.replace("\r\n", "\n").strip()
    if not typed:
        return ""
    lines = typed.splitlines()
    if not (
        lines[0].startswith("-----BEGIN ")
        and lines[0].endswith("PRIVATE KEY-----")
        and lines[-1].startswith("-----END ")
    ):
        # Never repeat what was typed: it may be most of a secret.
        raise ValidationError(
            "Paste the whole private key, from its -----BEGIN … PRIVATE KEY----- line to "
            "its -----END … line.",
            code="private_key",
        )
    return typed + "\n"


def normalized_host_key(text: str) -> str:
    """The known_hosts lines of ``text`` (comments and blank lines dropped), each checked."""
    lines = [line.strip() for line in text.splitlines()]
    keys = [line for line in lines if line and not line.startswith("#")]
    if text and not keys:
        raise ValidationError(_HOST_KEY_HELP, code="host_key")
    for line in keys:
        if problem := _host_key_problem(line):
            raise ValidationError(problem, code="host_key")
    return "\n".join(keys)


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(host))
    return True


_HOST_KEY_HELP = (
    "Paste the host's line from ssh-keyscan: the host, the key type and the key, e.g. "
    "gpu-box-1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA…"
)


def _host_key_problem(line: str) -> str | None:
    """Why ``line`` is no known_hosts line (``[markers] [hosts] type base64 [comment]``)."""
    words = line.split()
    at = next((i for i, word in enumerate(words) if _KEY_TYPE.fullmatch(word)), None)
    if at is None or at + 1 >= len(words):
        return _HOST_KEY_HELP
    key_type, blob = words[at], words[at + 1]
    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return f"The {key_type} key is not valid base64: was the line cut when it was copied?"
    # The key's own data starts with its type, as a length-prefixed string.
    size = int.from_bytes(data[:4], "big")
    if data[4 : 4 + size].decode("ascii", errors="replace") != key_type:
        return f"The key is not an {key_type} key: was the line cut when it was copied?"
    return None


class ConfirmRemoveForm(ConfirmNameForm):
    def __init__(self, *args, instance: ComputeInstance, **kwargs) -> None:
        action = "remove this compute instance"
        super().__init__(*args, name=instance.name, action=action, **kwargs)
        self.instance = instance
