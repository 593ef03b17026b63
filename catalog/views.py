"""What end users see: their project's overview, the catalog of profiles available to it, and
each one's page. Every view is for anyone in the project (``access.member_required``)."""

from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from catalog.filters import TYPES, CatalogFilter
from profiles.models import EnvironmentTemplate, ServiceProfile, TemplateVersion
from studio import access
from studio.htmx import page_or_fragment
from studio.http import ProjectRequest
from studio.models import Project

PAGE_SIZE = 24


@require_GET
@access.member_required
def project_home(request: ProjectRequest, project: Project) -> HttpResponse:
    """A project's overview: what it is, your role, and what it can build on."""
    templates = (
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
    context = {
        "templates": templates,
        "profile_count": ServiceProfile.objects.filter(project=project).count(),
        "catalog_count": ServiceProfile.objects.in_catalog_of(project).count(),
        "member_count": project.memberships.count(),
    }
    return render(request, "catalog/project_home.html", context)


@require_GET
@access.member_required
def catalog(request: ProjectRequest, project: Project) -> HttpResponse:
    profiles = (
        ServiceProfile.objects.in_catalog_of(project)
        .select_related("project")
        .only(
            "name",
            "display_name",
            "description",
            "service_type",
            "icon_url",
            "project__name",
            "project__display_name",
        )
        .order_by("display_name", "name", "project__name")
    )
    filters = CatalogFilter(request.GET, queryset=profiles)
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = filters.tab_counts()
    q = request.GET.get("q", "").strip()
    tabs = [
        {"value": "", "label": "All", "count": counts["all"]},
        *({"value": v, "label": label, "count": counts[v]} for v, label in TYPES.choices),
    ]
    selected = request.GET.get("type", "") if request.GET.get("type") in TYPES.values else ""
    context = {
        "page": page,
        "tabs": tabs,
        "selected_type": selected,
        "q": q,
        "search_query": {"q": q} if q else {},
    }
    return page_or_fragment(request, "catalog/catalog.html", context)


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
        {"setting": setting, "variable": variables.get(setting.name)}
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
