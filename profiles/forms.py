"""Form pieces every way in shares: write-only sensitive values and the sharing rule."""

from django import forms

from profiles import rules


class SensitiveValueFormMixin:
    """A ``value`` field that is write-only when the row is sensitive.

    The stored secret is never put back into the page: the field renders empty with "set" or
    "not set" beside it, and leaving it empty keeps what is stored. On save the value goes to
    the encrypted column when the row is sensitive and to the plain one otherwise.
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
            field.widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
            field.help_text = f"Sensitive value: {state}. Leave empty to keep it."

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
