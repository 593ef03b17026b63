"""Admin pieces that keep malformed relation keys from turning into 500s.

A key that does not parse (``abc``) or lies outside the column's range (30 digits) makes an
``__in`` lookup raise ValueError or OverflowError instead of matching nothing; these refuse it
as a field error first. Used by every ModelAdmin with relations, and by Studio forms that take
project keys.
"""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.db import models


def is_key_of(field: models.Field, value: object) -> bool:
    """Whether ``value`` could be a value of ``field`` (a primary key, say) in the database.

    A key that does not parse (``abc``) or lies outside the column's range (30 digits) makes a
    ``__in`` lookup raise ValueError or OverflowError instead of matching nothing.
    """
    try:
        field.run_validators(field.to_python(value))
    except ValidationError:
        return False
    return True


class KeyCheckedMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses a submitted key that is no key at all, before it reaches an ``__in`` lookup."""

    def _check_values(self, value):
        opts = self.queryset.model._meta
        key = opts.get_field(self.to_field_name) if self.to_field_name else opts.pk
        for pk in value:
            if not is_key_of(key, pk):
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)


class KeyCheckedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget looks the submitted value up to show it again when the page
    comes back with errors; a value that is no key would make that lookup raise (a 500)."""

    def optgroups(self, name, value, attr=None):
        target = self.field.target_field
        return super().optgroups(name, [v for v in value if is_key_of(target, v)], attr)


class KeyCheckedAdminMixin:
    """Keys posted for relations that are no keys at all are refused, never a 500."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", KeyCheckedMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeyCheckedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
