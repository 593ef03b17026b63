"""Writes that touch several models: keyword-only, atomic, returning what they made."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from profiles import rules
from profiles.documents import (
    INPUT_PATHS,
    OUTPUT_PATHS,
    PROFILE_PATHS,
    TEMPLATE_PATHS,
    VERSION_PATHS,
    DocumentError,
    causes_from,
    changed_fields,
    content_of,
    profile_document,
    profile_secrets,
    template_document,
)
from profiles.models import (
    EnvironmentTemplate,
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
    TemplateOutput,
    TemplateVariable,
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
        changed = changed_fields(latest.document, profile_document(profile))
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
            if tighten_to(existing[variable.name], variable):
                existing[variable.name].save()
            continue
        setting = InputSetting(
            profile=profile,
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
    if variable.override == "notallowed":
        setting.override, setting.restricted_values = "notallowed", []
        value = variable.effective_value
    elif variable.override == "restricted":
        allowed = list(variable.restricted_values)
        kept = [v for v in setting.restricted_values if v in allowed]
        if setting.override != "notallowed":
            setting.override = "restricted"
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


def reconcile_outputs(*, profile: ServiceProfile) -> list[str]:
    """Follow the version's outputs: stop showing undeclared ones (their names are returned)
    and keep the sensitive ones sensitive."""
    declared = profile.template_version.outputs.all()
    dropped = profile.outputs.exclude(name__in=[o.name for o in declared])
    names = sorted(dropped.values_list("name", flat=True))
    dropped.delete()
    sensitive = [o.name for o in declared if o.sensitive]
    profile.outputs.filter(name__in=sensitive, sensitive=False).update(sensitive=True)
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
            display_name=humanize(output.name),
            description=output.description,
            sensitive=output.sensitive,
            position=output.position,
        )
        added.append(output.name)
    return added


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
        # No select_related: PostgreSQL cannot lock the nullable side of an outer join.
        ServiceProfile.objects.select_for_update().get(pk=profile.pk)
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


def _pick_template_version(project: Project, reference: dict) -> TemplateVersion:
    """The version a document names; its own project's template wins over shared ones."""
    from profiles.models import EnvironmentTemplate

    template = EnvironmentTemplate.objects.named_for(project, reference["name"])
    if template is None:
        raise DocumentError(
            [
                (
                    "spec.environmentTemplate.name",
                    f"No environment template named “{reference['name']}” is available to "
                    f"project {project.name}.",
                )
            ]
        )
    version = template.versions.filter(name=reference["version"]).first()
    if version is None:
        raise DocumentError(
            [
                (
                    "spec.environmentTemplate.version",
                    f"{template.name} has no version “{reference['version']}”.",
                )
            ]
        )
    return version


def sharing_targets(
    *, owner: Project, sharing: dict, prefix: str = "spec.sharing."
) -> tuple[list[Project], list[tuple[str, str]]]:
    """The projects a document's ``sharing`` names, and what is wrong with it, by path."""
    names = sharing["projects"]
    targets = {p.name: p for p in Project.objects.filter(name__in=names)}
    causes = [
        (f"{prefix}projects[{i}]", f"There is no project “{name}”.")
        for i, name in enumerate(names)
        if name not in targets
    ]
    problems = rules.sharing_problems(
        owner=owner, sharing=sharing["type"], projects=list(targets.values())
    )
    paths = {"sharing": f"{prefix}type", "shared_with": f"{prefix}projects"}
    causes += [(paths[f], m) for f, messages in problems.items() for m in messages]
    return list(targets.values()), causes


def _save_shareable(obj, sharing: dict, paths: dict[str, str], *, creating: bool) -> None:
    """Check and save a profile or template built from a document, with its sharing."""
    causes: list[tuple[str, str]] = []
    try:
        obj.full_clean(validate_unique=creating)
    except ValidationError as error:
        causes += causes_from(error, paths)
    targets, sharing_causes = sharing_targets(owner=obj.project, sharing=sharing)
    causes += sharing_causes
    if causes:
        raise DocumentError(causes)
    obj.save()
    obj.shared_with.set(targets)


class _Unchanged(Exception):
    """Raised inside the apply transaction to roll back a write that changed nothing."""


