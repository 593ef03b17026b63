"""A project's profiles as code: what ``manage.py export`` writes and the Studio's Export
downloads, in the shape ``apply`` reads back (SPEC §4).

Read-only bookkeeping (revision, status) is left out so the files diff cleanly in git; sensitive
values are left out unless asked for.
"""

from collections.abc import Iterable
from typing import Any

from profiles.documents import (
    clean_for_export,
    documents_queryset,
    profile_document,
    template_document,
    templates_queryset,
)
from profiles.models import ServiceProfile
from studio.models import Project


class UnknownProfiles(LookupError):
    """Profiles asked for by name that the project does not have."""

    def __init__(self, project: Project, names: list[str]) -> None:
        self.names = names
        super().__init__(f"Project {project.name} has no profile named {', '.join(names)}.")


def export_documents(
    *,
    project: Project,
    names: Iterable[str] = (),
    templates: bool = False,
    include_secrets: bool = False,
) -> list[dict[str, Any]]:
    """The project's own profiles (only ``names``, when given) by name, after the templates it
    owns when ``templates``; raises :class:`UnknownProfiles` when a name is not one of its."""
    names = list(names)
    documents = []
    if templates:
        owned = templates_queryset(project).filter(project=project)
        documents += [template_document(t, include_secrets=include_secrets) for t in owned]
    profiles = documents_queryset(ServiceProfile.objects.filter(project=project)).order_by("name")
    if names:
        found = profiles.filter(name__in=names).values_list("name", flat=True)
        missing = sorted(set(names) - set(found))
        if missing:
            raise UnknownProfiles(project, missing)
        profiles = profiles.filter(name__in=names)
    documents += [profile_document(p, include_secrets=include_secrets) for p in profiles]
    return [clean_for_export(d) for d in documents]
