"""One filter set per list, shared by the Studio pages and (later) the API."""

import django_filters
from django.db.models import Q

from profiles.models import ServiceProfile


class ServiceProfileFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    service_type = django_filters.ChoiceFilter(
        choices=ServiceProfile.ServiceType.choices,
        empty_label="All service types",
        label="Service Type",
    )
    ordering = django_filters.OrderingFilter(
        fields=[("name", "name"), ("created_at", "created"), ("service_type", "type")],
        field_labels={
            "name": "Unique Name",
            "created_at": "Creation Date",
            "service_type": "Service Type",
        },
        label="Sort by",
    )

    class Meta:
        model = ServiceProfile
        fields = ["q", "service_type"]

    def search(self, queryset, name, value: str):
        """Unique name, display name or description containing every word typed."""
        for word in value.split()[:10]:
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(display_name__icontains=word)
                | Q(description__icontains=word)
            )
        return queryset
