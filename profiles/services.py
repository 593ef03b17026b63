"""Writes to service profiles: keyword-only, atomic, returning what they made or changed.

Every way in (the Studio pages, the API, the admin, applying documents) changes a profile
through these, so each change is checked against the revision its author saw, snapshotted as a
new revision and recorded as an event the same way. Applying whole documents is in
:mod:`profiles.applying`, on top of these.
"""

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from profiles import rules
from profiles.choices import Override, Status, Step
from profiles.documents import Parts, changed_fields, profile_document, profile_secrets
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

_WORDS = {
    "api": "API", "cpu": "CPU", "gpu": "GPU", "gib": "(GiB)", "hf": "Hugging Face",
    "id": "ID", "json": "JSON", "ngc": "NGC", "ssh": "SSH", "url": "URL", "uri": "URI",
}  # fmt: skip


def humanize(name: str) -> str:
    """A first display name for a variable or output: ``gpu_count`` → ``GPU count``."""
    words = [_WORDS.get(word.lower(), word.lower()) for word in name.split("_") if word]
    if not words:
        return name
    text = " ".join(words)
    return text[0].upper() + text[1:]


def _actor_name(actor) -> str:
    return actor.get_username() if actor else ""


def record_event(
    *,
    profile: ServiceProfile,
    actor,
    action: str,
    detail: dict | None = None,
) -> ProfileEvent:
    event = event_for(profile=profile, actor=actor, action=action, detail=detail)
    event.save(force_insert=True)
    return event


def event_for(*, profile: ServiceProfile, actor, action: str, detail: dict | None = None):
    """The event :func:`record_event` writes, unsaved (to write many at once)."""
    return ProfileEvent(
        project=profile.project,
        profile=profile if profile.pk else None,
        profile_name=profile.name,
        action=action,
        revision=profile.revision,
        actor=actor,
        actor_name=_actor_name(actor),
        detail=detail or {},
    )


def first_revision(profile: ServiceProfile, *, actor, parts: Parts) -> tuple:
    """The revision 1 and ``created`` event of a profile just written with its ``parts`` (its
    ``revision``, ``modified_by`` and ``readme_html`` already those of revision 1), unsaved:
    what :func:`commit_revision` writes for a new profile, for writing many at once."""
    revision = revision_for(profile, number=1, actor=actor, parts=parts)
    return revision, event_for(profile=profile, actor=actor, action=ProfileEvent.Action.CREATED)


def revision_for(
    profile: ServiceProfile, *, number: int, actor, parts: Parts | None, secrets: dict | None = None
) -> ProfileRevision:
    """The snapshot of ``profile`` as it now stands, as revision ``number``, unsaved."""
    secrets = profile_secrets(profile, parts) if secrets is None else secrets
    return ProfileRevision(
        profile=profile,
        number=number,
        document=profile_document(profile, parts=parts),
        secrets=json.dumps(secrets) if secrets else "",
        author=actor,
    )


