"""The Compute Instances pages (SPEC §8): list, register, detail, edit, test connection, remove.

Every member of the project sees its instances and may register one; only the owner, the
project's admins and superusers change, test or remove one (``changeable_by``), and anyone
else in the project gets 403 for those, since they can see the instance. Only superusers
register, edit or switch to a ``local`` instance. Outsiders get 404 through
``access.member_required``.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compute import services as compute
from compute.filters import ComputeInstanceFilter
from compute.instance_forms import ComputeInstanceForm, ConfirmRemoveForm
from compute.models import ComputeInstance, Service
from profiles import rules
from studio import access
from studio.htmx import page_or_fragment
from studio.http import ProjectRequest
from studio.models import Project

PAGE_SIZE = 20
NOT_YOURS = (
    "Only the instance's owner, this project's admins and superusers may change, test or remove it."
)
LOCAL_NOT_YOURS = "Only superusers may change a local compute instance."


# Writes -------------------------------------------------------------------------------------


# Lookups ------------------------------------------------------------------------------------


def _instance(project: Project, name: str) -> ComputeInstance:
    """An instance of the project, as every member sees it; 404 if there is none."""
    queryset = ComputeInstance.objects.filter(project=project).select_related("owner")
    return get_object_or_404(queryset, name=name)


def _changeable(request: ProjectRequest, project: Project, name: str) -> ComputeInstance:
    """An instance the user may change, test or remove; 403 if they only see it."""
    instance = _instance(project, name)
    if not _may_change(request, project, instance):
        raise PermissionDenied(NOT_YOURS)
    return instance


def _may_change(request: ProjectRequest, project: Project, instance: ComputeInstance) -> bool:
    changeable = ComputeInstance.objects.changeable_by(project, request.user)
    return changeable.filter(pk=instance.pk).exists()


def _detail_url(instance: ComputeInstance) -> str:
    return reverse("compute:instance", args=[instance.project.name, instance.name])


def _status(form) -> int:
    return 400 if form.is_bound and not form.is_valid() else 200


def _services_on(request: ProjectRequest, project: Project, instance: ComputeInstance) -> dict:
    """The services on ``instance`` the user sees, and how many live ones they do not."""
    shown = list(
        Service.objects.visible_in(project, request.user)
        .filter(compute_instance=instance)
        .order_by("name")
    )
    live = instance.services.live().count()
    shown_live = [s for s in shown if s.is_live]
    return {
        "services": shown,
        "live_services": shown_live,
        "live_count": live,
        "hidden_live_count": live - len(shown_live),
    }


# Pages --------------------------------------------------------------------------------------


@require_GET
@access.member_required
def instance_list(request: ProjectRequest, project: Project) -> HttpResponse:
    instances = ComputeInstance.objects.filter(project=project).select_related("owner")
    filters = ComputeInstanceFilter(request.GET or None, queryset=instances)
    queryset = (filters.qs if filters.is_bound else instances).order_by("name")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    q = request.GET.get("q", "").strip()
    return page_or_fragment(
        request, "compute/instance_list.html", {"filters": filters, "page": page, "q": q}
    )


@require_http_methods(["GET", "POST"])
@access.member_required
def instance_new(request: ProjectRequest, project: Project) -> HttpResponse:
    """Register a compute instance; the user who registers it owns it."""
    form = ComputeInstanceForm(
        request.POST if request.method == "POST" else None,
        instance=ComputeInstance(owner=request.user),
        project=project,
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                instance = form.save()
        except IntegrityError:
            # Registered meanwhile, in another tab: the form checked every other rule.
            taken = rules.name_taken(ComputeInstance, project, form.cleaned_data["name"])
            if not taken:
                raise
            form.add_error("name", taken)
        else:
            messages.success(
                request, f"Registered {instance.name}. Test the connection to see that it answers."
            )
            return redirect(_detail_url(instance))
    return render(
        request,
        "compute/instance_form.html",
        {"form": form, "creating": True},
        status=_status(form),
    )


@require_GET
@access.member_required
def instance_detail(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    instance = _instance(project, name)
    may_change = _may_change(request, project, instance)
    context = {
        "instance": instance,
        "may_change": may_change,
        "may_edit": may_change and (not instance.is_local or request.user.is_superuser),
        **_services_on(request, project, instance),
    }
    return render(request, "compute/instance_detail.html", context)


@require_http_methods(["GET", "POST"])
@access.member_required
def instance_edit(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Change an instance; its project and unique name stay as they are."""
    instance = _changeable(request, project, name)
    if instance.is_local and not request.user.is_superuser:
        raise PermissionDenied(LOCAL_NOT_YOURS)
    title = instance.display_name  # as stored: binding the form changes the instance
    form = ComputeInstanceForm(
        request.POST if request.method == "POST" else None,
        instance=instance,
        project=project,
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved {instance.name}.")
        return redirect(_detail_url(instance))
    return render(
        request,
        "compute/instance_form.html",
        {"form": form, "instance": instance, "title": title, "creating": False},
        status=_status(form),
    )


@require_POST
@access.member_required
def instance_test(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Test connection: run the probe, store what came back, show it on the detail page."""
    instance = _changeable(request, project, name)
    result = compute.probe_instance(instance=instance)
    if result.reachable:
        messages.success(request, f"{instance.name} answered the test.")
    else:
        messages.warning(request, f"{instance.name} could not be reached. See what came back.")
    return redirect(_detail_url(instance))


@require_http_methods(["GET", "POST"])
@access.member_required
def instance_delete(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Remove an instance, after typing its unique name; refused while a live service is on it."""
    instance = _changeable(request, project, name)
    form = ConfirmRemoveForm(request.POST if request.method == "POST" else None, instance=instance)
    if request.method == "POST" and form.is_valid():
        if compute.remove_instance(instance=instance):
            messages.success(request, f"Removed {name}.")
            return redirect("compute:instances", project=project.name)
        messages.error(
            request,
            f"{name} was not removed: services are live on it. Destroy them first.",
        )
        return redirect(_detail_url(instance))
    context = {"instance": instance, "form": form, **_services_on(request, project, instance)}
    return render(request, "compute/instance_delete.html", context, status=_status(form))
