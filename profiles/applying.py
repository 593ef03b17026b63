"""Applying documents (SPEC §4, as code): create or replace a profile or template from one.

The API's writes, ``manage.py apply`` and the seed data read documents through the serializers
in :mod:`profiles.serializers` and apply them here; each problem is reported by its document
path (:class:`~profiles.documents.DocumentError`), and nothing of a refused document is saved.
"""

import copy

from django.core.exceptions import ValidationError
from django.db import transaction

from profiles import rules
from profiles.choices import Override, Status
from profiles.documents import (
    INPUT_PATHS,
    OUTPUT_PATHS,
    PROFILE_PATHS,
    TEMPLATE_PATHS,
    VERSION_PATHS,
    DocumentError,
    causes_from,
    content_of,
    profile_document,
    profile_secrets,
    template_document,
)
from profiles.models import (
    EnvironmentTemplate,
    OutputSetting,
    ServiceProfile,
    TemplateOutput,
    TemplateVariable,
    TemplateVersion,
)
from profiles.repositories import RepositoryProblem
from profiles.services import StaleEdit, commit_revision, reconcile_inputs, write_outputs
from studio.models import Project


def _pick_template_version(project: Project, reference: dict) -> TemplateVersion:
    """The version a document names; its own project's template wins over shared ones."""
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
        profile.status = Status.READY
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
            profile=profile,
            name=item["name"],
            display_name=item.get("displayName", ""),
            description=item.get("description", ""),
            sensitive=item.get("sensitive", False),
            position=index,
        )
        try:
            output.full_clean(exclude=["profile"], validate_unique=False)
        except ValidationError as error:
            causes += causes_from(error, OUTPUT_PATHS, prefix)
            continue
        outputs.append(output)
    if not causes:
        write_outputs(profile=profile, outputs=outputs)
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