# Without a savepoint of its own: what it writes stands or falls with the caller's transaction
# (apply's holds a thousand of them).
@transaction.atomic(savepoint=False)
def commit_revision(
    *,
    profile: ServiceProfile,
    actor,
    action: str | None = None,
    detail: dict | None = None,
    parts: Parts | None = None,
) -> bool:
    """Snapshot the profile as it now stands, if it differs from its latest revision.

    The first snapshot is revision 1 (event ``created`` unless ``action`` says otherwise); each
    later one bumps ``revision`` and records ``updated`` with the fields that changed. Returns
    whether a revision was written; saving what is already the latest revision writes nothing.
    ``parts``, the related rows just written, spares reading them back.
    """
    latest = profile.revisions.order_by("-number").first()
    secrets = profile_secrets(profile, parts)
    if latest is None:
        number, changed = 1, []
    else:
        changed = changed_fields(latest.document, profile_document(profile, parts=parts))
        if secrets != (json.loads(latest.secrets) if latest.secrets else {}):
            changed.append("spec.inputs (sensitive values)")
        if not changed:
            return False
        number = latest.number + 1

    profile.revision = number
    profile.modified_by = actor
    # Rendered once per revision; pages show the stored HTML.
    profile.readme_html = render_readme(profile.readme)
    profile.save(update_fields=["revision", "modified_by", "modified_at", "readme_html"])
    revision_for(profile, number=number, actor=actor, parts=parts, secrets=secrets).save(
        force_insert=True
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


def input_from(variable) -> InputSetting:
    """A new input row (of no profile yet) with the template variable's own settings."""
    setting = InputSetting(
        name=variable.name,
        display_name=humanize(variable.name),
        description=variable.description,
        required=variable.required,
        sensitive=variable.sensitive,
        override=variable.override,
        restricted_values=list(variable.restricted_values),
        position=variable.position,
    )
    setting.set_value(variable.effective_value)
    return setting


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
            if tighten_to(existing[variable.name], variable):
                existing[variable.name].save()
            continue
        setting = input_from(variable)
        setting.profile = profile
        setting.save()
        added.append(variable.name)
    return added, removed


def tighten_to(setting: InputSetting, variable) -> bool:
    """Raise a kept input row to what its (new) template variable demands; whether it changed.

    Progressive templating after a version change: a row may not stay looser than the version
    it now follows (required, sensitive, fixed value, restricted list).
    """
    before = (
        setting.required,
        setting.sensitive,
        setting.override,
        list(setting.restricted_values),
        setting.effective_value,
    )
    value = setting.effective_value
    setting.required |= variable.required
    if variable.sensitive:
        setting.sensitive = True
    if variable.override == Override.NOT_ALLOWED:
        setting.override, setting.restricted_values = Override.NOT_ALLOWED, []
        value = variable.effective_value
    elif variable.override == Override.RESTRICTED:
        allowed = list(variable.restricted_values)
        kept = [v for v in setting.restricted_values if v in allowed]
        if setting.override != Override.NOT_ALLOWED:
            setting.override = Override.RESTRICTED
            setting.restricted_values = kept or allowed
        if value and value not in allowed:
            value = variable.effective_value
    setting.set_value(value)
    after = (
        setting.required,
        setting.sensitive,
        setting.override,
        list(setting.restricted_values),
        setting.effective_value,
    )
    return before != after


def write_outputs(*, profile: ServiceProfile, outputs: Iterable[OutputSetting]) -> None:
    """Make ``outputs`` (checked by the caller) the outputs end users of ``profile`` see.

    The rows are replaced as a whole, in one insert.
    """
    profile.outputs.all().delete()
    OutputSetting.objects.bulk_create(output_rows(profile, outputs))


def output_rows(profile: ServiceProfile, outputs: Iterable[OutputSetting]) -> list[OutputSetting]:
    """``outputs`` as new rows of ``profile``: the one place output rows are made."""
    rows = []
    for output in outputs:
        output.pk, output.profile = None, profile
        rows.append(output)
    return rows


def declared_output(output, *, position: int | None = None) -> OutputSetting:
    """The row showing a declared output of the template version as it declares it."""
    return OutputSetting(
        name=output.name,
        display_name=humanize(output.name),
        description=output.description,
        sensitive=output.sensitive,
        position=output.position if position is None else position,
    )


def reconcile_outputs(*, profile: ServiceProfile) -> list[str]:
    """Follow the version's outputs: stop showing undeclared ones (their names are returned)
    and keep the sensitive ones sensitive."""
    declared = {o.name: o for o in profile.template_version.outputs.all()}
    shown = list(profile.outputs.all())
    dropped = sorted(o.name for o in shown if o.name not in declared)
    kept = [o for o in shown if o.name in declared]
    if dropped or any(declared[o.name].sensitive and not o.sensitive for o in kept):
        for output in kept:
            output.sensitive |= declared[output.name].sensitive
        write_outputs(profile=profile, outputs=kept)
    return dropped


class NameTaken(Exception):
    """The project has a profile of that name already (the message says so)."""


@contextmanager
def creating_profile(*, project: Project, name: str) -> Iterator[None]:
    """A block that creates the profile ``name`` in ``project``; :class:`NameTaken` if it has one.

    Creations in a project queue on its row (a lock that leaves rows pointing at the project
    free to be written), so the later of two with one name finds the first one's profile rather
    than replacing it or failing; one made meanwhile some other way trips the unique constraint.
    """
    try:
        with transaction.atomic():
            Project.objects.select_for_update(no_key=True).get(pk=project.pk)
            if problem := rules.name_taken(ServiceProfile, project, name):
                raise NameTaken(problem)
            yield
    except IntegrityError:
        raise NameTaken(rules.name_taken(ServiceProfile, project, name) or name) from None


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
    """
    profile = ServiceProfile(
        project=project,
        name=name,
        display_name=display_name,
        template_version=template_version,
        **fields,
    )
    return add_profile(
        profile=profile, actor=actor, shared_with=shared_with, inputs=inputs, outputs=outputs
    )


@transaction.atomic
def add_profile(
    *,
    profile: ServiceProfile,
    actor,
    shared_with: Iterable[Project] | None = None,
    inputs: dict[str, dict] | None = None,
    outputs: dict[str, dict] | None = None,
) -> ServiceProfile:
    """Save a new ``profile`` its caller built (the admin's add form does): see
    :func:`create_profile`.

    Callers validate first (forms, serializers); this checks again with ``full_clean`` so that
    nothing invalid reaches the database by any way in.
    """
    profile.created_by = profile.modified_by = actor
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
    shown = [declared_output(o) for o in profile.template_version.outputs.all()]
    for output in shown:
        if output.name in (outputs or {}):
            for field, new in outputs[output.name].items():
                setattr(output, field, new)
            output.profile = profile
            output.full_clean()
    write_outputs(profile=profile, outputs=shown)
    commit_revision(profile=profile, actor=actor)
    return profile


@transaction.atomic
def delete_profile(*, profile: ServiceProfile, actor) -> None:
    """Delete for good; the event keeps the final document.

    The profile is read again under its row lock, so the event keeps the last save, not the
    copy the caller loaded; one that someone else deleted meanwhile is left deleted, once.
    """
    try:
        profile.refresh_from_db(from_queryset=ServiceProfile.objects.select_for_update())
    except ServiceProfile.DoesNotExist:
        return
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
            f"{who} saved this profile at {when} (it is now at revision {current.revision}), "
            "after the revision your changes were based on. Nothing of yours was saved: reload "
            "it to see their changes, then make yours again."
        )


@dataclass(frozen=True)
class Saved:
    """What a save changed, for telling the person who made it."""

    revision: int  # the profile's revision after the save
    written: bool  # whether a new revision was written (False: nothing differed)
    new_version: bool  # whether it now follows another template version
    inputs_added: list[str]  # variables of a newly chosen template version
    inputs_removed: list[str]  # inputs of variables it no longer declares
    outputs_dropped: list[str]  # outputs it no longer declares


def lock_for_edit(*, profile: ServiceProfile, expected_revision: int | None) -> ServiceProfile:
    """The profile's row as saved, locked until the transaction ends; :class:`StaleEdit` when
    someone saved after ``expected_revision`` (None: whatever is saved now is expected)."""
    # No select_related: PostgreSQL cannot lock the nullable side of an outer join.
    current = ServiceProfile.objects.select_for_update().get(pk=profile.pk)
    if expected_revision is not None and current.revision != expected_revision:
        raise StaleEdit(current)
    return current


def _differs(saved: ServiceProfile, field: str, value: Any) -> bool:
    """Whether ``value`` differs from what ``saved`` holds in ``field``."""
    model_field = ServiceProfile._meta.get_field(field)
    if model_field.is_relation:
        return getattr(saved, model_field.attname) != getattr(value, "pk", value)
    return getattr(saved, field) != value


@transaction.atomic
def update_profile(
    *,
    profile: ServiceProfile,
    actor,
    expected_revision: int | None,
    changes: dict[str, Any] | None = None,
    shared_with: Iterable[Project] | None = None,
    inputs: Iterable[InputSetting] = (),
    reset_inputs: list[str] | tuple[str, ...] = (),
    outputs: Iterable[OutputSetting] | None = None,
    reconcile: bool = False,
    reached: Step | None = None,
    action: str | None = None,
) -> Saved:
    """Change any part of a saved profile, as one revision, if it is still at
    ``expected_revision``; the ``save_*`` functions below are this with one section.

    ``changes`` sets fields of the profile (General, sharing, status); ``shared_with`` replaces
    the projects it is shared with; ``inputs`` are input rows to save and ``reset_inputs`` the
    variables whose rows start again from the template's settings; ``outputs`` replace the
    outputs shown. A new template version brings the input and output rows in line with it;
    ``reconcile`` brings the inputs in line with the version in any case (the admin repairs).
    ``reached`` is the wizard step a draft got past. Everything is checked by the caller (forms,
    serializers); raises :class:`StaleEdit`, changing nothing, when someone saved in between.
    """
    current = lock_for_edit(profile=profile, expected_revision=expected_revision)
    changed = [field for field, value in (changes or {}).items() if _differs(current, field, value)]
    for field, value in (changes or {}).items():
        setattr(profile, field, value)
    if reached is not None:
        following = Step.after(reached)
        if following and Step.order_of(current.wizard_step) < Step.order_of(following):
            profile.wizard_step = following
            changed.append("wizard_step")
    if changed:
        profile.save(update_fields=changed)
    if shared_with is not None:
        profile.shared_with.set(shared_with)
    for setting in inputs:
        setting.profile = profile
        setting.save()
    if reset_inputs:
        profile.inputs.filter(name__in=reset_inputs).delete()
    if outputs is not None:
        write_outputs(profile=profile, outputs=outputs)
    added, removed, dropped = [], [], []
    new_version = profile.template_version_id != current.template_version_id
    if new_version or reset_inputs or reconcile:
        added, removed = reconcile_inputs(profile=profile)
    if new_version:
        dropped = reconcile_outputs(profile=profile)
    written = commit_revision(profile=profile, actor=actor, action=action)
    return Saved(
        revision=profile.revision,
        written=written,
        new_version=new_version,
        inputs_added=added,
        inputs_removed=removed,
        outputs_dropped=dropped,
    )


def save_general(
    *, profile: ServiceProfile, actor, expected_revision: int, changes: dict[str, Any]
) -> Saved:
    """The General section: ``changes`` to the fields of ``ServiceProfile.GENERAL_FIELDS``
    (the unique name stays as it is)."""
    unknown = set(changes) - (set(ServiceProfile.GENERAL_FIELDS) - {"name"})
    if unknown:
        raise ValueError(f"Not fields of the General section: {', '.join(sorted(unknown))}")
    return update_profile(
        profile=profile,
        actor=actor,
        expected_revision=expected_revision,
        changes=changes,
        reached=Step.GENERAL,
    )


def save_inputs(
    *, profile: ServiceProfile, actor, expected_revision: int, inputs: Iterable[InputSetting]
) -> Saved:
    """The Input Settings section: the input rows that changed."""
    return update_profile(
        profile=profile,
        actor=actor,
        expected_revision=expected_revision,
        inputs=inputs,
        reached=Step.INPUTS,
    )


def save_outputs(
    *, profile: ServiceProfile, actor, expected_revision: int, outputs: Iterable[OutputSetting]
) -> Saved:
    """The Output Settings section: the outputs end users see, replacing those shown."""
    return update_profile(
        profile=profile,
        actor=actor,
        expected_revision=expected_revision,
        outputs=outputs,
        reached=Step.OUTPUTS,
    )


def save_sharing(
    *,
    profile: ServiceProfile,
    actor,
    expected_revision: int,
    sharing: str,
    projects: Iterable[Project],
    finish: bool = False,
) -> Saved:
    """The Sharing section; ``finish`` makes a draft ready (the wizard's Save & Finish)."""
    return update_profile(
        profile=profile,
        actor=actor,
        expected_revision=expected_revision,
        changes={"sharing": sharing} | ({"status": Status.READY} if finish else {}),
        shared_with=projects,
        reached=Step.SHARING,
        action=None if finish else ProfileEvent.Action.SHARING_CHANGED,
    )


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
    write_outputs(profile=profile, outputs=source.outputs.all())
    reconcile_inputs(profile=profile)
    commit_revision(
        profile=profile,
        actor=actor,
        action=ProfileEvent.Action.CLONED,
        detail={"from": f"{source.project.name}/{source.name}", "fromRevision": source.revision},
    )
    return profile
