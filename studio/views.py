"""Pages of the tenancy core: where a user lands, a project's members, personal API keys."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio import access
from studio.http import AuthedRequest, ProjectRequest
from studio.models import ApiKey, Membership, Project


@require_GET
@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """Send the user to their first project, or say plainly that they have none."""
    first = Project.objects.for_user(request.user).order_by("name").first()
    if first is None:
        return render(request, "studio/no_projects.html")
    return redirect("catalog:overview", project=first.name)


@require_GET
@access.admin_required
def project_members(request: ProjectRequest, project: Project) -> HttpResponse:
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
def api_keys(request: AuthedRequest) -> HttpResponse:
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
def api_key_revoke(request: AuthedRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(
        ApiKey.objects.filter(user=request.user, revoked_at__isnull=True), pk=pk
    )
    key.revoke()
    messages.success(request, f"Revoked the API key “{key.name}”. Scripts using it now get 401.")
    return redirect("studio:api_keys")
