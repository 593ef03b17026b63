"""Middleware of our own: the Permissions-Policy header, and the count of refused API keys."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from studio.authentication import FAILED_FLAG, client_ip, record_api_key_failure


class PermissionsPolicyMiddleware:
    """Sends ``Permissions-Policy`` from settings.PERMISSIONS_POLICY (feature: allowed origins;
    an empty list turns the feature off for the site and for anything it embeds)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = ", ".join(  # once: settings do not change while the process runs
            f"{feature}=({' '.join(origins)})"
            for feature, origins in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Permissions-Policy", self.policy)
        return response


class ApiKeyFailureMiddleware:
    """Counts a refused X-API-KEY against the caller's address once the view has answered.

    Counting here, not in the authentication class, keeps the count out of the view's
    transaction, which the 401 rolls back should ATOMIC_REQUESTS be turned on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, FAILED_FLAG, False):
            record_api_key_failure(client_ip(request))
        return response
