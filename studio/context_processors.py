"""What every page's frame needs: the user's projects for the switcher, and the current one."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from studio import access, freshness
from studio.models import Project


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    project = getattr(request, "project", None)
    is_admin = project is not None and access.is_admin(project)
    return {
        # Lazy: evaluated once, only by templates that render the switcher.
        "my_projects": Project.objects.for_user(user).only("name", "display_name"),
        "current_project": project,
        "is_project_admin": is_admin,
        # What the frame shows depends on, besides what any write renews the token for
        # (memberships, projects): the rendered frame is kept under it.
        "frame_key": SimpleLazyObject(
            lambda: ":".join(
                str(part)
                for part in (
                    freshness.token_of(request),
                    user.pk,
                    user.get_username(),
                    user.is_superuser,
                    project.pk if project else "",
                    is_admin,
                    request.path,
                )
            )
        ),
    }
