"""The PaaS Studio pages: service profile list, wizard and edit sections, view, sharing, delete,
system profiles and clone. Every view is for the project's admins (``access.admin_required``).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from profiles import kept, services, visibility
from profiles.documents import changed_fields, document_diff
from profiles.filters import ServiceProfileFilter, VisibleProfileFilter
from profiles.forms import form_values
from profiles.models import (
    EnvironmentTemplate,
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ServiceProfile,
    TemplateVersion,
    Visibility,
)
from profiles.readme import render_readme
from profiles.studio_forms import (
    CloneForm,
    ConfirmDeleteForm,
    GeneralForm,
    InputFormSet,
    OutputFormSet,
    RevisionForm,
    SharingForm,
    typed_values,
)
from profiles.validators import validate_readme
from studio import access, freshness
from studio.formats import dump_yaml
from studio.htmx import page_or_fragment
from studio.http import ProjectRequest
from studio.kept_pages import kept_page
from studio.models import Project

PAGE_SIZE = 20
STEPS = ServiceProfile.Step
STATUS = ServiceProfile.Status


def _redirect(request: ProjectRequest, url: str) -> HttpResponse:
    """After a POST: a plain redirect, or HX-Redirect for an htmx request."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _own_profile(project: Project, name: str) -> ServiceProfile:
    """A profile the project's admins may change; 404 for anything else (SPEC §2)."""
    queryset = ServiceProfile.objects.editable_in(project).select_related(
        "project", "template_version__template__project", "modified_by", "created_by"
    )
    return get_object_or_404(queryset, name=name)


def _step_url(profile: ServiceProfile, step: str) -> str:
    return reverse("profiles:step", args=[profile.project.name, profile.name, step])


def _view_url(profile: ServiceProfile) -> str:
    return reverse("profiles:view", args=[profile.project.name, profile.name])


# Home and lists ---------------------------------------------------------------------------


@require_GET
@access.admin_required
def studio_home(request: ProjectRequest, project: Project) -> HttpResponse:
    own = ServiceProfile.objects.editable_in(project)
    context = {
        "system_profiles": ServiceProfile.objects.system().select_related("project")[:4],
        "system_count": ServiceProfile.objects.system().count(),
        "recent": own.select_related("project").order_by("-modified_at")[:5],
        "counts": own.aggregate(
            total=Count("pk"), drafts=Count("pk", filter=Q(status=ServiceProfile.Status.DRAFT))
        ),
    }
    return render(request, "profiles/studio_home.html", context)


@require_GET
@kept_page
@access.admin_required
def profile_list(request: ProjectRequest, project: Project) -> HttpResponse:
    """The project's profiles and those it may see, searched, filtered and sorted.

    A page is chosen from the project's visibility rows, so it costs what the project sees,
    and only that page's profiles are read; the rendered results are kept until anything
    they show changes (:mod:`studio.freshness`), so most requests read nothing.
    """
    filters = VisibleProfileFilter(
        request.GET or None, queryset=Visibility.objects.seen_by(project)
    )
    context = {
        "filters": filters,
        "page": SimpleLazyObject(lambda: _visible_page(filters, request.GET.get("page"))),
        "results_key": f"{freshness.token_of(request)}:{project.pk}:{request.GET.urlencode()}",
    }
    return page_or_fragment(request, "profiles/profile_list.html", context)


def _visible_page(filters: VisibleProfileFilter, number: str | None) -> Page:
    """One page of the filtered rows as their profiles, by the chosen order, then by unique
    name and owner so that pages never repeat or skip rows."""
    rows = filters.qs if filters.is_bound else filters.queryset
    return visibility.page_of(
        rows.order_by(*rows.query.order_by, "name", "owner_name"),
        ServiceProfile.objects.select_related("project").annotate(share_count=Count("shared_with")),
        number,
        per_page=PAGE_SIZE,
    )


