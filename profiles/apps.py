from django.apps import AppConfig
from django.db.models import signals


class ProfilesConfig(AppConfig):
    """Environment templates and the service profiles built on them."""

    name = "profiles"
    verbose_name = "Service profiles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from profiles import visibility
        from profiles.models import ServiceProfile
        from studio.models import Project

        signals.post_save.connect(
            visibility.profile_saved, sender=ServiceProfile, dispatch_uid="seen-profile"
        )
        signals.m2m_changed.connect(
            visibility.sharing_changed,
            sender=ServiceProfile.shared_with.through,
            dispatch_uid="seen-sharing",
        )
        signals.post_save.connect(
            visibility.project_saved, sender=Project, dispatch_uid="seen-owner"
        )
