"""Tenancy: projects and who belongs to them; the token kept pages are kept under."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from studio.validators import RESOURCE_NAME_PATTERN, validate_resource_name

# The project whose templates and profiles every project may use; superusers manage it.
SYSTEM_CATALOG = "system-catalog"


class ProjectQuerySet(models.QuerySet):
    def for_user(self, user) -> "ProjectQuerySet":
        """The projects ``user`` may open: all but the system catalog for a superuser, those
        they belong to for anyone else, none for anonymous or inactive users."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        projects = self.exclude(name=SYSTEM_CATALOG)
        return projects if user.is_superuser else projects.filter(memberships__user=user)

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


class Role(models.TextChoices):
    """What a user may do in a project: admins work in its PaaS Studio, members use its catalog."""

    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    """A user's role in one project."""

    Role = Role

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
                condition=Q(role__in=Role.values),
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


class ApiKey(models.Model):
    """A personal key for scripts, sent as ``X-API-KEY``; only its SHA-256 is stored.

    Keys are 256-bit random tokens, so a plain hash is enough: nothing to brute-force.
    """

    PREFIX = "pst_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. CI deploy.")
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=~Q(name=""),
                name="%(app_label)s_%(class)s_name_required",
                violation_error_message="Give the key a name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(token: str) -> str:
        import hashlib

        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, *, user, name: str) -> tuple["ApiKey", str]:
        """A new key and its token; the token is never stored and cannot be shown again."""
        import secrets

        token = cls.PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(user=user, name=name, prefix=token[:12], key_hash=cls.hash(token))
        return key, token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        """Stop the key from working, for good (the row stays, to show when it was revoked)."""
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class PagesToken(models.Model):
    """What kept page parts are kept under (:mod:`studio.freshness`): one row, whose value
    every write to what they show replaces."""

    ONLY = 1  # the row's primary key

    value = models.CharField(max_length=32)

    class Meta:
        verbose_name = "pages token"

    def __str__(self) -> str:
        return self.value
