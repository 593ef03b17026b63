"""The launch form (SPEC §8): a name, a compute instance, and the inputs the user may set."""

from crispy_forms.helper import FormHelper
from django import forms

from compute.inputs import launchable_inputs
from compute.models import ComputeInstance, Service
from profiles.choices import Override, ValueType
from studio.forms import SecretsTypedAgain
from studio.models import Project
from studio.validators import validate_resource_name

PREFIX = "var_"
LEFT_EMPTY = "Left empty, the profile's value is used."


def suggested_name(project: Project, base: str) -> str:
    """``base``, or ``base-2``, ``base-3`` …: the first name not taken in ``project``."""
    taken = set(
        Service.objects.filter(project=project, name__startswith=base).values_list(
            "name", flat=True
        )
    )
    candidates = (base if n == 1 else f"{base[:59]}-{n}" for n in range(1, len(taken) + 2))
    return next(name for name in candidates if name not in taken)


class LaunchForm(SecretsTypedAgain, forms.Form):
    """Built from the profile revision's document: one field per input the user may set, typed
    by its variable's value type; restricted inputs a choice, sensitive ones a password field
    that never shows the value (left empty, the profile's value is used)."""

    name = forms.CharField(
        label="Service name",
        max_length=63,
        validators=[validate_resource_name],
        help_text="Lowercase letters, digits and hyphens; unique in the project.",
    )
    instance = forms.ModelChoiceField(
        label="Compute instance",
        queryset=ComputeInstance.objects.none(),
        empty_label="Choose a compute instance",
        help_text="Where the service runs: a machine registered in this project.",
    )

    def __init__(self, *args, project: Project, document: dict, value_types: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instance"].queryset = ComputeInstance.objects.filter(project=project)
        self.fields["instance"].label_from_instance = lambda i: (
            f"{i.display_name} ({i.name}{', ' + i.gpus if i.gpus else ''})"
        )
        self.inputs = launchable_inputs(document)
        for item in self.inputs:
            self.fields[PREFIX + item["name"]] = self._field(
                item, value_types.get(item["name"], ValueType.TEXT)
            )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    @staticmethod
    def _field(item: dict, value_type: str) -> forms.Field:
        label = item.get("displayName") or item["name"]
        default = "" if item["sensitive"] else item.get("value", "")
        options = {"label": label, "required": False, "initial": default,
                   "help_text": item.get("description", "")}  # fmt: skip
        if item["override"]["type"] == Override.RESTRICTED:
            values = item["override"].get("restrictedValues", [])
            choices = [(v, v) for v in values]
            if not item["required"] and not default:
                choices.insert(0, ("", "—"))
            return forms.ChoiceField(choices=choices, **options)
        if item["sensitive"]:
            options["help_text"] = " ".join(filter(None, [options["help_text"], LEFT_EMPTY]))
            field = forms.CharField(widget=forms.PasswordInput(render_value=False), **options)
            field.when_left_empty = LEFT_EMPTY
            return field
        if value_type == ValueType.BOOLEAN:
            return forms.ChoiceField(choices=[("true", "true"), ("false", "false")], **options)
        if value_type == ValueType.JSON:
            return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=False, **options)
        if value_type == ValueType.NUMBER:
            return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                                   **options)  # fmt: skip
        return forms.CharField(strip=False, **options)

    def secret_fields(self) -> list[str]:
        return [PREFIX + item["name"] for item in self.inputs if item["sensitive"]]

    def submitted(self) -> dict[str, str]:
        """The inputs' values as sent, by input name (for ``compute.inputs.resolve_inputs``)."""
        return {item["name"]: self.cleaned_data.get(PREFIX + item["name"]) or ""
                for item in self.inputs}  # fmt: skip

    def add_input_errors(self, problems: dict[str, list[str]]) -> None:
        for name, messages in problems.items():
            field = PREFIX + name if PREFIX + name in self.fields else None
            for message in messages:
                self.add_error(field, message)
