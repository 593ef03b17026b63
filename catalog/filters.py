"""The catalog's filter set: search and service type, shared by the page and the API."""

import django_filters
from django.db.models import Count, Q, QuerySet

from profiles.models import ServiceProfile

TYPES = ServiceProfile.ServiceType


class CatalogFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    type = django_filters.ChoiceFilter(
        field_name="service_type", choices=TYPES.choices, label="Service Type"
    )

    class Meta:
        model = ServiceProfile
        fields = ["q", "type"]

    def search(self, queryset, name, value: str):
        """Display name, unique name, description or labels containing every word typed."""
        for word in value.split()[:10]:
            queryset = queryset.filter(
                Q(display_name__icontains=word)
                | Q(name__icontains=word)
                | Q(description__icontains=word)
                | Q(labels__icontains=word)
            )
        return queryset

    def searched(self) -> QuerySet:
        """The results before the service-type filter: what the tab counts count."""
        queryset = self.queryset
        if self.is_bound and self.form.is_valid():
            queryset = self.search(queryset, "q", self.form.cleaned_data.get("q") or "")
        return queryset

    def tab_counts(self) -> dict[str, int]:
        """One query: how many results each service-type tab holds, and all of them."""
        return self.searched().aggregate(
            all=Count("pk"),
            **{value: Count("pk", filter=Q(service_type=value)) for value in TYPES.values},
        )
