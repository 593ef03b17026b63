"""API authentication: personal API keys in ``X-API-KEY``, besides browser sessions."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from studio.models import ApiKey

HEADER = "X-API-KEY"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        token = request.headers.get(HEADER)
        if not token:
            return None
        key = (
            ApiKey.objects.select_related("user")
            .filter(key_hash=ApiKey.hash(token.strip()), revoked_at__isnull=True)
            .first()
        )
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user, key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to requests without credentials.
        return HEADER


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Tells the OpenAPI schema how API keys are sent."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "apiKey", "in": "header", "name": HEADER}
