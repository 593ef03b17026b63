"""Keeping :class:`~profiles.models.Visibility` true: who may look at each service profile.

Signal receivers (connected in :mod:`profiles.apps`) rewrite a profile's rows when it is saved
or its selected projects change, and its owner's name on its rows when the owner is renamed,
inside the writer's transaction, so no reader ever sees a profile where its sharing says it
is not. Deletes cascade. Code that writes profiles around ``save()`` (``bulk_create``,
``update``) calls :func:`refresh` itself; code that saves many profiles at once may gather
their rewrites into one with :func:`gathered`.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet

from profiles.choices import Sharing, Status
from profiles.models import ServiceProfile, Visibility
from studio.models import Project

BATCH = 500
# What a profile's rows are made of: a save that writes none of these leaves them as they are.
READ_FIELDS = frozenset(
    {"name", "display_name", "service_type", "status", "sharing", "created_at", "project"}
)
# The profiles whose rows a :func:`gathered` block will rewrite as it ends.
_gathering: ContextVar[set[int] | None] = ContextVar("visibility_gathering", default=None)


def rows_for(profile: ServiceProfile) -> Iterator[Visibility]:
    """The rows that say who may look at ``profile`` (loaded with its project, and with
    ``shared_with`` prefetched when shared with selected projects)."""
    ready = profile.status == Status.READY
    copied = {
        "profile": profile,
        "ready": ready,
        "name": profile.name,
        "display_name": profile.display_name,
        "owner_name": profile.project.name,
        "service_type": profile.service_type,
        "created_at": profile.created_at,
    }
    if ready and (profile.project.is_system_catalog or profile.sharing == Sharing.ALL):
        yield Visibility(everyone=True, **copied)
        return
    yield Visibility(project_id=profile.project_id, **copied)
    if ready and profile.sharing == Sharing.SELECTED:
        for project in profile.shared_with.all():
            if project.pk != profile.project_id:
                yield Visibility(project_id=project.pk, **copied)


def refresh(profile_ids: Iterable[int]) -> None:
    """Rewrite the rows of these profiles from what they are now: a few queries a batch."""
    ids = list(profile_ids)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        profiles = (
            ServiceProfile.objects.filter(pk__in=batch)
            .select_related("project")
            .only(*READ_FIELDS - {"project"}, "project__name")
            .prefetch_related(Prefetch("shared_with", queryset=Project.objects.only("pk")))
        )
        rows = [row for profile in profiles for row in rows_for(profile)]
        Visibility.objects.filter(profile_id__in=batch).delete()
        Visibility.objects.bulk_create(rows)


@contextmanager
def gathered() -> Iterator[None]:
    """Rewrite the rows of the profiles saved in the block once, as it ends (a few queries
    for all of them, not a few for each save). Nothing in the block may read them."""
    if _gathering.get() is not None:  # already inside one: the outer block rewrites them
        yield
        return
    pending: set[int] = set()
    reset = _gathering.set(pending)
    try:
        yield
    finally:
        _gathering.reset(reset)
    refresh(sorted(pending))


def _changed(profile_ids: Iterable[int]) -> None:
    pending = _gathering.get()
    if pending is None:
        refresh(profile_ids)
    else:
        pending.update(profile_ids)


def page_of(
    rows: QuerySet, profiles: QuerySet, number, *, per_page: int, count: int | None = None
) -> Page:
    """Page ``number`` of ``rows`` (visibility rows, ordered) as the profiles ``profiles``
    reads: the page is chosen from the rows alone, then only its profiles are read.
    ``count`` is the number of rows, when the caller has counted them already."""
    paginator = Paginator(rows, per_page)
    if count is not None:
        paginator.count = count
    page = paginator.get_page(number)
    page.object_list = profiles_of(page.object_list, profiles)
    return page


def profiles_of(rows: QuerySet, profiles: QuerySet) -> list[ServiceProfile]:
    """The profiles ``profiles`` reads for ``rows`` (a slice of ordered visibility rows), in
    their order: one query for the rows' profile ids, one for the profiles."""
    ids = list(rows.values_list("profile", flat=True))
    found = profiles.in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


# Signal receivers ----------------------------------------------------------------------------


def profile_saved(instance: ServiceProfile, raw: bool = False, update_fields=None, **_) -> None:
    if raw or (update_fields is not None and not READ_FIELDS & set(update_fields)):
        return  # a revision's bookkeeping (revision, readme_html, modified_*) changes no row
    _changed([instance.pk])


def sharing_changed(instance, action: str, reverse: bool, pk_set, **_) -> None:
    """``shared_with`` changed, from either side: a profile's projects, or a project's
    profiles."""
    if not action.startswith("post_"):
        return
    if not reverse:
        _changed([instance.pk])
    elif pk_set:
        _changed(pk_set)
    else:  # a project's profiles cleared: those it had are no longer known, so look them up
        _changed(Visibility.objects.filter(project=instance).values_list("profile", flat=True))


def project_saved(instance: Project, created: bool, raw: bool = False, **_) -> None:
    if not (created or raw):
        Visibility.objects.filter(profile__project=instance).exclude(
            owner_name=instance.name
        ).update(owner_name=instance.name)
