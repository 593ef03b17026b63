"""One filter set per list, shared by the HTML pages and the API (compute)."""

import django_filters
from django.db.models import Q

from compute.models import Service, ServiceState


class ServiceFilter(django_filters.FilterSet):
    """The Services list's search (service, profile or instance names) and state filter."""

    q = django_filters.CharFilter(method="search")
    state = django_filters.ChoiceFilter(choices=ServiceState.choices)

    class Meta:
        model = Service
        fields = ["q", "state"]

    def search(self, queryset, name, value: str):
        for word in value.split()[:10]:
            queryset = queryset.filter(
                Q(name__icontains=word)
                | Q(profile_name__icontains=word)
                | Q(instance_name__icontains=word)
            )
        return queryset
