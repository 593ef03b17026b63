"""Applying documents (SPEC §4, as code): create or replace a profile or template from one.

The API's writes, ``manage.py apply`` and the seed data read documents through the serializers
in :mod:`profiles.serializers` and apply them here; each problem is reported by its document
path (:class:`~profiles.documents.DocumentError`), and nothing of a refused document is saved.
"""

import copy
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from profiles import rules, visibility
from profiles.choices import Override, Status
from profiles.documents import (
    INPUT_PATHS,
    OUTPUT_PATHS,
    PROFILE_PATHS,
    TEMPLATE_PATHS,
    VERSION_PATHS,
    DocumentError,
    Parts,
    causes_from,
    changed_fields,
    content_of,
    documents_queryset,
    profile_document,
    profile_secrets,
    template_document,
    with_versions,
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
from profiles.repositories import RepositoryProblem
from profiles.services import (
    StaleEdit,
    commit_revision,
    first_revision,
    input_from,
    output_rows,
    write_outputs,
)
from profiles.validators import validate_readme
from studio import freshness
from studio.models import Project


def sharing_targets(
    *,
    owner: Project,
    sharing: dict,
    prefix: str = "spec.sharing.",
    known: dict[str, Project] | None = None,
) -> tuple[list[Project], list[tuple[str, str]]]:
    """The projects a document's ``sharing`` names, and what is wrong with it, by path.

    ``known``, projects by name read beforehand (a batch's), spares reading them here.
    """
    names = sharing["projects"]
    if known is None:
        known = {p.name: p for p in Project.objects.filter(name__in=names)}
    targets = {name: known[name] for name in names if name in known}
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


# Profiles: planned in batches, then written -------------------------------------------------

BATCH_SIZE = 200


@dataclass
class ProfilePlan:
    """What applying one profile document does, worked out before anything is written.

    ``profile`` carries the document's fields (unsaved); ``parts`` the input, output and
    sharing rows it will have. ``causes`` lists every problem by document path; a plan with
    causes writes nothing.
    """

    project: Project
    profile: ServiceProfile
    stored: ServiceProfile | None
    parts: Parts
    causes: list[tuple[str, str]] = field(default_factory=list)
    before: dict | None = None
    after: dict | None = None
    unchanged: bool = False

    @property
    def creating(self) -> bool:
        return self.stored is None

    @property
    def outcome(self) -> str:
        if self.creating:
            return "created"
        return "unchanged" if self.unchanged else "configured"

    def changed_fields(self) -> list[str]:
        return [] if self.before is None else changed_fields(self.before, self.after)


class _Readings:
    """What one batch of documents needs from the database, read in a fixed number of queries:
    the templates they name (with versions, variables, outputs and sharing), the profiles they
    replace (locked, with what their documents hold) and the projects they share with."""

    def __init__(self, items: list[tuple[Project, dict]]) -> None:
        template_names = {d["spec"]["environmentTemplate"]["name"] for _, d in items}
        self.templates: dict[str, list[EnvironmentTemplate]] = defaultdict(list)
        for template in with_versions(EnvironmentTemplate.objects.filter(name__in=template_names)):
            self.templates[template.name].append(template)
        names = {d["metadata"]["name"] for _, d in items}
        # Locked (the bare rows: PostgreSQL cannot lock the nullable side of an outer join)
        # until the caller's transaction ends, so no one saves between this read and the write.
        self.profiles = {
            (p.project_id, p.name): p
            for p in documents_queryset(
                ServiceProfile.objects.filter(
                    project__in={project.pk for project, _ in items}, name__in=names
                ).select_for_update(of=("self",))
            )
        }
        shared = {name for _, d in items for name in d["spec"]["sharing"]["projects"]}
        self.projects = {p.name: p for p in Project.objects.filter(name__in=shared)}

    def template_version(self, project: Project, reference: dict) -> TemplateVersion:
        """The version a document names; its own project's template wins over shared ones."""
        seen = [t for t in self.templates[reference["name"]] if t.is_available_to(project)]
        if not seen:
            raise DocumentError(
                [
                    (
                        "spec.environmentTemplate.name",
                        f"No environment template named “{reference['name']}” is available to "
                        f"project {project.name}.",
                    )
                ]
            )
        template = min(seen, key=lambda t: t.seen_order(project))
        version = next((v for v in template.versions.all() if v.name == reference["version"]), None)
        if version is None:
            raise DocumentError(
                [
                    (
                        "spec.environmentTemplate.version",
                        f"{template.name} has no version “{reference['version']}”.",
                    )
                ]
            )
        version.template = template  # read once, with its prefetched rows
        return version


def apply_profile_documents(
    items: list[tuple[Project, dict]], *, actor
) -> list[ProfilePlan | DocumentError]:
    """Apply each (project, shape-checked document), in order, in batches of a few queries
    each: every plan without causes that changes something is written. Returns a plan, or
    why there is none, per document.

    For a whole-or-nothing apply, run it in a transaction and roll back if any plan has causes
    (its row locks keep each plan true until it is written). A profile named twice goes to a
    later batch, planned after the first is written.
    """
    plans: list[ProfilePlan | DocumentError] = []
    for batch in _batches(items):
        with visibility.gathered():
            new = []
            for plan in _plan_batch(batch, actor=actor):
                if isinstance(plan, ProfilePlan) and not plan.causes and not plan.unchanged:
                    if plan.creating:
                        new.append(plan)
                    else:
                        write_profile_plan(plan, actor=actor)
                plans.append(plan)
            write_new_profiles(new, actor=actor)
    return plans


def _batches(items: list[tuple[Project, dict]]) -> Iterator[list[tuple[Project, dict]]]:
    """Up to BATCH_SIZE items at a time, none naming the same profile twice."""
    batch: list[tuple[Project, dict]] = []
    keys: set[tuple[int, str]] = set()
    for project, document in items:
        key = (project.pk, document["metadata"]["name"])
        if key in keys or len(batch) == BATCH_SIZE:
            yield batch
            batch, keys = [], set()
        batch.append((project, document))
        keys.add(key)
    if batch:
        yield batch


def _plan_batch(
    items: list[tuple[Project, dict]], *, actor
) -> Iterator[ProfilePlan | DocumentError]:
    """Each item's plan from one reading of the batch, one at a time: a caller that writes a
    plan before taking the next finds its readme still rendered (profiles.readme remembers
    the last few)."""
    readings = _Readings(items)
    for project, document in items:
        try:
            yield _plan(project, document, readings, actor=actor)
        except DocumentError as error:
            yield error


def _plan(project: Project, document: dict, readings: _Readings, *, actor) -> ProfilePlan:
    metadata, spec = document["metadata"], document["spec"]
    if metadata.get("project", project.name) != project.name:
        raise DocumentError(
            [("metadata.project", f"The document is for project {metadata['project']}.")]
        )
    version = readings.template_version(project, spec["environmentTemplate"])
    stored = readings.profiles.get((project.pk, metadata["name"]))
    creating = stored is None
    if creating:
        profile = ServiceProfile(project=project, created_by=actor)
        # A document describes a whole profile: it is ready. An update keeps the status
        # (a draft is finished in the Studio wizard).
        profile.status = Status.READY
        before, old_secrets = None, {}
    else:
        profile = copy.copy(stored)
        before = profile_document(stored)
        old_secrets = profile_secrets(stored)

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
    profile.modified_by = actor

    causes: list[tuple[str, str]] = []
    # The related rows are the batch's own objects, and uniqueness is known from its reads;
    # the check constraints repeat the fields' own validation, which runs here, and the
    # database still enforces them all. A readme the profile already has was checked when it
    # was saved (checking renders it) and is checked again only if something else changes.
    exclude = ["project", "template_version", "created_by", "modified_by"]
    if not creating and profile.readme == stored.readme:
        exclude.append("readme")
    try:
        profile.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        causes += causes_from(error, PROFILE_PATHS)
    targets, sharing_causes = sharing_targets(
        owner=project, sharing=spec["sharing"], known=readings.projects
    )
    causes += sharing_causes

    inputs, input_causes = _plan_inputs(version, spec["inputs"], old_secrets)
    outputs, output_causes = _plan_outputs(version, spec["outputs"])
    causes += input_causes + output_causes
    plan = ProfilePlan(
        project=project,
        profile=profile,
        stored=stored,
        parts=Parts(inputs, outputs, targets),
        causes=causes,
        before=before,
    )
    if not causes:
        if creating:  # checked above, so rendered: the rendering is remembered
            profile.readme_html = render_readme(profile.readme)
        plan.after = profile_document(profile, parts=plan.parts)
        plan.unchanged = (
            before is not None
            and content_of(before) == content_of(plan.after)
            and old_secrets == profile_secrets(profile, plan.parts)
        )
        if not plan.unchanged and "readme" in exclude:
            # A change is saved as a revision, which renders the readme: it must still render.
            try:
                validate_readme(profile.readme)
            except ValidationError as error:
                plan.causes = causes_from(ValidationError({"readme": error}), PROFILE_PATHS)
    return plan


def _row_causes(
    row: InputSetting | OutputSetting, version: TemplateVersion, paths: dict, prefix: str
) -> list[tuple[str, str]]:
    """An input or output row's problems by document path: its fields, then what its
    ``clean`` would ask of its profile's version (the row has no profile yet)."""
    causes = []
    try:
        row.full_clean(exclude=["profile"], validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        causes += causes_from(error, paths, prefix)
    try:
        row.check_against(version)
    except ValidationError as error:
        causes += causes_from(error, paths, prefix)
    return causes


def _plan_inputs(
    version: TemplateVersion, documents: list[dict], old_secrets: dict[str, str]
) -> tuple[list[InputSetting], list[tuple[str, str]]]:
    """The input rows: the template's settings, then what the document says of each.

    A sensitive value the document does not carry keeps the one stored.
    """
    settings = {v.name: input_from(v) for v in version.variables.all()}
    causes = []
    seen = set()
    for index, item in enumerate(documents):
        prefix = f"spec.inputs[{index}]."
        setting = settings.get(item["name"])
        if setting is None:
            causes.append((prefix + "name", f"“{item['name']}” is not a variable of {version}."))
            continue
        if item["name"] in seen:
            causes.append((prefix + "name", f"“{item['name']}” is listed twice."))
            continue
        seen.add(item["name"])
        for key, attribute in [
            ("displayName", "display_name"),
            ("description", "description"),
            ("required", "required"),
            ("sensitive", "sensitive"),
        ]:
            if key in item:
                setattr(setting, attribute, item[key])
        if "override" in item:
            setting.override = item["override"]["type"]
            setting.restricted_values = item["override"]["restrictedValues"]
        if "value" in item:
            setting.set_value(item["value"])
        elif setting.sensitive and setting.name in old_secrets:
            setting.set_value(old_secrets[setting.name])
        else:
            setting.set_value(setting.effective_value)
        causes += _row_causes(setting, version, INPUT_PATHS, prefix)
    for name, setting in settings.items():
        if name not in seen and setting.sensitive and name in old_secrets:
            setting.set_value(old_secrets[name])
    return list(settings.values()), causes


def _plan_outputs(
    version: TemplateVersion, documents: list[dict]
) -> tuple[list[OutputSetting], list[tuple[str, str]]]:
    causes = []
    outputs = []
    seen = set()
    for index, item in enumerate(documents):
        prefix = f"spec.outputs[{index}]."
        if item["name"] in seen:
            causes.append((prefix + "name", f"“{item['name']}” is listed twice."))
            continue
        seen.add(item["name"])
        output = OutputSetting(
            name=item["name"],
            display_name=item.get("displayName", ""),
            description=item.get("description", ""),
            sensitive=item.get("sensitive", False),
            position=index,
        )
        problems = _row_causes(output, version, OUTPUT_PATHS, prefix)
        causes += problems
        if not problems:
            outputs.append(output)
    return outputs, causes


def write_profile_plan(plan: ProfilePlan, *, actor) -> ServiceProfile:
    """Write a plan without causes that changes a stored profile, and snapshot its revision.
    (Plans that create profiles are written by :func:`write_new_profiles`.)"""
    profile, parts = plan.profile, plan.parts
    profile.save()
    profile.shared_with.set(parts.shared_with)
    profile.inputs.all().delete()
    for setting in parts.inputs:
        setting.profile = profile
    InputSetting.objects.bulk_create(parts.inputs)
    write_outputs(profile=profile, outputs=parts.outputs)
    commit_revision(profile=profile, actor=actor, parts=parts)
    return profile


def write_new_profiles(plans: list[ProfilePlan], *, actor) -> None:
    """Write plans without causes that create profiles, together: a few queries for all of
    them. Each profile is revision 1 with its ``created`` event, as :func:`commit_revision`
    makes them (its readme was rendered when it was planned)."""
    if not plans:
        return
    for plan in plans:
        plan.profile.revision, plan.profile.modified_by = 1, actor
    profiles = ServiceProfile.objects.bulk_create([plan.profile for plan in plans])
    through = ServiceProfile.shared_with.through
    through.objects.bulk_create(
        through(serviceprofile=plan.profile, project=target)
        for plan in plans
        for target in plan.parts.shared_with
    )
    for plan in plans:
        for setting in plan.parts.inputs:
            setting.profile = plan.profile
    InputSetting.objects.bulk_create(setting for plan in plans for setting in plan.parts.inputs)
    OutputSetting.objects.bulk_create(
        row for plan in plans for row in output_rows(plan.profile, plan.parts.outputs)
    )
    revisions, events = zip(
        *(first_revision(plan.profile, actor=actor, parts=plan.parts) for plan in plans),
        strict=True,
    )
    ProfileRevision.objects.bulk_create(revisions)
    ProfileEvent.objects.bulk_create(events)
    # What saves would have told their receivers.
    visibility.refresh(profile.pk for profile in profiles)
    freshness.changed()


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
    with transaction.atomic():
        (plan,) = _plan_batch([(project, document)], actor=actor)
        if isinstance(plan, DocumentError):
            raise plan
        stored = plan.stored
        if stored and expected_revision is not None and stored.revision != expected_revision:
            raise StaleEdit(stored)
        if plan.causes:
            raise DocumentError(plan.causes)
        if plan.unchanged:
            return stored, "unchanged"
        if plan.creating:
            write_new_profiles([plan], actor=actor)
            return plan.profile, plan.outcome
        return write_profile_plan(plan, actor=actor), plan.outcome


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
        saved = copy.copy(version) if version.pk else None
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
        try:
            # Becoming active (or changing code while active) pins the revision to its commit.
            version.pin_code(saved)
        except RepositoryProblem as problem:
            causes.append((prefix + VERSION_PATHS[problem.field], problem.message))
            continue
        version.save()
        old_secrets = {v.name: v.secret for v in version.variables.all() if v.sensitive}
        version.variables.all().delete()
        version.outputs.all().delete()
        for index, spec_variable in enumerate(item["variables"]):
            override = spec_variable.get("override") or {
                "type": Override.ALLOWED,
                "restrictedValues": [],
            }
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
