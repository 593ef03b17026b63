"""The error summary at the top of a form page:
``{% error_summary form formset as summary %}`` then ``{% include "_error_summary.html" %}``
(templates/_error_summary.html), which shows it when ``summary.shown``.

Each error becomes one item, ``{"label", "message", "target"}``: ``target`` is the id of the
control to fix (the summary links to it), empty for an error about a whole form. A page hides
its own alert of whole-form errors when the summary is shown: they are in it.
"""

from django import forms, template
from django.forms.forms import NON_FIELD_ERRORS

from profiles.studio_forms import KeyValueBoundField

register = template.Library()


class Summary(list):
    """The errors of a page, and whether there are enough of them to sum up."""

    def __init__(self, items: list[dict], *, min_errors: int) -> None:
        super().__init__(items)
        self.shown = len(items) >= max(min_errors, 1)


@register.simple_tag
def error_summary(*forms_and_formsets, min_errors: int = 2) -> Summary:
    """Every error of the given forms and formsets (None is skipped), in page order; shown
    from ``min_errors`` errors on (several, by default)."""
    items: list[dict] = []
    for thing in forms_and_formsets:
        if thing is None or not getattr(thing, "is_bound", False):
            continue
        if isinstance(thing, forms.BaseFormSet):
            items += [_item("", message) for message in thing.non_form_errors()]
            for form in thing.forms:
                items += _form_items(form, row=getattr(form, "row_label", ""))
        else:
            items += _form_items(thing)
    return Summary(items, min_errors=min_errors)


def _item(label: str, message: str, target: str = "") -> dict:
    return {"label": label, "message": message, "target": target}


def _form_items(form: forms.BaseForm, row: str = "") -> list[dict]:
    if not form.errors:
        return []
    first = next((b for b in form.visible_fields() if not b.field.disabled), None)
    row_target = _target(first) if row and first is not None else ""
    items = [_item(row, message, row_target) for message in form.errors.get(NON_FIELD_ERRORS, [])]
    for bound in form:
        if bound.name not in form.errors:
            continue
        label = f"{row} · {bound.label}" if row else str(bound.label)
        if isinstance(bound, KeyValueBoundField):
            items += [
                _item(bound.row_label(e["row"]), e["message"], bound.row_target(e["row"]))
                for e in bound.numbered_errors()
            ]
            continue
        target = "" if bound.is_hidden else _target(bound)
        items += [_item(label, message, target) for message in bound.errors]
    return items


def _target(bound: forms.BoundField) -> str:
    """The id of the control a bound field renders (the first one of a group of choices)."""
    widget = bound.field.widget
    if isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
        return widget.id_for_label(bound.auto_id, "0")
    return bound.id_for_label or bound.auto_id or ""
