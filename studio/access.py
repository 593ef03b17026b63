"""Who sees what (SPEC §2): projects, roles, and the view decorators built on them.

- Anonymous users see nothing but the login page.
- Superusers see every project and act as admins in each.
- A project admin sees the project's PaaS Studio and catalog; a member sees its catalog only
  (403 in Studio).
- Anyone else is told nothing: every URL under a project they do not belong to is a 404.

Views never test roles with ``if``: they fetch through :func:`project_for` (404 for outsiders by
construction) and are wrapped in :func:`member_required` or :func:`admin_required`. What a
project may see of other projects' rows (sharing, the system catalog) is the owning app's
queryset: ``ServiceProfile.objects.visible_to(project)`` and its kin in ``profiles``.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet, Value
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from studio.http import ProjectRequest
from studio.models import Project, Role


def projects_with_role(user) -> QuerySet[Project]:
    """The user's projects, each annotated with ``role`` (superusers are admins everywhere)."""
    projects = Project.objects.for_user(user)
    if user.is_authenticated and user.is_superuser:
        return projects.annotate(role=Value(Role.ADMIN))
    # The membership for_user joined to find the projects holds the role.
    return projects.annotate(role=F("memberships__role"))


def project_for(user, name: str) -> Project:
    """The project ``name`` with the user's ``role`` on it; Http404 for anyone outside it."""
    return get_object_or_404(projects_with_role(user), name=name)


def is_admin(project: Project) -> bool:
    """Whether the user the project was fetched for (by :func:`project_for`) administers it."""
    return getattr(project, "role", None) == Role.ADMIN


ViewFunc = Callable[..., HttpResponse]


def _project_view(view: ViewFunc, *, admin_only: bool) -> ViewFunc:
    @wraps(view)
    @login_required
    def wrapped(request: ProjectRequest, project: str, *args, **kwargs) -> HttpResponse:
        project_obj = project_for(request.user, project)
        request.project = project_obj  # the page frame (and the 403 page) show its menu
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