def _filtered_list(request: ProjectRequest, profiles, template: str) -> HttpResponse:
    """A list page: search, type filter and sort from the query string, then one page of it.

    Without a valid ``ordering`` the list is by unique name (then owner), so pages never
    repeat or skip rows.
    """
    filters = ServiceProfileFilter(request.GET or None, queryset=profiles)
    queryset = filters.qs if filters.is_bound else profiles
    if not (filters.is_bound and filters.form.is_valid() and filters.form.cleaned_data["ordering"]):
        queryset = queryset.order_by("name", "project__name")
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"filters": filters, "page": page}
    return page_or_fragment(request, template, context)


@require_GET
@access.admin_required
def system_profiles(request: ProjectRequest, project: Project) -> HttpResponse:
    profiles = ServiceProfile.objects.system().select_related(
        "project", "template_version__template"
    )
    return _filtered_list(request, profiles, "profiles/system_profiles.html")


# View -------------------------------------------------------------------------------------


def _profile_details(profile: ServiceProfile, *, editable: bool) -> dict:
    """What the view page shows besides the profile itself."""
    revisions = list(profile.revisions.select_related("author").order_by("-number")[:21])
    history = []
    for newer, older in zip(revisions, [*revisions[1:], None], strict=False):
        if len(history) == 20:
            break
        history.append(
            {
                "revision": newer,
                "changed": changed_fields(older.document, newer.document) if older else [],
            }
        )
    return {
        "profile": profile,
        "inputs": profile.inputs.all(),
        "outputs": profile.outputs.all(),
        # Only the owner sees which other projects a profile is shared with (SPEC §2).
        "shared_with": profile.shared_with.order_by("name") if editable else [],
        "history": history,
        "events": ProfileEvent.objects.filter(
            project=profile.project, profile_name=profile.name
        ).select_related("actor")[:50],
        "readme_html": mark_safe(profile.readme_html),  # sanitized when the revision was saved
        "steps": STEPS.choices,
    }


