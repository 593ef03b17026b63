"""Forms of the PaaS Studio pages: the wizard steps, which are also the edit sections.

Each form owns its layout (crispy ``FormHelper``) and its cleaning; validation rules come from
profiles.validators and profiles.rules through the models, so these forms add no rule of
their own beyond how a page collects values.
"""

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError

from profiles import rules
from profiles.choices import Override, Sharing
from profiles.forms import SensitiveValueFormMixin, SharingFormMixin
from profiles.models import EnvironmentTemplate, InputSetting, ServiceProfile, TemplateVersion
from profiles.validators import (
    unique_pairs,
    validate_annotations,
    validate_extra_config,
    validate_labels,
)
from studio.admin_keys import KeyCheckedMultipleChoiceField
from studio.forms import ConfirmNameForm
from studio.models import Project
from studio.validators import validate_listed_name

# Key/value editors --------------------------------------------------------------------------


class KeyValueWidget(forms.Widget):
    """Rows of key and value inputs, posted as ``<name>-key`` and ``<name>-value`` lists.

    Rows are numbered from 1 as on the page; the errors of each row come in through ``attrs``
    (see :class:`KeyValueBoundField`) and are shown under it.
    """

    template_name = "profiles/widgets/key_value.html"

    def __init__(self, *, noun: str, value_placeholder: str = "", attrs=None) -> None:
        super().__init__(attrs)
        self.noun = noun
        self.value_placeholder = value_placeholder

    def value_from_datadict(self, data, files, name):
        keys = data.getlist(f"{name}-key") if hasattr(data, "getlist") else []
        values = data.getlist(f"{name}-value") if hasattr(data, "getlist") else []
        return list(zip(keys, values, strict=False))

    def value_omitted_from_data(self, data, files, name) -> bool:
        return f"{name}-key" not in data

    def get_context(self, name, value, attrs):
        attrs = dict(attrs or {})
        row_errors = attrs.pop(ROW_ERRORS_ATTR, {})
        context = super().get_context(name, value, attrs)
        if isinstance(value, dict):
            pairs = list(value.items())
        else:
            pairs = [tuple(pair) for pair in value or []]
        rows = [
            {"number": number, "key": key, "value": item, "errors": row_errors.get(number, [])}
            for number, (key, item) in enumerate(pairs or [("", "")], 1)
        ]
        context["widget"] |= {
            "rows": rows,
            "noun": self.noun,
            "value_placeholder": self.value_placeholder,
        }
        return context


ROW_ERRORS_ATTR = "row_errors"  # not an HTML attribute: the widget takes it out


class KeyValueBoundField(forms.BoundField):
    """A key/value field on a form: its errors numbered, each under the row it is about."""

    def numbered_errors(self) -> list[dict]:
        """The field's errors in order, as ``{"id", "message", "row"}``; ``row`` (from 1) is
        None for an error about the whole field. The ids are ``<auto_id>_error_<n>``."""
        return [
            {
                "id": f"{self.auto_id}_error_{number}",
                "message": error.messages[0],
                "row": (error.params or {}).get("row") if isinstance(error.params, dict) else None,
            }
            for number, error in enumerate(self.errors.as_data(), 1)
        ]

    def field_errors(self) -> list[dict]:
        return [error for error in self.numbered_errors() if error["row"] is None]

    def row_target(self, row: int | None) -> str:
        """The id of the key input of ``row`` (the first row for the whole field)."""
        return f"{self.auto_id}-key-{row or 1}"

    def row_label(self, row: int | None) -> str:
        return f"{self.label}, {self.field.noun} {row}" if row else str(self.label)

    def as_widget(self, widget=None, attrs=None, only_initial=False):
        by_row: dict[int, list[dict]] = {}
        for error in self.numbered_errors():
            if error["row"] is not None:
                by_row.setdefault(error["row"], []).append(error)
        attrs = {**(attrs or {}), ROW_ERRORS_ATTR: by_row}
        return super().as_widget(widget, attrs, only_initial)


