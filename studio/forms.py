"""Forms every app's pages share."""

from django import forms
from django.core.exceptions import ValidationError


class ConfirmNameForm(forms.Form):
    """Asks for a unique name, typed exactly, before something is removed for good."""

    # Not stripped: only the exact name confirms ("gpu-box " is not "gpu-box").
    confirm = forms.CharField(label="Type the unique name to confirm", max_length=63, strip=False)

    def __init__(self, *args, name: str, action: str, **kwargs) -> None:
        """``action`` completes "Type <name> exactly to …", e.g. "delete this profile"."""
        super().__init__(*args, **kwargs)
        self.name, self.action = name, action
        self.fields["confirm"].widget.attrs |= {"autocomplete": "off", "spellcheck": "false"}

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"]
        if typed != self.name:
            raise ValidationError(f"Type {self.name} exactly to {self.action}.", code="mismatch")
        return typed


class SecretsTypedAgain:
    """A form whose secret boxes are never filled back in (password and write-only fields).

    Once the form is refused, each secret box that was typed into says beside it that what was
    typed was not kept and must be typed again (:meth:`ask_to_type_secrets_again`, called
    before the refused form is shown)."""

    #: Said beside a secret box whose value was not kept.
    TYPE_AGAIN = "Not saved: this page reported an error, so type it again."

    def secret_fields(self) -> list[str]:
        raise NotImplementedError

    def ask_to_type_secrets_again(self) -> None:
        if not (self.is_bound and self.errors):
            return
        for name in self.secret_fields():
            if self.data.get(self.add_prefix(name)):
                field = self.fields[name]
                kept = getattr(field, "when_left_empty", "")
                field.help_text = " ".join(filter(None, [self.TYPE_AGAIN, kept]))
                self._bound_fields_cache.pop(name, None)  # a bound field keeps its help text
