"""The end-user catalog over the API: ready profiles available to the project.

It shows what the catalog page shows: each profile's document without ``spec.sharing``, since
whom a profile is shared with is its owners' business (SPEC §2), and a member (or another
project) has no need of it to launch.
"""

import copy

from drf_spectacular.utils import extend_schema, extend_schema_view

from catalog.filters import VisibleCatalogFilter
from profiles.api import SERVICE_TYPE, ProfileDocumentListView
from profiles.documents import profile_document
from profiles.models import ServiceProfile, Visibility
from profiles.serializers import ProfileDocumentSerializer, SpecSerializer
from studio.api import PAGING, SEARCH, list_serializer


class CatalogSpecSerializer(SpecSerializer):
    sharing = None


class CatalogProfileSerializer(ProfileDocumentSerializer):
    """A profile as the catalog shows it: its document without ``spec.sharing``."""

    spec = CatalogSpecSerializer()


CatalogListSerializer = list_serializer("CatalogList", CatalogProfileSerializer(many=True))

# The page's search (catalog.filters.CatalogFilter), described as it is.
CATALOG_SEARCH = copy.copy(SEARCH)
CATALOG_SEARCH.description = (
    "Words that must each be found in the name, display name, description, readme, "
    "environment template (name or display name) or labels (a label also as key=value)."
)
CATALOG_PARAMETERS = [CATALOG_SEARCH, *PAGING, SERVICE_TYPE]


def catalog_document(profile: ServiceProfile) -> dict:
    document = profile_document(profile)
    del document["spec"]["sharing"]
    return document


@extend_schema_view(
    get=extend_schema(
        parameters=CATALOG_PARAMETERS,
        responses=CatalogListSerializer,
        summary="The catalog: ready profiles the project's users can launch",
        operation_id="listCatalog",
    )
)
class CatalogView(ProfileDocumentListView):
    """What the project's users can launch: ready profiles, each without ``spec.sharing``."""

    filterset_class = VisibleCatalogFilter
    filter_parameters = {"q": "q", "serviceType": "type"}
    ordering = ("display_name", "name", "owner_name")

    def get_queryset(self):
        return Visibility.objects.seen_by(self.project, ready=True)

    def documents(self, page):
        return [catalog_document(p) for p in self.profiles(page)]
