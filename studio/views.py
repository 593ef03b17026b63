"""Pages of the tenancy core: where a user lands, and a project's overview."""

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from profiles.models import EnvironmentTemplate, ServiceProfile, TemplateVersion
from studio import access
from studio.models import Membership, Project


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send the user to their first project, or say plainly that they have none."""
    first = Project.objects.for_user(request.user).order_by("name").first()
    if first is None:
        return render(request, "studio/no_projects.html")
    return redirect("project_home", project=first.name)


@require_GET
@access.member_required
def project_home(request: HttpRequest, project: Project) -> HttpResponse:
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
    profiles = ServiceProfile.objects.visible_to(project)
    context = {
        "templates": templates,
        "profile_count": profiles.filter(project=project).count(),
        "catalog_count": ServiceProfile.objects.in_catalog_of(project).count(),
        "member_count": project.memberships.count(),
    }
    return render(request, "studio/project_home.html", context)


@require_GET
@access.admin_required
def project_members(request: HttpRequest, project: Project) -> HttpResponse:
    """Who belongs to the project and with which role (admins only)."""
    memberships = (
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("role", "user__username")
    )
    return render(request, "studio/project_members.html", {"memberships": memberships})
