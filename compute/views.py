"""Services: launching one from the catalog, the project's list, a service's page (live while a
run is in progress), revealing a sensitive output, destroying. For anyone in the project
(``access.member_required``): a member sees their own services, the project's admins all."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from compute import services as compute
from compute.filters import ServiceFilter
from compute.forms import LaunchForm, suggested_name
from compute.inputs import InputProblems
from compute.models import (
    ACTIVE_RUN_STATES,
    SETTLED_STATES,
    Service,
    ServiceEvent,
    ServiceState,
)
from compute.tasks import health_checks_stalled, reap_stale_runs, schedule_health_check
from profiles.documents import document_diff
from profiles.models import ServiceProfile
from studio import access
from studio.htmx import page_or_fragment
from studio.http import ProjectRequest
from studio.models import Project

PAGE_SIZE = 20
RUNS_SHOWN = 10  # the latest run, with its log, and the ones before it
IN_PROGRESS = {ServiceState.PENDING, ServiceState.DEPLOYING, ServiceState.DESTROYING}


def _redirect(request: ProjectRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _service(request: ProjectRequest, project: Project, name: str) -> Service:
    """A service the user may see; 404 for another member's (SPEC §8) and for anything else."""
    queryset = Service.objects.visible_in(project, request.user).select_related(
        "project", "owner", "compute_instance", "profile"
    )
    return get_object_or_404(queryset, name=name)


