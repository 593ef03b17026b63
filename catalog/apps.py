from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.models import signals


class CatalogConfig(AppConfig):
    """What end users see: the catalog of service profiles available to their project."""

    name = "catalog"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from profiles.models import EnvironmentTemplate, ServiceProfile, TemplateVersion
        from studio import freshness
        from studio.models import Membership, Project

        # The catalog's cached results show profiles, their templates and owning projects, and
        # every page's frame the user's projects: any write to those (signals see every save,
        # delete and sharing change) renews them.
        for model in (ServiceProfile, EnvironmentTemplate, TemplateVersion, Project, Membership):
            for signal in (signals.post_save, signals.post_delete):
                signal.connect(
                    freshness.changed, sender=model, dispatch_uid=f"fresh-{model}-{signal}"
                )
        # Profile documents (the API's kept lists) name who created and changed a profile, and
        # signed-in users are kept (studio.kept_pages.signed_in_user) until they change or go.
        signals.post_save.connect(
            freshness.user_changed, sender=get_user_model(), dispatch_uid="fresh-user"
        )
        signals.post_delete.connect(
            freshness.changed, sender=get_user_model(), dispatch_uid="fresh-user-deleted"
        )
        for model in (ServiceProfile, EnvironmentTemplate):
            signals.m2m_changed.connect(
                freshness.changed,
                sender=model.shared_with.through,
                dispatch_uid=f"fresh-{model}-m2m",
            )
