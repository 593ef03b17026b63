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
