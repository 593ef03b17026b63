"""What every page's frame needs: the user's projects for the switcher, and the current one."""

from django.http import HttpRequest

from studio import access
from studio.models import Project


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    project = getattr(request, "project", None)
    return {
        # Lazy: evaluated once, only by templates that render the switcher.
        "my_projects": Project.objects.for_user(user).only("name", "display_name"),
        "current_project": project,
        "is_project_admin": project is not None and access.is_admin(project),
    }