def _on_row(error: ValidationError, row: int) -> list[ValidationError]:
    """``error``'s messages, each marked with the page's row number they are about."""
    return [
        ValidationError(item.message, code=item.code, params={**(item.params or {}), "row": row})
        for item in error.error_list
    ]


class KeyValueField(forms.Field):
    """A mapping typed as rows; empty rows are ignored, a key given twice is refused.

    ``row_validator`` (the model field's own validator) is run on each row alone, so that each
    problem is raised with the number of its row (``params["row"]``) and shown under it; what
    only the whole mapping can break (a total size) is left to the model's validation.
    """

    bound_field_class = KeyValueBoundField

    def __init__(
        self, *, noun: str, value_placeholder: str = "", row_validator=None, **kwargs
    ) -> None:
        kwargs.setdefault("required", False)
        super().__init__(
            widget=KeyValueWidget(noun=noun, value_placeholder=value_placeholder), **kwargs
        )
        self.noun = noun
        self.row_validator = row_validator

    def to_python(self, value) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        errors: list[ValidationError] = []
        mapping: dict[str, str] = {}
        repeated: set[str] = set()
        for row, (raw_key, item) in enumerate(value or [], 1):
            key = raw_key.strip()
            if not (key or item.strip()):
                continue
            if not key:
                errors += _on_row(
                    ValidationError(f"Every {self.noun} with a value needs a key.", code="no_key"),
                    row,
                )
                continue
            if key in mapping:
                if key not in repeated:
                    repeated.add(key)
                    try:  # unique_pairs words the refusal, for this key alone
                        unique_pairs([(key, item), (key, item)], what=f"{self.noun} key")
                    except ValidationError as error:
                        errors += _on_row(error, row)
                continue
            if self.row_validator is not None:
                try:
                    self.row_validator({key: item})
                except ValidationError as error:
                    errors += _on_row(error, row)
            mapping[key] = item
        if errors:
            raise ValidationError(errors)
        return mapping

    def prepare_value(self, value):
        return value


class LinesField(forms.CharField):
    """A list of text values, one per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class SectionModelForm(forms.ModelForm):
    """A ModelForm for one section of a profile.

    The model's own checks may name a field this section does not show (the template
    version, say, when finishing the wizard on a version since disabled): such messages go
    to the top of the form rather than crashing Django's error handling.
    """

    def _update_errors(self, errors) -> None:
        if hasattr(errors, "error_dict"):
            shown, elsewhere = {}, []
            for field, messages in errors.error_dict.items():
                if field in self.fields or field == forms.forms.NON_FIELD_ERRORS:
                    shown[field] = messages
                else:
                    elsewhere += messages
            if elsewhere:
                shown.setdefault(forms.forms.NON_FIELD_ERRORS, []).extend(elsewhere)
            errors = ValidationError(shown)
        super()._update_errors(errors)


class RevisionForm(forms.Form):
    """The revision a page was loaded at, sent back for the stale-edit check, and which profile
    it was (a profile deleted and made again under the same name is another one)."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    profile = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def is_for_another(self, profile: ServiceProfile) -> bool:
        """Whether the page was loaded for another profile than ``profile`` (one since
        deleted); call after validation."""
        posted = self.cleaned_data.get("profile")
        return posted is not None and posted != profile.pk


# General ------------------------------------------------------------------------------------


