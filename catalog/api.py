"""The end-user catalog over the API: ready profiles available to the project."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from catalog.filters import CatalogFilter
from profiles.api import (
    PAGING,
    ProfileListSerializer,
    documents_queryset,
    filter_errors,
    list_document,
    paging,
)
from profiles.documents import profile_document
from profiles.models import ServiceProfile
from studio.api import ProjectAPIView


class CatalogView(ProjectAPIView):
    @extend_schema(
        parameters=[
            *PAGING,
            OpenApiParameter(
                "serviceType", str, enum=ServiceProfile.ServiceType.values, required=False
            ),
        ],
        responses=ProfileListSerializer,
        summary="The catalog: ready profiles the project's users can launch",
        operation_id="listCatalog",
    )
    def get(self, request, project: str):
        limit, offset = paging(request)
        filters = CatalogFilter(
            {
                "q": request.query_params.get("q", ""),
                "type": request.query_params.get("serviceType", ""),
            },
            queryset=ServiceProfile.objects.in_catalog_of(self.project),
        )
        if not filters.is_valid():
            raise filter_errors(filters, {"type": "serviceType"})
        queryset = filters.qs.order_by("display_name", "name", "project__name")
        count = queryset.count()
        page = documents_queryset(queryset)[offset : offset + limit]
        items = [profile_document(p, viewer=self.project) for p in page]
        return Response(list_document("ServiceProfileList", items, count))
