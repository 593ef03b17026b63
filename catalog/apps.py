from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """What end users see: the catalog of service profiles available to their project."""

    name = "catalog"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"
