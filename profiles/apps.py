from django.apps import AppConfig


class ProfilesConfig(AppConfig):
    """Environment templates and the service profiles built on them."""

    name = "profiles"
    verbose_name = "Service profiles"
    default_auto_field = "django.db.models.BigAutoField"
