"""The Compute Instances pages (SPEC §8): list, register, detail, edit, checks, remove.

"Test connection" and "Fetch host key" are background checks (compute.tasks.run_check): the
button queues one and the detail page shows it, polling while it is in progress.

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
from compute.models import CheckKind, ComputeInstance, InstanceCheck, Service
from compute.tasks import reap_stale_checks
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
            next_step = (
                "Test the connection to see that it answers."
                if instance.host_key or instance.is_local
                else "Fetch its host key and trust it: nothing runs on it until then."
            )
            messages.success(request, f"Registered {instance.name}. {next_step}")
            return redirect(_detail_url(instance))
    form.ask_to_type_secrets_again()
    return render(
        request,
        "compute/instance_form.html",
        {"form": form, "creating": True},
        status=_status(form),
    )


def _latest_checks(instance: ComputeInstance) -> dict[str, InstanceCheck]:
    """The latest check of each kind, by kind."""
    latest: dict[str, InstanceCheck] = {}
    for kind in CheckKind.values:
        check = instance.checks.filter(kind=kind).order_by("-created_at", "-pk").first()
        if check is not None:
            latest[kind] = check
    return latest


@require_GET
@access.member_required
def instance_detail(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """The instance, its connection and its checks; while a check is in progress, the checks
    part asks for itself again every second (and stops once it has ended)."""
    instance = _instance(project, name)
    may_change = _may_change(request, project, instance)
    checks = _latest_checks(instance)
    if any(check.in_progress for check in checks.values()) and reap_stale_checks():
        checks = _latest_checks(instance)
    fetched = checks.get(CheckKind.FETCH_HOST_KEY)
    context = {
        "instance": instance,
        "may_change": may_change,
        "may_edit": may_change and (not instance.is_local or request.user.is_superuser),
        "test": checks.get(CheckKind.TEST_CONNECTION),
        "fetched": fetched,
        "fetched_is_stored": bool(
            fetched and fetched.result and fetched.result in instance.host_key.splitlines()
        ),
        "checking": any(check.in_progress for check in checks.values()),
        **_services_on(request, project, instance),
    }
    return page_or_fragment(request, "compute/instance_detail.html", context, fragment="checks")


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
    form.ask_to_type_secrets_again()
    return render(
        request,
        "compute/instance_form.html",
        {"form": form, "instance": instance, "title": title, "creating": False},
        status=_status(form),
    )


def _check(request: ProjectRequest, project: Project, name: str, kind: str) -> HttpResponse:
    instance = _changeable(request, project, name)
    try:
        compute.request_check(instance=instance, kind=kind, actor=request.user)
    except compute.CheckRefused as refused:
        messages.error(request, str(refused))
    return redirect(_detail_url(instance))


@require_POST
@access.member_required
def instance_test(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Test connection: a worker runs the harmless probe; the detail page shows what came back."""
    return _check(request, project, name, CheckKind.TEST_CONNECTION)


@require_POST
@access.member_required
def instance_fetch_key(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Fetch host key: a worker asks the host for its key; the detail page shows its
    fingerprint for the user to confirm. Nothing is trusted until they do."""
    return _check(request, project, name, CheckKind.FETCH_HOST_KEY)


@require_POST
@access.member_required
def instance_trust_key(
    request: ProjectRequest, project: Project, name: str, check: int
) -> HttpResponse:
    """Store the fetched key as the host key: the user compared its fingerprint and confirmed."""
    instance = _changeable(request, project, name)
    fetched = get_object_or_404(instance.checks, pk=check, kind=CheckKind.FETCH_HOST_KEY)
    try:
        compute.trust_host_key(instance=instance, check=fetched)
    except compute.CheckRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Trusted the host key {fetched.fingerprint} for {name}.")
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
