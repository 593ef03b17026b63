"""Tenancy: projects and who belongs to them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from studio import access
from studio.validators import RESOURCE_NAME_PATTERN, validate_resource_name

SYSTEM_CATALOG = "system-catalog"


class ProjectQuerySet(models.QuerySet):
    def for_user(self, user) -> "ProjectQuerySet":
        """The projects ``user`` may open (never the system catalog)."""
        return self.filter(access.project_membership_q(user)).exclude(name=SYSTEM_CATALOG)

    def pickable(self) -> "ProjectQuerySet":
        """Projects that may appear in pickers and lists: all but the system catalog."""
        return self.exclude(name=SYSTEM_CATALOG)


class Project(models.Model):
    """A tenant: service profiles, templates and memberships belong to exactly one project."""

    name = models.CharField(
        "Unique Name",
        max_length=63,
        unique=True,
        validators=[validate_resource_name],
        help_text="Lowercase letters, digits and hyphens; starts with a letter.",
    )
    display_name = models.CharField("Display Name", max_length=100)
    description = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(name__regex=RESOURCE_NAME_PATTERN),
                name="%(app_label)s_%(class)s_name_format",
                violation_error_message="The project name breaks the naming rule.",
            ),
            models.CheckConstraint(
                condition=~Q(display_name=""),
                name="%(app_label)s_%(class)s_display_name_required",
                violation_error_message="A project needs a display name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system_catalog(self) -> bool:
        return self.name == SYSTEM_CATALOG


class Membership(models.Model):
    """A user's role in one project."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project"],
                name="%(app_label)s_%(class)s_one_per_user_and_project",
                violation_error_message="This user already belongs to this project.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["admin", "member"]),
                name="%(app_label)s_%(class)s_role_valid",
                violation_error_message="The role must be admin or member.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.project_id and self.project.is_system_catalog:
            raise ValidationError(
                {"project": "The system catalog has no members; superusers manage it."}
            )
