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

    ``kept`` is a value typed into this hidden box on an earlier submission that was refused
    for another field (profiles.kept holds it, encrypted, on the server): the box says so, and
    leaving it empty uses that value instead of the stored one.
    """

    KEPT_HELP = (
        "Sensitive value: kept from your last try, not saved yet. "
        "Leave empty to keep it, or type a new value."
    )

    def __init__(self, *args, kept: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept = ""
        self.hides_value = False
        field = self.fields.get("value")
        if field is None:
            return
        field.required = False
        if self.instance.pk and self.instance.sensitive:
            self.initial["value"] = ""
            state = "set" if self.instance.secret else "not set"
            field.widget = self._secret_widget()
            self._unkept_help = f"Sensitive value: {state}. Leave empty to keep it."
            self.hides_value = True
        elif self._submitted_as_sensitive():
            field.widget = self._secret_widget()
            self._unkept_help = "Sensitive value: not shown back on this page; type it again."
            self.hides_value = True
        if self.hides_value:
            self._set_kept(kept if not field.disabled else "")

    def _set_kept(self, value: str) -> None:
        self.kept = value
        help_text = self.KEPT_HELP if value else self._unkept_help
        self.fields["value"].help_text = help_text
        if "value" in self._bound_fields_cache:  # a bound field copies the help text it had
            self["value"].help_text = help_text

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

    def keep_for_next_try(self) -> str:
        """After a refused submission: the value of the hidden box to keep for the next try,
        typed now or kept from before, and the box now says it is kept. "" (and the box says
        so) when there is none, when that value was itself refused, or when the page shows
        the box's value anyway."""
        field = self.fields.get("value")
        if not self.is_bound or field is None or field.disabled or not self.hides_value:
            return ""
        value = ""
        if "value" not in self.errors:
            name = self.add_prefix("value")
            value = field.widget.value_from_datadict(self.data, self.files, name) or self.kept
        self._set_kept(value)
        return value

    def has_changed(self) -> bool:
        # A kept value left to be used changes the row, though the box was posted empty.
        return super().has_changed() or bool(self.kept)

    def clean(self):
        cleaned = super().clean()
        value = cleaned.get("value") or self.kept
        sensitive = cleaned.get("sensitive", self.instance.sensitive)
        if sensitive:
            keep = value == "" and self.instance.pk and self.instance.sensitive
            self.instance.secret = self.instance.secret if keep else value
            cleaned["value"] = ""
        else:
            self.instance.secret = ""
            if self.kept and not cleaned.get("value"):
                cleaned["value"] = self.kept
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
