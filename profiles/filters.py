"""One filter set per list, shared by the Studio pages and (later) the API."""

import django_filters

from profiles.models import ServiceProfile, Visibility
from studio.filters import SearchFilterSet


class ServiceProfileFilter(SearchFilterSet):
    """Unique name, display name or description containing every word typed; type; sort."""

    search_fields = ("name", "display_name", "description")
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


class VisibleProfileFilter(ServiceProfileFilter):
    """:class:`ServiceProfileFilter` over a project's visibility rows (the Studio list): they
    hold what it sorts and filters by; only a search reads the profiles' descriptions."""

    search_fields = ("name", "display_name", "profile__description")

    class Meta:
        model = Visibility
        fields = ["q", "service_type"]
