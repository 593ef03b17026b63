from django.apps import AppConfig


class StudioConfig(AppConfig):
    """Tenancy core: projects, memberships, access rules and demo data."""

    name = "studio"
    verbose_name = "Tenancy"
    default_auto_field = "django.db.models.BigAutoField"