def apply_profile_document(
    *,
    project: Project,
    document: dict,
    actor,
    expected_revision: int | None = None,
) -> tuple[ServiceProfile, str]:
    """Create or replace the profile a (shape-checked) document describes.

    The document is the whole truth: fields it leaves out take their defaults and input rows
    start from the template's settings, except that a sensitive value the document does not
    carry keeps the one stored. Returns the profile and ``created``, ``configured`` or
    ``unchanged``. Raises DocumentError (changing nothing) with every problem by document path,
    and StaleEdit when ``expected_revision`` is given and someone saved since.
    """
    try:
        with transaction.atomic():
            return _apply_profile_document(
                project=project,
                document=document,
                actor=actor,
                expected_revision=expected_revision,
            )
    except _Unchanged:
        profile = ServiceProfile.objects.get(project=project, name=document["metadata"]["name"])
        return profile, "unchanged"


def _apply_profile_document(
    *, project: Project, document: dict, actor, expected_revision: int | None
) -> tuple[ServiceProfile, str]:
    metadata, spec = document["metadata"], document["spec"]
    if metadata.get("project", project.name) != project.name:
        raise DocumentError(
            [("metadata.project", f"The document is for project {metadata['project']}.")]
        )
    version = _pick_template_version(project, spec["environmentTemplate"])
    profile = (
        ServiceProfile.objects.select_for_update()
        .filter(project=project, name=metadata["name"])
        .first()
    )
    creating = profile is None
    if not creating and expected_revision is not None and profile.revision != expected_revision:
        raise StaleEdit(profile)
    if creating:
        profile = ServiceProfile(project=project, created_by=actor)
    before = None if creating else content_of(profile_document(profile))
    old_secrets = {} if creating else profile_secrets(profile)

    profile.name = metadata["name"]
    profile.display_name = metadata["displayName"]
    profile.description = metadata["description"]
    profile.labels = metadata["labels"]
    profile.annotations = metadata["annotations"]
    profile.template_version = version
    profile.service_type = spec["serviceType"]
    profile.icon_url = spec["iconURL"]
    profile.readme = spec["readme"]
    profile.extra_config = spec["extraConfig"]
    profile.sharing = spec["sharing"]["type"]
    if creating:
        # A document describes a whole profile: it is ready. An update keeps the status
        # (a draft is finished in the Studio wizard).
        profile.status = ServiceProfile.Status.READY
    profile.modified_by = actor

    _save_shareable(profile, spec["sharing"], PROFILE_PATHS, creating=creating)
    causes: list[tuple[str, str]] = []
    profile.inputs.all().delete()
    reconcile_inputs(profile=profile)
    causes += _apply_inputs(profile, spec["inputs"], old_secrets)
    causes += _apply_outputs(profile, spec["outputs"])
    if causes:
        raise DocumentError(causes)

    if (
        before is not None
        and before == content_of(profile_document(profile))
        and (old_secrets == profile_secrets(profile))
    ):
        raise _Unchanged  # roll back: nothing changed, so modified_at and friends stay

    commit_revision(profile=profile, actor=actor)
    return profile, "created" if creating else "configured"


def _apply_inputs(
    profile: ServiceProfile, documents: list[dict], old_secrets: dict[str, str]
) -> list[tuple[str, str]]:
    settings = {s.name: s for s in profile.inputs.all()}
    causes = []
    seen = set()
    for index, item in enumerate(documents):
        prefix = f"spec.inputs[{index}]."
        setting = settings.get(item["name"])
        if setting is None:
            causes.append(
                (
                    prefix + "name",
                    f"“{item['name']}” is not a variable of {profile.template_version}.",
                )
            )
            continue
        if item["name"] in seen:
            causes.append((prefix + "name", f"“{item['name']}” is listed twice."))
            continue
        seen.add(item["name"])
        for key, field in [
            ("displayName", "display_name"),
            ("description", "description"),
            ("required", "required"),
            ("sensitive", "sensitive"),
        ]:
            if key in item:
                setattr(setting, field, item[key])
        if "override" in item:
            setting.override = item["override"]["type"]
            setting.restricted_values = item["override"]["restrictedValues"]
        if "value" in item:
            setting.set_value(item["value"])
        elif setting.sensitive and setting.name in old_secrets:
            setting.set_value(old_secrets[setting.name])
        else:
            setting.set_value(setting.effective_value)
        try:
            setting.full_clean()
        except ValidationError as error:
            causes += causes_from(error, INPUT_PATHS, prefix)
            continue
        setting.save()
    for name, setting in settings.items():
        if name not in seen and setting.sensitive and name in old_secrets:
            setting.set_value(old_secrets[name])
            setting.save()
    return causes