@require_http_methods(["GET", "POST"])
@access.member_required
def launch(request: ProjectRequest, project: Project, owner: str, name: str) -> HttpResponse:
    """The launch form of a catalog profile: pinned to the revision it shows."""
    profile = get_object_or_404(
        ServiceProfile.objects.in_catalog_of(project).select_related("project", "template_version"),
        project__name=owner,
        name=name,
    )
    revision = profile.revisions.get(number=profile.revision)
    value_types = dict(profile.template_version.variables.values_list("name", "value_type"))
    form = LaunchForm(
        request.POST if request.method == "POST" else None,
        project=project,
        document=revision.document,
        value_types=value_types,
        initial={"name": suggested_name(project, profile.name)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            service = compute.launch(
                project=project,
                actor=request.user,
                profile=profile,
                name=form.cleaned_data["name"],
                instance=form.cleaned_data["instance"],
                submitted=form.submitted(),
            )
        except InputProblems as refused:
            form.add_input_errors(refused.problems)
        except compute.LaunchRefused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(
                request, f"Launching {service.name}: it is queued and will deploy shortly."
            )
            return _redirect(request, service_url(service))
    context = {
        "profile": profile,
        "form": form,
        "has_instances": form.fields["instance"].queryset.exists(),
    }
    status = 400 if form.is_bound and form.errors else 200
    form.ask_to_type_secrets_again()
    return render(request, "compute/launch.html", context, status=status)


def service_url(service: Service) -> str:
    return reverse("compute:service", args=[service.project.name, service.name])


@require_GET
@access.member_required
def service_list(request: ProjectRequest, project: Project) -> HttpResponse:
    services = Service.objects.visible_in(project, request.user).only(
        "name", "profile_owner", "profile_name", "revision", "instance_name", "state",
        "owner_name", "created_at", "checked_at", "project_id",
    )  # fmt: skip
    q = request.GET.get("q", "").strip()
    state = request.GET.get("state", "")
    services = ServiceFilter(request.GET, queryset=services).qs
    page = Paginator(services.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "q": q,
        "state": state if state in ServiceState.values else "",
        "states": ServiceState.choices,
        "sees_all": access.is_admin(project),
    }
    return page_or_fragment(request, "compute/service_list.html", context)


def _details(request: ProjectRequest, service: Service, revealed: dict | None = None) -> dict:
    runs = list(service.runs.order_by("-created_at", "-pk")[:RUNS_SHOWN])
    run = runs[0] if runs else None
    current = None
    if service.profile is not None and service.profile.revision != service.revision:
        latest = service.profile.revisions.filter(number=service.profile.revision).first()
        current = latest.document if latest else None
    changes = document_diff(service.document, current) if current is not None else []
    return {
        "service": service,
        "run": run,
        "in_progress": service.state in IN_PROGRESS,
        "is_owner": service.owner_id == request.user.pk,
        "revealed": revealed or {},
        "changes": changes,
        "current_revision": service.profile.revision if service.profile else None,
        "events": service.events.select_related("actor")[:30],
        "earlier_runs": runs[1:],
        "settled": service.state in SETTLED_STATES and not (run and run.state in ACTIVE_RUN_STATES),
        "cancellable": run is not None
        and run.state in ACTIVE_RUN_STATES
        and run.cancel_requested_at is None,
    }


@require_GET
@access.member_required
def service_detail(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """The service's state, outputs and latest run; while a run is in progress, the page's live
    part asks for itself again every two seconds (and stops once the run has ended)."""
    service = _service(request, project, name)
    if service.state in IN_PROGRESS and reap_stale_runs(service=service):
        service.refresh_from_db()  # its worker died: the run is failed before it is shown
    if health_checks_stalled(service):
        schedule_health_check()
    return page_or_fragment(request, "compute/service_detail.html", _details(request, service),
                            fragment="live")  # fmt: skip


@require_POST
@access.member_required
def reveal_output(
    request: ProjectRequest, project: Project, name: str, output: str
) -> HttpResponse:
    """Show one sensitive output to the service's owner (only them), and note that it was."""
    service = _service(request, project, name)
    if service.owner_id != request.user.pk:
        raise PermissionDenied("Only the person who launched the service may reveal it.")
    secrets = json.loads(service.output_secrets) if service.output_secrets else {}
    if output not in secrets:
        raise Http404
    ServiceEvent.record(
        service=service,
        actor=request.user,
        action=ServiceEvent.Action.OUTPUT_REVEALED,
        detail={"output": output},
    )
    response = render(
        request,
        "compute/service_detail.html",
        _details(request, service, revealed={output: secrets[output]}),
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@access.member_required
def service_destroy(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    service = _service(request, project, name)
    if request.method == "POST":
        try:
            compute.destroy(service=service, actor=request.user)
        except compute.RunRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Destroying {service.name}: its destroy run is queued.")
        return _redirect(request, service_url(service))
    return render(request, "compute/service_destroy.html", {"service": service})


@require_http_methods(["GET", "POST"])
@access.member_required
def service_redeploy(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Redeploy at the pinned revision, or update to the profile's latest revision: the page
    shows what an update would change, field by field, and asks to confirm either."""
    service = _service(request, project, name)
    problems: dict[str, list[str]] = {}
    try:
        update = compute.plan_update(service=service)
    except InputProblems as refused:
        update, problems = None, refused.problems
    if request.method == "POST":
        try:
            if request.POST.get("to") == "latest":
                revision = request.POST.get("revision", "")
                if not revision.isdigit():
                    raise compute.RunRefused("Say which revision to update to.")
                compute.update_service(service=service, actor=request.user, revision=int(revision))
                done = f"Updating {service.name} to revision {revision}: its deploy is queued."
            else:
                compute.redeploy(service=service, actor=request.user)
                done = f"Redeploying {service.name} at revision {service.revision}."
        except InputProblems as refused:
            problems = refused.problems
        except compute.RunRefused as refused:
            messages.error(request, str(refused))
            return _redirect(request, service_url(service))
        else:
            messages.success(request, done)
            return _redirect(request, service_url(service))
    at_latest = service.profile is not None and service.profile.revision == service.revision
    context = {"service": service, "update": update, "problems": problems, "at_latest": at_latest}
    return render(
        request,
        "compute/service_redeploy.html",
        context,
        status=400 if problems and request.method == "POST" else 200,
    )


@require_POST
@access.member_required
def service_cancel(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """Cancel the run in progress: its code is stopped, and a cancelled deploy is destroyed."""
    service = _service(request, project, name)
    try:
        run = compute.cancel_run(service=service, actor=request.user)
    except compute.RunRefused as refused:
        messages.error(request, str(refused))
    else:
        what = "deploy" if run.action == "deploy" else "destroy"
        follow = " What it made is destroyed next." if what == "deploy" else ""
        messages.success(request, f"Cancelling the {what} of {service.name}.{follow}")
    return _redirect(request, service_url(service))


@require_GET
@access.admin_required
def profile_services(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    """For Studio's profile pages (loaded into them): the live services of the project launched
    from its profile ``name``; deleting the profile leaves them running."""
    services = (
        Service.objects.filter(project=project, profile__project=project, profile__name=name)
        .live()
        .only("name", "state", "owner_name", "project_id")
        .order_by("name")
    )
    context = {"services": services[:20], "count": services.count(), "profile_name": name}
    return render(request, "compute/_profile_services.html", context)
