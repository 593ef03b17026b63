"""Form pieces every way in shares: write-only sensitive values, the sharing rule, JSON boxes."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput

from profiles import rules


def form_values(form: forms.ModelForm, fields: list[str]) -> dict[str, Any]:
    """The values a validated ModelForm put on its instance for ``fields``: what ``form.save()``
    would save, for a service function to save instead."""
    return {field: getattr(form.instance, field) for field in fields}


class JSONValueField(forms.JSONField):
    """JSON typed into a box, for a column that holds an object or a list and never null.

    Django's own field turns an empty box (and ``null``) into None, which a NOT NULL column
    refuses with an IntegrityError, and lets the RecursionError or ValueError of
    ``json.loads`` escape for deeply nested arrays or over-long integers: each a 500. Here an
    empty box means ``empty()`` (the column's default, ``{}`` or ``[]``), ``null`` is refused
    and every input that does not parse is a field error.
    """

    default_error_messages = {
        "null": "Enter a JSON value other than null, or leave the box empty.",
    }

    def __init__(self, *, empty: Callable[[], Any] = dict, **kwargs) -> None:
        self.empty = empty
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return self.empty()
        try:
            converted = super().to_python(value)
        except (RecursionError, ValueError):
            raise ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": value}
            ) from None
        if converted is None:
            raise ValidationError(self.error_messages["null"], code="null")
        return converted

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except (RecursionError, ValueError):
            return InvalidJSONInput(data)


class SensitiveValueFormMixin:
    """A ``value`` field that is write-only when the row is sensitive.

    The stored secret is never put back into the page: the field renders empty with "set" or
    "not set" beside it, and leaving it empty keeps what is stored. A value typed into a row
    marked sensitive is not echoed either when the page comes back with errors. On save the
    value goes to the encrypted column when the row is sensitive and to the plain one otherwise.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("value")
        if field is None:
            return
        field.required = False
        if self.instance.pk and self.instance.sensitive:
            self.initial["value"] = ""
            state = "set" if self.instance.secret else "not set"
            field.widget = self._secret_widget()
            field.help_text = f"Sensitive value: {state}. Leave empty to keep it."
        elif self._submitted_as_sensitive():
            field.widget = self._secret_widget()
            field.help_text = "Sensitive value: not shown back on this page; type it again."

    @staticmethod
    def _secret_widget() -> forms.Widget:
        return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})

    def _submitted_as_sensitive(self) -> bool:
        field = self.fields.get("sensitive")
        if not self.is_bound or field is None:
            return False
        return bool(
            field.widget.value_from_datadict(self.data, self.files, self.add_prefix("sensitive"))
        )

    def clean(self):
        cleaned = super().clean()
        value = cleaned.get("value") or ""
        sensitive = cleaned.get("sensitive", self.instance.sensitive)
        if sensitive:
            keep = value == "" and self.instance.pk and self.instance.sensitive
            self.instance.secret = self.instance.secret if keep else value
            cleaned["value"] = ""
        else:
            self.instance.secret = ""
        return cleaned


class SharingFormMixin:
    """Checks ``sharing`` and ``shared_with`` together with :func:`rules.sharing_problems`."""

    def owner(self):
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if "sharing" in cleaned and "shared_with" in cleaned:
            problems = rules.sharing_problems(
                owner=self.owner(), sharing=cleaned["sharing"], projects=cleaned["shared_with"]
            )
            for field, messages in problems.items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned
