"""Middleware of our own: the signed-in user as kept, the Permissions-Policy header, and the
count of refused API keys."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from studio import kept_pages
from studio.authentication import FAILED_FLAG, client_ip, record_api_key_failure


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, but the user is read once per token (:func:`studio.kept_pages.signed_in_user`)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))


def _user(request: HttpRequest):
    if not hasattr(request, "_cached_user"):  # where Django's own middleware keeps it
        request._cached_user = kept_pages.signed_in_user(request)
    return request._cached_user


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
