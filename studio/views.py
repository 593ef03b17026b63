"""Pages of the tenancy core: where a user lands, and a project's overview."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from profiles.models import EnvironmentTemplate, ServiceProfile, TemplateVersion
from studio import access
from studio.models import ApiKey, Membership, Project


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
    context = {
        "templates": templates,
        "profile_count": ServiceProfile.objects.filter(project=project).count(),
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


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What the key is for, e.g. “CI deploy” or “laptop”.",
    )


@require_http_methods(["GET", "POST"])
@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    """The user's API keys; a new key's token is shown once, in the response that creates it."""
    form = ApiKeyForm(request.POST or None)
    token = None
    if request.method == "POST" and form.is_valid():
        _, token = ApiKey.issue(user=request.user, name=form.cleaned_data["name"])
        form = ApiKeyForm()
    keys = ApiKey.objects.filter(user=request.user)
    response = render(
        request,
        "studio/api_keys.html",
        {"form": form, "keys": keys, "token": token},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )
    if token:
        add_never_cache_headers(response)  # the token must not linger in any cache
    return response


@require_POST
@login_required
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(
        ApiKey.objects.filter(user=request.user, revoked_at__isnull=True), pk=pk
    )
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    messages.success(request, f"Revoked the API key “{key.name}”. Scripts using it now get 401.")
    return redirect("api_keys")