@require_GET
@access.admin_required
def profile_view(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    profile = _own_profile(project, name)
    context = _profile_details(profile, editable=True) | {"editable": True}
    return render(request, "profiles/profile_view.html", context)


@require_GET
@access.admin_required
def shared_profile_view(
    request: ProjectRequest, project: Project, owner: str, name: str
) -> HttpResponse:
    """A profile shared into the project: read-only, with where it comes from."""
    queryset = (
        ServiceProfile.objects.visible_to(project)
        .exclude(project=project)
        .select_related("project", "template_version__template", "modified_by", "created_by")
    )
    profile = get_object_or_404(queryset, project__name=owner, name=name)
    context = _profile_details(profile, editable=False) | {"editable": False}
    return render(request, "profiles/profile_view.html", context)


@require_GET
@access.admin_required
def profile_revision(
    request: ProjectRequest, project: Project, name: str, number: int
) -> HttpResponse:
    """One revision of a profile: its document, and what differs from another revision (the
    one before it, or ``?compare=N``)."""
    profile = _own_profile(project, name)
    revision = get_object_or_404(profile.revisions.select_related("author"), number=number)
    numbers = list(profile.revisions.values_list("number", flat=True))
    raw = request.GET.get("compare", "")
    compare_to = int(raw) if raw.isdigit() and int(raw) in numbers else number - 1
    other = profile.revisions.filter(number=compare_to).first() if compare_to != number else None
    context = {
        "profile": profile,
        "revision": revision,
        "document": dump_yaml([revision.document]),
        "numbers": numbers,
        "other": other,
        "other_label": f"Revision {other.number}" if other else "",
        "diff": document_diff(other.document, revision.document) if other else [],
    }
    return render(request, "profiles/profile_revision.html", context)


# The wizard and the edit sections ---------------------------------------------------------


def _section_context(profile: ServiceProfile, step: str, title: str = "", **forms) -> dict:
    reached = STEPS.order_of(profile.wizard_step) if profile.status == STATUS.DRAFT else 99
    return {
        "profile": profile,
        "title": title or profile.display_name,
        "step": step,
        "steps": [
            {"value": value, "label": label, "index": i + 1, "reachable": i <= reached}
            for i, (value, label) in enumerate(STEPS.choices)
        ],
        "is_draft": profile.status == ServiceProfile.Status.DRAFT,
        "is_last": STEPS.after(step) is None,
        **forms,
    }


@require_http_methods(["GET", "POST"])
@access.admin_required
def profile_new(request: ProjectRequest, project: Project) -> HttpResponse:
    """Wizard step 1: General. Saving creates the profile as a draft."""
    data = request.POST if request.method == "POST" else None
    form = GeneralForm(
        data, project=project, initial=_template_initial(request), refresh_url=request.path
    )
    if request.htmx and request.htmx.trigger_name == "environment_template":
        return render(request, "profiles/step_general.html#version_field", {"form": form})
    if request.method == "POST" and form.is_valid():
        general = {field: form.cleaned_data[field] for field in ServiceProfile.GENERAL_FIELDS}
        try:
            with services.creating_profile(project=project, name=general["name"]):
                profile = services.create_profile(
                    project=project, actor=request.user, wizard_step=STEPS.INPUTS, **general
                )
        except services.NameTaken as taken:  # created meanwhile, in another tab or by the API
            form.add_error("name", str(taken))
        else:
            messages.success(request, f"Saved {profile.name} as a draft. Next: Input Settings.")
            return _redirect(request, _step_url(profile, STEPS.INPUTS))
    context = {
        "form": form,
        "step": STEPS.GENERAL,
        "steps": [
            {"value": v, "label": label, "index": i + 1, "reachable": i == 0}
            for i, (v, label) in enumerate(STEPS.choices)
        ],
        "is_draft": True,
        "is_last": False,
        "creating": True,
    }
    return render(request, "profiles/step_general.html", context, status=_status(form))


def _template_initial(request: ProjectRequest) -> dict:
    template = request.GET.get("environment_template")
    return {"environment_template": template} if template else {}


def _status(*forms) -> int:
    bound = [f for f in forms if f is not None and f.is_bound]
    return 400 if any(not f.is_valid() for f in bound) else 200


@require_http_methods(["GET", "POST"])
@access.admin_required
def profile_step(request: ProjectRequest, project: Project, name: str, step: str) -> HttpResponse:
    """A wizard step for a draft, an edit section (Save Changes) for a ready profile; for a
    profile deleted meanwhile, a page that says so (and shows what a save typed)."""
    try:
        profile = _own_profile(project, name)
    except Http404:
        if not _deletion(project, name):
            raise
        return _deleted_page(request, project, name, step)
    if profile.status == STATUS.DRAFT and STEPS.order_of(step) > STEPS.order_of(
        profile.wizard_step
    ):
        # A draft's steps come in order (Manage Sharing on a draft, say): say why it is here.
        messages.info(
            request,
            f"{STEPS(step).label} comes after {STEPS(profile.wizard_step).label} for a draft: "
            f"finish {STEPS(profile.wizard_step).label} first, then go on.",
        )
        return redirect(_step_url(profile, profile.wizard_step))
    handler = {
        STEPS.GENERAL: _general,
        STEPS.INPUTS: _inputs,
        STEPS.OUTPUTS: _outputs,
        STEPS.SHARING: _sharing,
    }[step]
    return handler(request, profile)


def _saved(
    request: ProjectRequest,
    profile: ServiceProfile,
    step: str,
    revision_form: RevisionForm,
    save,
    *,
    saved: str,
    **changes,
) -> HttpResponse | None:
    """Save a valid section through ``save`` (a ``services.save_*``) under the stale-edit check,
    then say what happened; the response, or None when refused (the page shows why).

    A profile deleted since the page was loaded (even one made again under the same name)
    answers with the deleted page; what is kept for the step's next try goes once saved.
    """
    was_draft = profile.status == STATUS.DRAFT
    if revision_form.is_for_another(profile):
        if _deletion(profile.project, profile.name):
            return _deleted_page(request, profile.project, profile.name, step)
        revision_form.add_error(None, "This page was loaded for another profile; reload it.")
        return None
    try:
        result = save(
            profile=profile,
            actor=request.user,
            expected_revision=revision_form.cleaned_data["revision"],
            **changes,
        )
    except services.StaleEdit as stale:
        revision_form.add_error(None, str(stale))
        return None
    except ServiceProfile.DoesNotExist:  # deleted between loading it and locking it
        kept.discard(request, profile=profile)
        return _deleted_page(request, profile.project, profile.name, step)
    kept.discard(request, profile=profile, step=step)
    if result.new_version:
        messages.info(
            request,
            f"Input Settings now follow {profile.template_version.name}: "
            f"added {', '.join(result.inputs_added) or 'none'}; "
            f"removed {', '.join(result.inputs_removed) or 'none'}"
            + (
                f"; outputs no longer declared: {', '.join(result.outputs_dropped)}."
                if result.outputs_dropped
                else "."
            ),
        )
    following = STEPS.after(step) if was_draft else None
    if following and request.POST.get("then") == "exit":
        messages.success(
            request,
            f"{saved} saved. {profile.name} stays a draft; continue with "
            f"{STEPS(following).label} when you are ready.",
        )
        return _redirect(request, _view_url(profile))
    if following:
        messages.success(request, f"{saved} saved. Next: {STEPS(following).label}.")
        return _redirect(request, _step_url(profile, following))
    messages.success(request, f"{saved} saved (revision {result.revision}).")
    if result.new_version:  # the inputs follow the new version: review them next
        return _redirect(request, _step_url(profile, STEPS.INPUTS))
    return _redirect(request, _view_url(profile))


def _general(request: ProjectRequest, profile: ServiceProfile) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    title = profile.display_name  # as stored: binding the form changes the instance
    form = GeneralForm(
        data,
        instance=profile,
        project=profile.project,
        initial=_template_initial(request),
        refresh_url=request.path,
    )
    if request.htmx and request.htmx.trigger_name == "environment_template":
        return render(request, "profiles/step_general.html#version_field", {"form": form})
    if request.htmx and request.htmx.trigger_name == "template_version":
        preview = _version_preview(profile, request.GET.get("template_version", ""))
        return render(request, "profiles/step_general.html#version_preview", {"preview": preview})
    revision = _revision_form(data, profile)
    if request.method == "POST" and form.is_valid() and revision.is_valid():
        changes = form_values(form, [field for field in form.Meta.fields if field != "name"])
        response = _saved(
            request,
            profile,
            STEPS.GENERAL,
            revision,
            services.save_general,
            saved="General",
            changes=changes,
        )
        if response:
            return response
    context = _section_context(
        profile, STEPS.GENERAL, title=title, form=form, revision_form=revision
    )
    return render(
        request, "profiles/step_general.html", context, status=_conflict_or(revision, form)
    )


def _version_preview(profile: ServiceProfile, chosen: str) -> dict | None:
    """What saving ``profile`` on the version ``chosen`` (a pk, as the picker sends it) would
    add to and remove from its Input and Output Settings; None for its own version or one it
    may not use."""
    if not chosen.isdigit() or int(chosen) == profile.template_version_id:
        return None
    version = (
        TemplateVersion.objects.filter(
            pk=int(chosen),
            state=TemplateVersion.State.ACTIVE,
            template__in=EnvironmentTemplate.objects.available_to(profile.project),
        )
        .select_related("template")
        .first()
    )
    if version is None:
        return None
    inputs = set(profile.inputs.values_list("name", flat=True))
    outputs = set(profile.outputs.values_list("name", flat=True))
    variables = set(version.variables.values_list("name", flat=True))
    declared = set(version.outputs.values_list("name", flat=True))
    return {
        "version": version,
        "inputs_added": sorted(variables - inputs),
        "inputs_removed": sorted(inputs - variables),
        "outputs_added": sorted(declared - outputs),
        "outputs_removed": sorted(outputs - declared),
    }


def _revision_form(data, profile: ServiceProfile) -> RevisionForm:
    return RevisionForm(data, initial={"revision": profile.revision, "profile": profile.pk})


def _conflict_or(revision_form: RevisionForm, *forms) -> int:
    if revision_form.is_bound and revision_form.non_field_errors():
        return 409
    return _status(revision_form, *forms)


def _inputs(request: ProjectRequest, profile: ServiceProfile) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    variables = {v.name: v for v in profile.template_version.variables.all()}
    queryset = InputSetting.objects.filter(profile=profile).order_by("position", "name")
    formset = InputFormSet(
        data,
        queryset=queryset,
        prefix="inputs",
        variables=variables,
        kept=_kept_inputs(request, profile),
    )
    for form in formset.forms:
        form.instance.profile = profile
    revision = _revision_form(data, profile)
    if request.method == "POST" and formset.is_valid() and revision.is_valid():
        response = _saved(
            request,
            profile,
            STEPS.INPUTS,
            revision,
            services.save_inputs,
            saved="Input Settings",
            inputs=formset.save(commit=False),
        )
        if response:
            return response
    if request.method == "POST":
        _keep_for_next_try(request, profile, formset)
    rows = [(form, variables.get(form.instance.name)) for form in formset.forms]
    context = _section_context(
        profile, STEPS.INPUTS, formset=formset, rows=rows, revision_form=revision
    )
    return render(
        request, "profiles/step_inputs.html", context, status=_conflict_or(revision, formset)
    )


def _kept_inputs(request: ProjectRequest, profile: ServiceProfile) -> dict[int, str]:
    """Sensitive values kept from a refused Input Settings submission, by input setting pk."""
    values = kept.kept_values(request, profile=profile, step=STEPS.INPUTS)
    return {int(field): value for field, value in values.items() if field.isdigit()}


def _keep_for_next_try(request: ProjectRequest, profile: ServiceProfile, formset) -> None:
    """A refused Input Settings submission: keep each hidden value typed (or kept before) for
    the next try, encrypted in the session, and forget the others."""
    for form in formset.forms:
        if form.instance.pk is None:
            continue
        field = str(form.instance.pk)
        if value := form.keep_for_next_try():
            kept.keep(request, profile=profile, step=STEPS.INPUTS, field=field, value=value)
        else:
            kept.discard(request, profile=profile, step=STEPS.INPUTS, field=field)


def _outputs(request: ProjectRequest, profile: ServiceProfile) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    declared = list(profile.template_version.outputs.all())
    shown = {o.name: o for o in profile.outputs.all()}
    initial = [
        {
            "name": output.name,
            "show": output.name in shown,
            "display_name": shown[output.name].display_name
            if output.name in shown
            else services.humanize(output.name),
            "description": shown[output.name].description
            if output.name in shown
            else output.description,
            "sensitive": shown[output.name].sensitive if output.name in shown else output.sensitive,
            "position": shown[output.name].position if output.name in shown else index,
        }
        for index, output in enumerate(declared)
    ]
    formset = OutputFormSet(data, initial=initial, prefix="outputs", declared=declared)
    revision = _revision_form(data, profile)
    if request.method == "POST" and formset.is_valid() and revision.is_valid():
        outputs = [
            OutputSetting(
                name=row["name"],
                display_name=row["display_name"],
                description=row["description"],
                sensitive=row["sensitive"],
                position=row["position"] if row["position"] is not None else index,
            )
            for index, row in enumerate(formset.cleaned_data)
            if row.get("show")
        ]
        response = _saved(
            request,
            profile,
            STEPS.OUTPUTS,
            revision,
            services.save_outputs,
            saved="Output Settings",
            outputs=outputs,
        )
        if response:
            return response
    rows = list(zip(formset.forms, declared, strict=False))
    context = _section_context(
        profile, STEPS.OUTPUTS, formset=formset, rows=rows, revision_form=revision
    )
    return render(
        request, "profiles/step_outputs.html", context, status=_conflict_or(revision, formset)
    )


def _sharing(request: ProjectRequest, profile: ServiceProfile) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = SharingForm(data, instance=profile)
    revision = _revision_form(data, profile)
    finishing = profile.status == STATUS.DRAFT
    if request.method == "POST" and form.is_valid() and revision.is_valid():
        response = _saved(
            request,
            profile,
            STEPS.SHARING,
            revision,
            services.save_sharing,
            saved="Sharing" if not finishing else f"{profile.name} is ready; sharing",
            sharing=form.cleaned_data["sharing"],
            projects=form.cleaned_data["shared_with"],
            finish=finishing,
        )
        if response:
            return response
    context = _section_context(profile, STEPS.SHARING, form=form, revision_form=revision)
    return render(
        request, "profiles/step_sharing.html", context, status=_conflict_or(revision, form)
    )


def _deletion(project: Project, name: str) -> ProfileEvent | None:
    """The event of the latest deletion of the profile ``name`` of ``project``, if any."""
    return (
        ProfileEvent.objects.filter(
            project=project, profile_name=name, action=ProfileEvent.Action.DELETED
        )
        .select_related("actor")
        .first()
    )


def _deleted_page(request: ProjectRequest, project: Project, name: str, step: str) -> HttpResponse:
    """A step of a profile that was deleted: who deleted it and when, and (for a save) what the
    submission typed, sensitive values masked, so that nothing typed is lost. 404: there is no
    such profile any more, and sending the form again cannot change that (a 409 would say the
    admin could resolve a conflict and retry)."""
    event = _deletion(project, name)
    document = event.detail.get("document") if event and isinstance(event.detail, dict) else None
    context = {
        "name": name,
        "event": event,
        "step_label": STEPS(step).label,
        "typed": typed_values(step, request.POST, project=project, document=document)
        if request.method == "POST"
        else [],
        "again": ServiceProfile.objects.editable_in(project).filter(name=name).first(),
    }
    return render(request, "profiles/profile_deleted.html", context, status=404)


# Readme preview, delete, clone --------------------------------------------------------------


@require_POST
@access.admin_required
def readme_preview(request: ProjectRequest, project: Project) -> HttpResponse:
    """The readme as end users will see it, rendered by the catalog's own function; or why the
    readme field would refuse it."""
    text = request.POST.get("readme", "")[: 256 * 1024 + 1]
    try:
        validate_readme(text)
    except ValidationError as error:
        return render(request, "profiles/readme_preview.html", {"problems": error.messages})
    return render(request, "profiles/readme_preview.html", {"readme_html": render_readme(text)})


@require_http_methods(["GET", "POST"])
@access.admin_required
def profile_delete(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    profile = _own_profile(project, name)
    form = ConfirmDeleteForm(request.POST if request.method == "POST" else None, profile=profile)
    if request.method == "POST" and form.is_valid():
        services.delete_profile(profile=profile, actor=request.user)
        messages.success(request, f"Deleted {name}. It is no longer available to anyone.")
        return _redirect(request, reverse("profiles:list", args=[project.name]))
    return render(
        request,
        "profiles/profile_delete.html",
        {"profile": profile, "form": form},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
@access.admin_required
def profile_clone(request: ProjectRequest, project: Project, name: str) -> HttpResponse:
    source = get_object_or_404(
        ServiceProfile.objects.system(),
        name=name,
    )
    form = CloneForm(
        request.POST if request.method == "POST" else None,
        project=project,
        source=source,
        initial={"name": source.name},
    )
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            with services.creating_profile(project=project, name=name):
                profile = services.clone_profile(
                    source=source, project=project, name=name, actor=request.user
                )
        except services.NameTaken as taken:  # created meanwhile, in another tab or by the API
            form.add_error("name", str(taken))
        else:
            messages.success(
                request,
                f"Cloned {source.display_name} as {profile.name}, a draft. Review each step, "
                "then Save & Finish.",
            )
            return _redirect(request, _step_url(profile, STEPS.GENERAL))
    return render(
        request,
        "profiles/profile_clone.html",
        {"source": source, "form": form},
        status=_status(form),
    )
