"""What end users see: their project's overview, the catalog of profiles available to it, and
each one's page. Every view is for anyone in the project (``access.member_required``)."""

from dataclasses import dataclass

from django.core.paginator import Page
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.functional import SimpleLazyObject, cached_property
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from catalog.filters import TYPES, VisibleCatalogFilter
from compute.models import ComputeInstance, Service
from profiles import visibility
from profiles.choices import Override
from profiles.models import (
    EnvironmentTemplate,
    InputSetting,
    ServiceProfile,
    TemplateVersion,
    Visibility,
)
from studio import access, freshness
from studio.htmx import page_or_fragment
from studio.http import ProjectRequest
from studio.kept_pages import kept_page
from studio.models import Project

PAGE_SIZE = 24


@dataclass(frozen=True)
class Tile:
    """One overview tile: a count, what it counts, and the page that lists it."""

    label: str
    url: str
    count: int
    testid: str
    text: str  # under a count above zero
    empty: str  # under zero: what to do about it


@require_GET
@access.member_required
def project_home(request: ProjectRequest, project: Project) -> HttpResponse:
    """A project's overview: what it is, your role, and a tile for each page you may open.

    Admins see the project's Studio side (its service profiles, its members, the environment
    templates it can build on); members what they use (the catalog, their services, the
    project's compute instances): no tile leads a member to a page that would refuse them.
    """
    name = project.name
    catalog_count = ServiceProfile.objects.in_catalog_of(project).count()
    context: dict = {"templates": None}
    if access.is_admin(project):
        member_count = project.memberships.count()
        superusers = ", besides superusers" if request.user.is_superuser else ""
        tiles = [
            Tile(
                "In the catalog",
                reverse("catalog:list", args=[name]),
                catalog_count,
                "catalog-count",
                "ready service profiles this project can launch",
                "Nothing is ready to launch yet: finish a service profile in PaaS Studio, "
                "or have one shared with this project.",
            ),
            Tile(
                "Service profiles",
                reverse("profiles:list", args=[name]),
                ServiceProfile.objects.filter(project=project).count(),
                "profile-count",
                "owned by this project, drafts included",
                "This project has no service profiles yet: create one in PaaS Studio.",
            ),
            Tile(
                "Members",
                reverse("studio:members", args=[name]),
                member_count,
                "member-count",
                f"member{pluralize(member_count)} of this project{superusers}",
                "No one belongs to this project yet.",
            ),
        ]
        context["templates"] = (
            EnvironmentTemplate.objects.available_to(project)
            .select_related("project")
            .prefetch_related(
                Prefetch(
                    "versions",
                    queryset=TemplateVersion.objects.filter(state=TemplateVersion.State.ACTIVE),
                    to_attr="active_versions",
                )
            )
            .order_by("name", "project__name")
        )
    else:
        service_count = Service.objects.visible_in(project, request.user).count()
        instance_count = ComputeInstance.objects.filter(project=project).count()
        tiles = [
            Tile(
                "In the catalog",
                reverse("catalog:list", args=[name]),
                catalog_count,
                "catalog-count",
                "ready services you can launch",
                "Nothing is ready to launch yet: your platform team publishes services here.",
            ),
            Tile(
                "Your services",
                reverse("compute:services", args=[name]),
                service_count,
                "service-count",
                f"service{pluralize(service_count)} you launched in this project",
                "You have not launched a service yet: launch one from the catalog.",
            ),
            Tile(
                "Compute Instances",
                reverse("compute:instances", args=[name]),
                instance_count,
                "instance-count",
                f"machine{pluralize(instance_count)} registered in this project to launch onto",
                "No compute instance is registered yet: register the machine you will launch onto.",
            ),
        ]
    context["tiles"] = tiles
    return render(request, "catalog/project_home.html", context)