class GeneralForm(SectionModelForm):
    """Step 1. The unique name is asked only when creating; it never changes afterwards."""

    environment_template = forms.ModelChoiceField(
        label="Environment Template",
        queryset=EnvironmentTemplate.objects.none(),
        empty_label="Select a template",
        help_text="The code that deploys the software when a service is launched.",
    )
    labels = KeyValueField(
        label="Labels",
        noun="label",
        help_text="Attached to the compute instances launched from this profile.",
        row_validator=validate_labels,
    )
    annotations = KeyValueField(
        label="Annotations",
        noun="annotation",
        help_text="Descriptive only; any text value.",
        row_validator=validate_annotations,
    )
    extra_config = KeyValueField(
        label="Extra Configuration",
        noun="setting",
        value_placeholder="value",
        help_text="Additional settings such as environment variables: a name and its value.",
        row_validator=validate_extra_config,
    )

    # As the page shows them (the error summary lists errors in this order).
    field_order = ["name", "display_name", "description", "environment_template"]

    class Meta:
        model = ServiceProfile
        fields = ServiceProfile.GENERAL_FIELDS
        labels = {"template_version": "Environment Template Version"}
        help_texts = {
            "name": "Lowercase letters, digits and hyphens, e.g. jupyter-notebook. "
            "It cannot be changed once the profile is created.",
            "display_name": "What end users see, e.g. Jupyter Notebook.",
            "description": "A few sentences that help end users choose this profile.",
            "icon_url": "Absolute http(s) address of an image shown in the catalog.",
            "readme": "Markdown: headings, lists, tables and fenced code. Shown to end users.",
        }
        widgets = {
            # data-char-count: a live "n / max" under the field (static/js/form-feedback.js).
            "display_name": forms.TextInput(attrs={"data-char-count": ""}),
            "description": forms.Textarea(attrs={"rows": 3, "data-char-count": ""}),
            "readme": forms.Textarea(attrs={"rows": 12, "class": "font-monospace"}),
            "icon_url": forms.URLInput(attrs={"placeholder": "https://"}),
        }

    def __init__(self, *args, project: Project, refresh_url: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.instance.project = project
        creating = self.instance.pk is None
        if not creating:
            del self.fields["name"]
        templates = EnvironmentTemplate.objects.available_to(project).select_related("project")
        self.fields["environment_template"].queryset = templates
        self.fields["environment_template"].label_from_instance = _template_label
        # Choosing a template re-renders the version choices from the server (htmx).
        self.fields["environment_template"].widget.attrs |= {
            "hx-get": refresh_url,
            "hx-target": "#version-field",
            "hx-swap": "outerHTML",
            "hx-trigger": "change",
        }

        chosen = self._chosen_template()
        if chosen is None and not creating:
            chosen = self.instance.template_version.template
            self.initial["environment_template"] = chosen.pk
        versions = TemplateVersion.objects.filter(state=TemplateVersion.State.ACTIVE)
        self.fields["template_version"].queryset = (
            versions.filter(template=chosen) if chosen else versions.none()
        )
        self.fields["template_version"].empty_label = (
            "Select a version" if chosen else "Select a template first"
        )
        self.fields["template_version"].label_from_instance = lambda v: v.name
        self.fields["template_version"].help_text = "Only active versions can be chosen."
        if not creating:
            # Picking another version shows what it adds and removes before anything is saved.
            self.fields["template_version"].widget.attrs |= {
                "hx-get": refresh_url,
                "hx-target": "#version-preview",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
                "aria-controls": "version-preview",
            }

        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def _chosen_template(self) -> EnvironmentTemplate | None:
        key = self.add_prefix("environment_template")
        raw = (self.data.get(key) if self.is_bound else None) or self.initial.get(
            "environment_template"
        )
        if not raw:
            return None
        try:
            return self.fields["environment_template"].queryset.filter(pk=int(raw)).first()
        except (TypeError, ValueError):
            return None

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]  # the model field's validators ran already
        if problem := rules.name_taken(ServiceProfile, self.project, name):
            raise ValidationError(problem, code="taken")
        return name


def _template_label(template: EnvironmentTemplate) -> str:
    owner = "System" if template.project.is_system_catalog else template.project.display_name
    return f"{template.display_name} ({template.name}) · {owner}"


# Input Settings -----------------------------------------------------------------------------


