"""Writes that touch several models: keyword-only, atomic, returning what they made."""

import json
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from profiles.documents import changed_fields, content_of, profile_document, profile_secrets
from profiles.models import (
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
    TemplateVersion,
)
from profiles.readme import render_readme
from studio.models import Project


def _actor_name(actor) -> str:
    return actor.get_username() if actor else ""


def record_event(
    *,
    profile: ServiceProfile,
    actor,
    action: str,
    detail: dict | None = None,
) -> ProfileEvent:
    return ProfileEvent.objects.create(
        project=profile.project,
        profile=profile if profile.pk else None,
        profile_name=profile.name,
        action=action,
        revision=profile.revision,
        actor=actor,
        actor_name=_actor_name(actor),
        detail=detail or {},
    )


@transaction.atomic
def commit_revision(
    *, profile: ServiceProfile, actor, action: str | None = None, detail: dict | None = None
) -> bool:
    """Snapshot the profile as it now stands, if it differs from its latest revision.

    The first snapshot is revision 1 (event ``created`` unless ``action`` says otherwise); each
    later one bumps ``revision`` and records ``updated`` with the fields that changed. Returns
    whether a revision was written; saving what is already the latest revision writes nothing.
    """
    latest = profile.revisions.order_by("-number").first()
    secrets = profile_secrets(profile)
    if latest is None:
        number, changed = 1, []
    else:
        before = latest.document
        if content_of(before) == content_of(profile_document(profile)) and secrets == (
            json.loads(latest.secrets) if latest.secrets else {}
        ):
            return False
        number = latest.number + 1
        changed = changed_fields(before, profile_document(profile))
        if secrets != (json.loads(latest.secrets) if latest.secrets else {}):
            changed.append("spec.inputs (sensitive values)")

    profile.revision = number
    profile.modified_by = actor
    # Rendered once per revision; pages show the stored HTML.
    profile.readme_html = render_readme(profile.readme)
    profile.save(update_fields=["revision", "modified_by", "modified_at", "readme_html"])
    profile.refresh_from_db(fields=["modified_at"])
    ProfileRevision.objects.create(
        profile=profile,
        number=number,
        document=profile_document(profile),
        secrets=json.dumps(secrets) if secrets else "",
        author=actor,
    )
    if action is None:
        action = ProfileEvent.Action.CREATED if number == 1 else ProfileEvent.Action.UPDATED
    record_event(
        profile=profile,
        actor=actor,
        action=action,
        detail=({"changed": changed} if changed else {}) | (detail or {}),
    )
    return True


def reconcile_inputs(*, profile: ServiceProfile) -> tuple[list[str], list[str]]:
    """Make the input rows match the variables of the profile's template version.

    New variables arrive with the template's own settings; rows of variables the version no
    longer declares are dropped. Returns the names added and removed, for telling the admin.
    """
    variables = list(profile.template_version.variables.all())
    existing = {s.name: s for s in profile.inputs.all()}
    declared = {v.name for v in variables}
    removed = sorted(name for name in existing if name not in declared)
    profile.inputs.filter(name__in=removed).delete()
    added = []
    for variable in variables:
        if variable.name in existing:
            continue
        setting = InputSetting(
            profile=profile,
            name=variable.name,
            display_name=variable.name.replace("_", " ").capitalize(),
            description=variable.description,
            required=variable.required,
            sensitive=variable.sensitive,
            override=variable.override,
            restricted_values=list(variable.restricted_values),
            position=variable.position,
        )
        setting.set_value(variable.effective_value)
        setting.save()
        added.append(variable.name)
    return added, removed


def reconcile_outputs(*, profile: ServiceProfile) -> list[str]:
    """Stop showing outputs the profile's template version no longer declares; their names."""
    declared = profile.template_version.outputs.values_list("name", flat=True)
    dropped = profile.outputs.exclude(name__in=declared)
    names = sorted(dropped.values_list("name", flat=True))
    dropped.delete()
    return names


def show_all_outputs(*, profile: ServiceProfile) -> list[str]:
    """Show end users every declared output not yet shown, in the template's order."""
    shown = set(profile.outputs.values_list("name", flat=True))
    added = []
    for output in profile.template_version.outputs.all():
        if output.name in shown:
            continue
        OutputSetting.objects.create(
            profile=profile,
            name=output.name,
            display_name=output.name.replace("_", " ").capitalize(),
            description=output.description,
            sensitive=output.sensitive,
            position=output.position,
        )
        added.append(output.name)
    return added