@require_GET
@kept_page
@access.member_required
def catalog(request: ProjectRequest, project: Project) -> HttpResponse:
    """The ready profiles available to the project: searched, by service type, a page at a time.

    The results (tabs with their counts, cards, pages) are rendered once per project, search
    and page, and kept until anything they show changes (:mod:`studio.freshness`): the
    queries below run only when the template finds no kept copy.
    """
    q = request.GET.get("q", "").strip()
    selected = request.GET.get("type", "") if request.GET.get("type") in TYPES.values else ""
    number = request.GET.get("page", "")
    results = SimpleLazyObject(lambda: CatalogResults(project, request.GET))
    context = {
        "page": SimpleLazyObject(lambda: results.page(number)),
        "tabs": SimpleLazyObject(lambda: results.tabs()),
        "selected_type": selected,
        "q": q,
        "search_query": {"q": q} if q else {},
        "results_key": f"{freshness.token_of(request)}:{project.pk}:{selected}:{number}:{q}",
    }
    return page_or_fragment(request, "catalog/catalog.html", context)


class CatalogResults:
    """A project's catalog as searched, read from its visibility rows.

    Counting and paging use :class:`~profiles.models.Visibility` alone, two ranges of one
    index, so they cost what the project sees, whatever the number of profiles; only the
    page's own profiles are read, and a search reads the profiles it looks into.
    """

    def __init__(self, project: Project, data) -> None:
        rows = Visibility.objects.seen_by(project, ready=True)
        filters = VisibleCatalogFilter(data, queryset=rows)
        self.searched = filters.searched()
        self.selected = filters.form.cleaned_data.get("type") or ""

    @cached_property
    def counts(self) -> dict[str, int]:
        """How many results each service-type tab holds, and all of them: one query."""
        return self.searched.aggregate(
            all=Count("pk"),
            **{value: Count("pk", filter=Q(service_type=value)) for value in TYPES.values},
        )

    def tabs(self) -> list[dict]:
        counts = self.counts
        return [
            {"value": "", "label": "All", "count": counts["all"]},
            *({"value": v, "label": label, "count": counts[v]} for v, label in TYPES.choices),
        ]

    def page(self, number: str) -> Page:
        """One page of results in catalog order, as the profiles a card shows."""
        rows = self.searched.filter(service_type=self.selected) if self.selected else self.searched
        return visibility.page_of(
            rows.order_by("display_name", "name", "owner_name"),
            _catalog_rows(),
            number,
            per_page=PAGE_SIZE,
            count=self.counts[self.selected or "all"],  # the tabs counted them
        )


def _catalog_rows():
    """What a catalog card shows of a profile."""
    return ServiceProfile.objects.select_related("project").only(
        "name",
        "display_name",
        "description",
        "service_type",
        "icon_url",
        "project__name",
        "project__display_name",
    )


@require_GET
@access.member_required
def catalog_detail(
    request: ProjectRequest, project: Project, owner: str, name: str
) -> HttpResponse:
    profile = get_object_or_404(
        ServiceProfile.objects.in_catalog_of(project).select_related(
            "project", "template_version__template"
        ),
        project__name=owner,
        name=name,
    )
    variables = {v.name: v for v in profile.template_version.variables.all()}
    inputs = [
        {
            "setting": setting,
            "variable": variables.get(setting.name),
            "sensitive_note": sensitive_note(setting) if setting.sensitive else "",
        }
        for setting in profile.inputs.all()
    ]
    context = {
        "profile": profile,
        "inputs": inputs,
        "outputs": profile.outputs.all(),
        # Rendered and sanitized once, when the revision was saved.
        "readme_html": mark_safe(profile.readme_html),
    }
    return render(request, "catalog/detail.html", context)


def sensitive_note(setting: InputSetting) -> str:
    """Who gives a sensitive input's value, as the detail page says it (the value never shows).

    A value the platform team set is theirs, replaceable at launch unless the override says
    ``notallowed``; without one, the person launching types it, or leaves it empty when it is
    optional.
    """
    locked = setting.override == Override.NOT_ALLOWED
    if setting.has_value:
        if locked:
            return "Set by the platform team"
        return "Set by the platform team; you may replace it"
    if locked:
        return "Left empty by the platform team"
    if setting.required:
        return "You will enter it when you launch"
    return "You may enter it when you launch"
