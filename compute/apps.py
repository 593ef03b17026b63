from django.apps import AppConfig


class ComputeConfig(AppConfig):
    """What runs: compute instances, the services launched onto them, and their runs."""

    name = "compute"
    verbose_name = "Compute"
    default_auto_field = "django.db.models.BigAutoField"