@transaction.atomic
def create_profile(
    *,
    project: Project,
    actor,
    name: str,
    display_name: str,
    template_version: TemplateVersion,
    shared_with: list[Project] | None = None,
    inputs: dict[str, dict] | None = None,
    outputs: dict[str, dict] | None = None,
    **fields,
) -> ServiceProfile:
    """A new profile with one input row per template variable and revision 1.

    ``inputs`` optionally adjusts the rows the template gives, by variable name
    (``{"gpu_count": {"display_name": "GPUs", "value": "2"}}``); ``outputs`` likewise adjusts
    the outputs shown, all of them by default.

    Callers validate first (forms, serializers); this checks again with ``full_clean`` so that
    nothing invalid reaches the database by any way in.
    """
    profile = ServiceProfile(
        project=project,
        name=name,
        display_name=display_name,
        template_version=template_version,
        created_by=actor,
        modified_by=actor,
        **fields,
    )
    profile.full_clean()
    profile.save()
    if shared_with:
        profile.shared_with.set(shared_with)
    reconcile_inputs(profile=profile)
    for setting in profile.inputs.filter(name__in=list(inputs or {})):
        changes = dict(inputs[setting.name])
        value = changes.pop("value", None)
        for field, new in changes.items():
            setattr(setting, field, new)
        if value is not None:
            setting.set_value(value)
        setting.full_clean()
        setting.save()
    show_all_outputs(profile=profile)
    for output in profile.outputs.filter(name__in=list(outputs or {})):
        for field, new in outputs[output.name].items():
            setattr(output, field, new)
        output.full_clean()
        output.save()
    commit_revision(profile=profile, actor=actor)
    return profile


@transaction.atomic
def delete_profile(*, profile: ServiceProfile, actor) -> None:
    """Delete for good; the event keeps the final document."""
    document = profile_document(profile)
    record_event(
        profile=profile,
        actor=actor,
        action=ProfileEvent.Action.DELETED,
        detail={"document": document},
    )
    profile.delete()


class StaleEdit(Exception):
    """Someone saved the profile after the page being submitted was loaded."""

    def __init__(self, current: ServiceProfile) -> None:
        self.current = current
        who = current.modified_by.get_username() if current.modified_by else "Someone"
        when = timezone.localtime(current.modified_at).strftime("%Y-%m-%d %H:%M")
        super().__init__(
            f"{who} saved this profile (revision {current.revision}, {when}) after you opened "
            "this page. Nothing of yours was saved: reload to see their changes, then make "
            "yours again."
        )


@transaction.atomic
def save_section(
    *,
    profile: ServiceProfile,
    actor,
    expected_revision: int,
    apply: Callable[[], None],
    action: str | None = None,
) -> bool:
    """Apply one section's changes if the profile is still at ``expected_revision``.

    Locks the profile row, so two saves cannot both pass the check; raises :class:`StaleEdit`
    (and changes nothing) when someone saved in between. Returns whether a revision was written.
    """
    current = (
        ServiceProfile.objects.select_for_update().select_related("modified_by").get(pk=profile.pk)
    )
    if current.revision != expected_revision:
        raise StaleEdit(current)
    apply()
    return commit_revision(profile=profile, actor=actor, action=action)


@transaction.atomic
def clone_profile(*, source: ServiceProfile, project: Project, name: str, actor) -> ServiceProfile:
    """A draft copy of ``source`` in ``project`` under a new unique name, not shared."""
    profile = ServiceProfile(
        project=project,
        name=name,
        display_name=source.display_name,
        description=source.description,
        template_version=source.template_version,
        service_type=source.service_type,
        icon_url=source.icon_url,
        readme=source.readme,
        labels=dict(source.labels),
        annotations=dict(source.annotations),
        extra_config=dict(source.extra_config),
        created_by=actor,
        modified_by=actor,
    )
    profile.full_clean()
    profile.save()
    for setting in source.inputs.all():
        setting.pk, setting.profile = None, profile
        setting.save()
    for output in source.outputs.all():
        output.pk, output.profile = None, profile
        output.save()
    reconcile_inputs(profile=profile)
    commit_revision(
        profile=profile,
        actor=actor,
        action=ProfileEvent.Action.CLONED,
        detail={"from": f"{source.project.name}/{source.name}", "fromRevision": source.revision},
    )
    return profile
