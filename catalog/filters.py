"""The catalog's filter set: search and service type, shared by the page and the API."""

import django_filters
from django.db.models import Q, QuerySet

from profiles.models import ServiceProfile, Visibility
from studio.filters import MAX_WORDS, SearchFilterSet

TYPES = ServiceProfile.ServiceType
JSON_SYNTAX = set('"{}[]:,\\')


class CatalogFilter(SearchFilterSet):
    """What end users search: every word typed must be found in one of ``search_fields`` or in
    the labels (see :meth:`search`)."""

    search_fields = (
        "display_name",
        "name",
        "description",
        "readme",
        "template_version__template__name",
        "template_version__template__display_name",
    )

    type = django_filters.ChoiceFilter(
        field_name="service_type", choices=TYPES.choices, label="Service Type"
    )

    class Meta:
        model = ServiceProfile
        fields = ["q", "type"]

    def search(self, queryset, name, value: str):
        """Display name, unique name, description, readme, environment template (its name or
        display name) or labels containing every word typed.

        A word written as the detail page shows a label, ``key=value``, finds that label. The
        template is reached through foreign keys, so the search stays one query.
        """
        for word in value.split()[:MAX_WORDS]:
            matches = Q()
            for field in self.search_fields:
                matches |= Q(**{f"{field}__icontains": word})
            # Labels are searched in their stored JSON text ({"key": "value"} on both
            # backends), so words holding JSON punctuation would match its syntax instead.
            if not any(char in word for char in JSON_SYNTAX):
                matches |= Q(labels__icontains=word)
            key, equals, label_value = word.partition("=")
            if equals and key and not any(char in word for char in JSON_SYNTAX):
                matches |= Q(labels__icontains=f'"{key}": "{label_value}')
            queryset = queryset.filter(matches)
        return queryset

    def searched(self) -> QuerySet:
        """The results before the service-type filter: what the tab counts count."""
        if not self.is_bound:
            return self.queryset
        self.form.is_valid()  # a bad type must not drop the search from the counts
        return self.search(self.queryset, "q", self.form.cleaned_data.get("q") or "")


class VisibleCatalogFilter(CatalogFilter):
    """:class:`CatalogFilter` over a project's visibility rows (the catalog page and API): the
    service type is theirs; a search looks into the profiles they stand for."""

    class Meta:
        model = Visibility
        fields = ["q", "type"]

    def search(self, queryset, name, value: str):
        if not value.split():
            return queryset
        found = super().search(ServiceProfile.objects.all(), name, value)
        return queryset.filter(profile__in=found)
