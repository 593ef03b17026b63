"""Who sees what (SPEC §2): the one module that decides, as queryset filters and view decorators.

- Anonymous users see nothing but the login page.
- Superusers see every project and act as admins in each.
- A project admin sees the project's PaaS Studio and catalog; a member sees its catalog only
  (403 in Studio).
- Anyone else is told nothing: every URL under a project they do not belong to is a 404.

Views never test roles with ``if``: they fetch through :func:`project_for` (404 for outsiders by
construction) and are wrapped in :func:`member_required` or :func:`admin_required`. Lists and
detail pages use the same queryset methods built from the filters below, so a list can never
show what a detail page would refuse.
"""

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, OuterRef, Q, QuerySet, Subquery, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

if TYPE_CHECKING:
    from studio.models import Project

ADMIN = "admin"
MEMBER = "member"
SYSTEM_CATALOG = "system-catalog"


def project_membership_q(user) -> Q:
    """Projects ``user`` belongs to: all of them for a superuser, none for anonymous users."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser:
        return Q()
    return Q(memberships__user=user)


def projects_with_role(user) -> QuerySet:
    """The user's projects, each annotated with ``role`` (superusers are admins everywhere)."""
    from studio.models import Membership, Project

    projects = Project.objects.for_user(user)
    if user.is_authenticated and user.is_superuser:
        return projects.annotate(role=Value(ADMIN))
    role = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return projects.annotate(role=Subquery(role))


def project_for(user, name: str) -> "Project":
    """The project ``name`` with the user's ``role`` on it; Http404 for anyone outside it."""
    return get_object_or_404(projects_with_role(user), name=name)


def is_admin(project: "Project") -> bool:
    """Whether the user the project was fetched for (by :func:`project_for`) administers it."""
    return getattr(project, "role", None) == ADMIN


def shared_into_q(model, project: "Project") -> Q:
    """Rows of a shareable ``model`` (profiles, templates) that ``project`` may use.

    Its own rows, everything in the system catalog, rows shared with all projects, and rows
    shared with it by name. The selected-projects case is a subquery, so the result has no
    duplicates and needs no ``distinct()``.
    """
    through = model.shared_with.through
    selected = through.objects.filter(project=project).values(model._meta.model_name)
    return (
        Q(project=project)
        | Q(project__name=SYSTEM_CATALOG)
        | Q(sharing="all")
        | Q(sharing="selected", pk__in=selected)
    )


def first_as_seen_by(queryset: QuerySet, project: "Project"):
    """Of same-named rows ``project`` may see: its own, else the system catalog's, else the one
    of the first owning project by name. One query."""
    preference = Case(
        When(project=project, then=Value(0)),
        When(project__name=SYSTEM_CATALOG, then=Value(1)),
        default=Value(2),
    )
    return queryset.order_by(preference, "project__name").first()


def profile_visible_q(model, project: "Project") -> Q:
    """Profiles ``project`` sees: all of its own, and other projects' ready ones shared into it."""
    return Q(project=project) | (shared_into_q(model, project) & Q(status="ready"))


def system_profiles_q() -> Q:
    """System profiles: ready profiles of the system catalog, available to every project."""
    return Q(project__name=SYSTEM_CATALOG, status="ready")


def profile_editable_q(project: "Project") -> Q:
    """Only the owning project's admins change a profile; the system catalog is superusers' own."""
    if project.name == SYSTEM_CATALOG:
        return Q(pk__in=[])
    return Q(project=project)


ViewFunc = Callable[..., HttpResponse]


def _project_view(view: ViewFunc, *, admin_only: bool) -> ViewFunc:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, project: str, *args, **kwargs) -> HttpResponse:
        project_obj = project_for(request.user, project)
        request.project = project_obj  # the 403 page, too, shows the project's menu
        if admin_only and not is_admin(project_obj):
            raise PermissionDenied("Only this project's admins may open this page.")
        return view(request, project_obj, *args, **kwargs)

    return wrapped


def member_required(view: ViewFunc) -> ViewFunc:
    """A page for anyone in the project; outsiders get 404, anonymous users the login page."""
    return _project_view(view, admin_only=False)


def admin_required(view: ViewFunc) -> ViewFunc:
    """A page for the project's admins; members get 403, outsiders 404."""
    return _project_view(view, admin_only=True)