def _apply_outputs(profile: ServiceProfile, documents: list[dict]) -> list[tuple[str, str]]:
    profile.outputs.all().delete()
    causes = []
    seen = set()
    for index, item in enumerate(documents):
        prefix = f"spec.outputs[{index}]."
        if item["name"] in seen:
            causes.append((prefix + "name", f"“{item['name']}” is listed twice."))
            continue
        seen.add(item["name"])
        output = OutputSetting(
            profile=profile,
            name=item["name"],
            display_name=item.get("displayName", ""),
            description=item.get("description", ""),
            sensitive=item.get("sensitive", False),
            position=index,
        )
        try:
            output.full_clean(exclude=["profile"])
        except ValidationError as error:
            causes += causes_from(error, OUTPUT_PATHS, prefix)
            continue
        output.save()
    return causes


def apply_template_document(*, project: Project, document: dict) -> tuple[EnvironmentTemplate, str]:
    """Create or update an environment template and the versions a document lists.

    Each listed version's variables and outputs are replaced by the document's; versions the
    document does not list are left alone (profiles may be built on them). Returns the
    template and ``created``, ``configured`` or ``unchanged``; raises DocumentError.
    """
    try:
        with transaction.atomic():
            return _apply_template_document(project=project, document=document)
    except _Unchanged:
        template = EnvironmentTemplate.objects.get(
            project=project, name=document["metadata"]["name"]
        )
        return template, "unchanged"


def _apply_template_document(*, project: Project, document: dict):
    metadata, spec = document["metadata"], document["spec"]
    template = (
        EnvironmentTemplate.objects.select_for_update()
        .filter(project=project, name=metadata["name"])
        .first()
    )
    creating = template is None
    before = None if creating else template_document(template, include_secrets=True)
    template = template or EnvironmentTemplate(project=project, name=metadata["name"])
    template.display_name = metadata["displayName"]
    template.description = metadata["description"]
    template.sharing = spec["sharing"]["type"]
    _save_shareable(template, spec["sharing"], TEMPLATE_PATHS, creating=creating)
    causes: list[tuple[str, str]] = []

    for v_index, item in enumerate(spec["versions"]):
        prefix = f"spec.versions[{v_index}]."
        version = template.versions.filter(name=item["name"]).first() or TemplateVersion(
            template=template, name=item["name"]
        )
        code = item["code"]
        version.state = item["state"]
        version.code_repository = code["repository"]
        version.code_path = code["path"]
        version.code_revision = code["revision"]
        version.code_inline = code["inline"]
        try:
            version.full_clean()
        except ValidationError as error:
            causes += causes_from(error, VERSION_PATHS, prefix)
            continue
        version.save()
        old_secrets = {v.name: v.secret for v in version.variables.all() if v.sensitive}
        version.variables.all().delete()
        version.outputs.all().delete()
        for index, spec_variable in enumerate(item["variables"]):
            override = spec_variable.get("override") or {"type": "allowed", "restrictedValues": []}
            variable = TemplateVariable(
                version=version,
                name=spec_variable["name"],
                value_type=spec_variable["valueType"],
                description=spec_variable["description"],
                required=spec_variable["required"],
                sensitive=spec_variable["sensitive"],
                override=override["type"],
                restricted_values=override["restrictedValues"],
                position=index,
            )
            variable.set_value(
                spec_variable.get("value", old_secrets.get(variable.name, ""))
                if variable.sensitive
                else spec_variable.get("value", "")
            )
            try:
                variable.full_clean()
            except ValidationError as error:
                causes += causes_from(error, INPUT_PATHS, f"{prefix}variables[{index}].")
                continue
            variable.save()
        for index, spec_output in enumerate(item["outputs"]):
            output = TemplateOutput(version=version, position=index, **spec_output)
            try:
                output.full_clean()
            except ValidationError as error:
                causes += causes_from(error, OUTPUT_PATHS, f"{prefix}outputs[{index}].")
                continue
            output.save()
    if causes:
        raise DocumentError(causes)
    if before is not None and before == template_document(template, include_secrets=True):
        raise _Unchanged
    return template, "created" if creating else "configured"
