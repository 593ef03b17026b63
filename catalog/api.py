"""The end-user catalog over the API: ready profiles available to the project.

It shows what the catalog page shows: each profile's document without ``spec.sharing``, since
whom a profile is shared with is its owners' business (SPEC §2), and a member (or another
project) has no need of it to launch.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from catalog.filters import CatalogFilter
from profiles.api import (
    LIST_PARAMETERS,
    choice_param,
    documents_queryset,
    filter_errors,
    list_document,
    paging,
    parameter_names,
)
from profiles.documents import profile_document
from profiles.models import ServiceProfile
from profiles.serializers import ProfileDocumentSerializer, SpecSerializer
from studio.api import ProjectAPIView, list_serializer


class CatalogSpecSerializer(SpecSerializer):
    sharing = None


class CatalogProfileSerializer(ProfileDocumentSerializer):
    """A profile as the catalog shows it: its document without ``spec.sharing``."""

    spec = CatalogSpecSerializer()


CatalogListSerializer = list_serializer("CatalogList", CatalogProfileSerializer(many=True))


def catalog_document(profile: ServiceProfile) -> dict:
    document = profile_document(profile)
    del document["spec"]["sharing"]
    return document


class CatalogView(ProjectAPIView):
    query_parameters = {"GET": parameter_names(LIST_PARAMETERS)}

    @extend_schema(
        parameters=LIST_PARAMETERS,
        responses=CatalogListSerializer,
        summary="The catalog: ready profiles the project's users can launch",
        operation_id="listCatalog",
    )
    def get(self, request, project: str):
        limit, offset = paging(request)
        filters = CatalogFilter(
            {"q": request.query_params.get("q", ""), "type": choice_param(request, "serviceType")},
            queryset=ServiceProfile.objects.in_catalog_of(self.project),
        )
        if not filters.is_valid():
            raise filter_errors(filters, {"type": "serviceType"})
        queryset = filters.qs.order_by("display_name", "name", "project__name")
        count = queryset.count()
        page = documents_queryset(queryset)[offset : offset + limit]
        items = [catalog_document(p) for p in page]
        return Response(list_document("ServiceProfileList", items, count))