class InputSettingForm(SensitiveValueFormMixin, SectionModelForm):
    """One variable's row: what end users see and how far they may change it."""

    restricted_values = LinesField(
        label="Restricted values", required=False, help_text="One per line."
    )

    class Meta:
        model = InputSetting
        fields = [
            "value",
            "display_name",
            "description",
            "required",
            "sensitive",
            "override",
            "restricted_values",
        ]
        labels = {"value": "Default value", "description": "Help text"}
        widgets = {
            "value": forms.TextInput(),
            "description": forms.TextInput(),
        }

    def __init__(self, *args, variable=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.variable = variable
        self.row_label = self.instance.name  # what the error summary calls the row
        self.fields["override"].widget = forms.Select(choices=Override.choices)
        self.fields["description"].help_text = ""
        if variable is not None:
            self._follow_template(variable)

    def _follow_template(self, variable) -> None:
        """Lock what the template decides, and offer the value in its type's own widget."""
        fields = self.fields
        if variable.required:
            fields["required"].disabled = True
            fields["required"].help_text = "The template requires it."
        if variable.sensitive:
            fields["sensitive"].disabled = True
            fields["sensitive"].help_text = "The template marks it sensitive."
        if variable.override == Override.NOT_ALLOWED:
            for name in ("override", "value", "restricted_values"):
                fields[name].disabled = True
            fields["value"].help_text = "The template fixes this value."
        if self.instance.sensitive:
            return  # the write-only password input stays
        if variable.value_type == "boolean":
            fields["value"].widget = forms.Select(
                choices=[("", "No default"), ("true", "true"), ("false", "false")]
            )
        elif variable.value_type == "number":
            fields["value"].widget = forms.TextInput(attrs={"inputmode": "decimal"})
        elif variable.value_type == "json":
            fields["value"].widget = forms.Textarea(attrs={"rows": 2, "class": "font-monospace"})


class BaseInputFormSet(forms.BaseModelFormSet):
    """Exactly the profile's input rows, whatever the posted management form claims."""

    def __init__(self, *args, variables: dict, kept: dict[int, str] | None = None, **kwargs):
        """``kept``: sensitive values kept from a refused submission, by input setting pk."""
        self.variables = variables
        self.kept = kept or {}
        super().__init__(*args, **kwargs)

    def total_form_count(self) -> int:
        return len(self.get_queryset())

    def initial_form_count(self) -> int:
        return len(self.get_queryset())

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if index is not None and index < len(self.get_queryset()):
            setting = self.get_queryset()[index]
            kwargs["variable"] = self.variables.get(setting.name)
            kwargs["kept"] = self.kept.get(setting.pk, "")
        return kwargs

    def clean(self) -> None:
        refuse_changed_rows(self, [s.pk for s in self.get_queryset()], "inputs")
        for form, setting in zip(self.forms, self.get_queryset(), strict=True):
            if form.cleaned_data.get("id") not in (None, setting):
                raise ValidationError("The inputs changed while you were editing; reload the page.")


def refuse_changed_rows(formset, expected: list, what: str) -> None:
    """Refuse a submission whose management form counts other rows than the page showed."""
    posted = formset.management_form.cleaned_data.get("TOTAL_FORMS")
    if posted is not None and posted != len(expected):
        raise ValidationError(f"The {what} changed while you were editing; reload the page.")


InputFormSet = forms.modelformset_factory(
    InputSetting, form=InputSettingForm, formset=BaseInputFormSet, extra=0, can_delete=False
)


# Output Settings ----------------------------------------------------------------------------


class OutputChoiceForm(forms.Form):
    """One declared output: shown to end users or not, and how."""

    name = forms.CharField(widget=forms.HiddenInput)
    show = forms.BooleanField(label="Show to end users", required=False)
    display_name = forms.CharField(label="Display Name", max_length=100, required=False)
    description = forms.CharField(label="Description", max_length=2000, required=False)
    sensitive = forms.BooleanField(label="Sensitive", required=False)
    position = forms.IntegerField(label="Order", min_value=0, max_value=999, required=False)

    def __init__(self, *args, declared=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared
        self.row_label = declared.name if declared is not None else ""
        if declared is not None and declared.sensitive:
            # Locked as a sensitive input is: the template decides, the page only says so.
            self.initial["sensitive"] = True
            self.fields["sensitive"].disabled = True
            self.fields["sensitive"].help_text = "The template marks it sensitive."

    def clean(self):
        cleaned = super().clean()
        if self.declared is not None and self.declared.sensitive and not cleaned.get("sensitive"):
            self.add_error(
                "sensitive", "The template marks this output sensitive; it stays sensitive."
            )
        if cleaned.get("show") and not cleaned.get("display_name"):
            self.add_error("display_name", "Give the output a name end users will see.")
        return cleaned


class BaseOutputFormSet(forms.BaseFormSet):
    def __init__(self, *args, declared: list, **kwargs) -> None:
        self.declared = declared
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if index is not None and index < len(self.declared):
            kwargs["declared"] = self.declared[index]
        return kwargs

    def total_form_count(self) -> int:
        # One row per declared output, whatever the posted management form claims.
        return len(self.declared)

    def clean(self) -> None:
        refuse_changed_rows(self, self.declared, "outputs")
        # Row i is the i-th declared output: its sensitivity was checked against that one.
        names = [form.cleaned_data.get("name") for form in self.forms]
        if names != [o.name for o in self.declared]:
            raise ValidationError("The outputs changed while you were editing; reload the page.")


OutputFormSet = forms.formset_factory(
    OutputChoiceForm, formset=BaseOutputFormSet, extra=0, max_num=200, absolute_max=200
)


# Sharing ------------------------------------------------------------------------------------


class SharingForm(SharingFormMixin, SectionModelForm):
    class Meta:
        model = ServiceProfile
        fields = ["sharing", "shared_with"]
        labels = {"sharing": "Share with", "shared_with": "Projects"}
        field_classes = {"shared_with": KeyCheckedMultipleChoiceField}
        widgets = {
            "sharing": forms.RadioSelect(choices=Sharing.choices),
            "shared_with": forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["shared_with"].queryset = Project.objects.pickable().exclude(
            pk=self.instance.project_id
        )
        self.fields["shared_with"].required = False
        self.fields["shared_with"].label_from_instance = lambda p: f"{p.display_name} ({p.name})"
        self.fields["shared_with"].help_text = "Pick the projects for Selected Projects."

    def owner(self):
        return self.instance.project

    def clean(self):
        cleaned = self.cleaned_data
        if cleaned.get("sharing") in {Sharing.NONE, Sharing.ALL}:
            # The picker stays on the page; what was ticked does not count for None/All.
            cleaned["shared_with"] = Project.objects.none()
        return super().clean()


# Delete and clone ----------------------------------------------------------------------------


class ConfirmDeleteForm(ConfirmNameForm):
    def __init__(self, *args, profile: ServiceProfile, **kwargs) -> None:
        super().__init__(*args, name=profile.name, action="delete this profile", **kwargs)
        self.profile = profile
        # The page is there to type the name: it opens with the box focused.
        self.fields["confirm"].widget.attrs["autofocus"] = True


class CloneForm(forms.Form):
    name = forms.CharField(
        label="Unique Name",
        max_length=63,
        validators=[validate_listed_name],
        help_text="The new profile's unique name in this project; it cannot be changed later.",
    )

    def __init__(self, *args, project: Project, source: ServiceProfile, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.source = source

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if problem := rules.name_taken(ServiceProfile, self.project, name):
            raise ValidationError(problem, code="taken")
        return name

    def clean(self):
        cleaned = super().clean()
        problems = self.source.template_version.problems_in(self.project)
        for messages in problems.values():
            for message in messages:
                self.add_error(None, f"This system profile cannot be cloned now: {message}")
        return cleaned


# What a refused submission typed -------------------------------------------------------------

MASKED = "•••••• (sensitive: not shown)"


def typed_values(step: str, data, *, project: Project, document: dict | None) -> list[dict]:
    """What a submission of wizard step ``step`` typed, for a page that could not save it (the
    profile was deleted meanwhile): ``[{"title", "items": [(label, text)]}]``, one untitled
    section for General and Sharing, one per row (titled with its name) for inputs and
    outputs. Sensitive values are masked. ``document`` is the profile's last document (the
    deletion event keeps it): it names the input rows.
    """
    document = document or {}
    spec = document.get("spec", {}) if isinstance(document.get("spec"), dict) else {}
    if step == ServiceProfile.Step.GENERAL:
        form = GeneralForm(data, project=project, instance=ServiceProfile(project=project))
        return [{"title": "", "items": _items(form, skip={"name"})}]
    if step == ServiceProfile.Step.INPUTS:
        return [
            {"title": setting.name, "items": _items(form, masked={"value"} if hidden else set())}
            for setting, form, hidden in _typed_inputs(data, project, spec)
        ]
    if step == ServiceProfile.Step.OUTPUTS:
        count = _posted_count(data, "outputs")
        forms_ = [OutputChoiceForm(data, prefix=f"outputs-{i}") for i in range(count)]
        return [
            {"title": str(form["name"].value() or ""), "items": _items(form, skip={"name"})}
            for form in forms_
        ]
    form = SharingForm(data, instance=ServiceProfile(project=project))
    return [{"title": "", "items": _items(form)}]


def _posted_count(data, prefix: str, limit: int = 200) -> int:
    try:
        return max(0, min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), limit))
    except (TypeError, ValueError):
        return 0


def _typed_inputs(data, project: Project, spec: dict):
    """Each input row of the last document with the form its row of ``data`` fills in, and
    whether its value is sensitive (then masked)."""
    rows = [row for row in spec.get("inputs", []) if isinstance(row, dict)]
    variables = _template_variables(project, spec.get("environmentTemplate"))
    for index, row in enumerate(rows[: _posted_count(data, "inputs")]):
        setting = InputSetting(
            name=str(row.get("name", "")),
            display_name=str(row.get("displayName", "")),
            description=str(row.get("description", "")),
            required=bool(row.get("required")),
            sensitive=bool(row.get("sensitive")),
        )
        override = row.get("override") if isinstance(row.get("override"), dict) else {}
        setting.override = override.get("type", Override.ALLOWED)
        setting.restricted_values = list(override.get("restrictedValues", []))
        form = InputSettingForm(
            data, prefix=f"inputs-{index}", instance=setting, variable=variables.get(setting.name)
        )
        yield setting, form, setting.sensitive or form.hides_value


def _template_variables(project: Project, reference: object) -> dict:
    """The variables of the template version a document names, if the project can tell which
    one that is (its locks decide the disabled fields)."""
    if not isinstance(reference, dict):
        return {}
    versions = TemplateVersion.objects.filter(
        template__in=EnvironmentTemplate.objects.available_to(project).filter(
            name=reference.get("name")
        ),
        name=reference.get("version"),
    )
    found = list(versions[:2])
    return {v.name: v for v in found[0].variables.all()} if len(found) == 1 else {}


def _items(form: forms.Form, *, skip=frozenset(), masked=frozenset()) -> list[tuple[str, str]]:
    items = []
    for bound in form:
        if bound.name in skip or bound.is_hidden:
            continue
        text = _shown(bound)
        if bound.name in masked:
            text = MASKED if text else "(left empty)"
        items.append((str(bound.label), text))
    return items


def _shown(bound: forms.BoundField) -> str:
    """A bound field's value as the admin would read it: choice labels, rows, Yes or No."""
    field, value = bound.field, bound.value()
    if isinstance(field, forms.BooleanField):
        return "Yes" if value else "No"
    if isinstance(field, KeyValueField):
        rows = value.items() if isinstance(value, dict) else value or []
        return "\n".join(f"{key} = {item}" for key, item in rows if key or item)
    if isinstance(field, LinesField):
        return value if isinstance(value, str) else "\n".join(value or [])
    if isinstance(field, forms.ChoiceField):
        labels = {str(key): str(label) for key, label in field.choices}
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(labels.get(str(v), str(v)) for v in values if v not in (None, ""))
    return "" if value is None else str(value)
