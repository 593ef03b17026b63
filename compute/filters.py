"""One filter set per list, shared by the HTML pages and the API (compute)."""

import django_filters

from compute.models import ComputeInstance, Service, ServiceState
from studio.filters import SearchFilterSet


class ServiceFilter(SearchFilterSet):
    """The Services list's search (service, profile or instance names) and state filter."""

    search_fields = ("name", "profile_name", "instance_name")
    state = django_filters.ChoiceFilter(choices=ServiceState.choices)

    class Meta:
        model = Service
        fields = ["q", "state"]


class ComputeInstanceFilter(SearchFilterSet):
    """The Compute Instances list's search: unique name, display name or GPUs."""

    search_fields = ("name", "display_name", "gpus")

    class Meta:
        model = ComputeInstance
        fields = ["q"]
