"""Small builders for test data; the cast of SPEC §7 lives in conftest.py."""

from itertools import count

from django.contrib.auth import get_user_model

from profiles import services, visibility
from profiles.models import (
    EnvironmentTemplate,
    ServiceProfile,
    TemplateOutput,
    TemplateVariable,
    TemplateVersion,
)
from studio.models import SYSTEM_CATALOG, Membership, Project

PASSWORD = "test-password"
_sequence = count(1)


def make_project(name: str | None = None, **fields) -> Project:
    name = name or f"project-{next(_sequence)}"
    fields.setdefault("display_name", name.replace("-", " ").title())
    return Project.objects.create(name=name, **fields)


def system_catalog() -> Project:
    """The reserved project (made by a migration, so gone after a transactional test's flush)."""
    project, _ = Project.objects.get_or_create(
        name=SYSTEM_CATALOG, defaults={"display_name": "System Catalog"}
    )
    return project


def make_user(username: str | None = None, *, superuser: bool = False, **roles: str):
    """A user with ``project=role`` memberships: ``make_user("ann", platform="admin")``."""
    username = username or f"user{next(_sequence)}"
    User = get_user_model()
    if superuser:
        user = User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    else:
        user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    for project_name, role in roles.items():
        Membership.objects.create(
            user=user, project=Project.objects.get(name=project_name.replace("_", "-")), role=role
        )
    return user


def make_variable(version: TemplateVersion, name: str, value: str = "", **fields):
    variable = TemplateVariable(version=version, name=name, **fields)
    variable.set_value(value)
    variable.full_clean()
    variable.save()
    return variable


def make_template(
    project: Project | None = None,
    name: str | None = None,
    *,
    version: str = "v1",
    state: str = TemplateVersion.State.ACTIVE,
    variables: list[dict] | None = None,
    outputs: list[dict] | None = None,
    **fields,
) -> TemplateVersion:
    """A template with one version; returns the version. Variables are dicts of model fields."""
    project = project or system_catalog()
    name = name or f"template-{next(_sequence)}"
    template, _ = EnvironmentTemplate.objects.get_or_create(
        project=project,
        name=name,
        defaults={"display_name": name.replace("-", " ").title(), **fields},
    )
    template_version = TemplateVersion.objects.create(
        template=template,
        name=version,
        state=state,
        code_repository="https://git.example.com/templates.git",
        code_path=name,
        code_revision="main",
    )
    for position, spec in enumerate(variables or []):
        make_variable(template_version, position=position, **spec)
    for position, spec in enumerate(outputs or []):
        TemplateOutput.objects.create(version=template_version, position=position, **spec)
    return template_version


def make_profile(
    project: Project,
    name: str | None = None,
    *,
    version: TemplateVersion,
    actor=None,
    **fields,
) -> ServiceProfile:
    name = name or f"profile-{next(_sequence)}"
    fields.setdefault("display_name", name.replace("-", " ").title())
    return services.create_profile(
        project=project, actor=actor, name=name, template_version=version, **fields
    )


def profiles_in_bulk(profiles) -> list[ServiceProfile]:
    """Profiles straight into the table, with the visibility rows their saves would write."""
    made = ServiceProfile.objects.bulk_create(profiles)
    visibility.refresh(profile.pk for profile in made)
    return made
