"""Who is calling, and the brakes on guessing.

- API keys: personal keys in ``X-API-KEY``, besides browser sessions. A client address that
  sends API_KEY_FAILURE_LIMIT bad keys within API_KEY_FAILURE_WINDOW seconds gets 429 (with
  Retry-After) for every key, good or bad, until that window has passed.
- Sign-in: django-axes locks a username out *from one address* after AXES_FAILURE_LIMIT wrong
  passwords, for AXES_COOLOFF_TIME; :func:`lockout_response` is the page it shows meanwhile.
- :func:`client_ip` is the caller's address for both.

The bad-key counters live in Django's cache (a database table by default, see CACHES), so every
worker process shares them; they are written by :class:`studio.middleware.ApiKeyFailureMiddleware`
after the view, outside any transaction that the error response rolls back.
"""

import math
import time
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from studio.models import ApiKey

HEADER = "X-API-KEY"
# Set on the HttpRequest when a key was refused, for ApiKeyFailureMiddleware to count.
FAILED_FLAG = "api_key_failed"


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies that each add
    to X-Forwarded-For, the address the outermost of them was called from. Entries further
    left are the client's own say and are never trusted."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


# API keys ----------------------------------------------------------------------------------


def _failures_key(address: str | None) -> str:
    return f"api-key-failures:{address or 'unknown'}"


def api_key_lockout_seconds(address: str | None) -> float:
    """How long ``address`` must wait before its API keys are looked at again (0: not locked)."""
    limit = settings.API_KEY_FAILURE_LIMIT
    if limit <= 0:
        return 0
    started, failures = cache.get(_failures_key(address), (0.0, 0))
    left = started + settings.API_KEY_FAILURE_WINDOW - time.time()
    return left if failures >= limit and left > 0 else 0


def record_api_key_failure(address: str | None) -> None:
    """Count one refused key against ``address`` in the window its first failure opened."""
    if settings.API_KEY_FAILURE_LIMIT <= 0:
        return
    now, window = time.time(), settings.API_KEY_FAILURE_WINDOW
    key = _failures_key(address)
    started, failures = cache.get(key, (now, 0))
    if started + window <= now:  # that window has passed: this failure opens a new one
        started, failures = now, 0
    # A read then a write: two workers counting at once may lose one failure, never invent one.
    cache.set(key, (started, failures + 1), timeout=math.ceil(started + window - now))


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        token = request.headers.get(HEADER)
        if not token:
            return None
        wait = api_key_lockout_seconds(client_ip(request))
        if wait:
            raise exceptions.Throttled(
                wait=wait, detail="Too many invalid API keys were sent from your address."
            )
        key = (
            ApiKey.objects.select_related("user")
            .filter(key_hash=ApiKey.hash(token.strip()), revoked_at__isnull=True)
            .first()
        )
        if key is None or not key.user.is_active:
            setattr(request._request, FAILED_FLAG, True)
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


# Sign-in lockouts (django-axes) ------------------------------------------------------------


def _sign_in_lockout_seconds(request: HttpRequest, credentials: dict | None) -> float:
    """Seconds left of the lockout: the cool-off counts from the last failure before it."""
    cool_off = get_cool_off(request) or timedelta(0)
    attempts = AxesProxyHandler.get_implementation().get_user_attempts(request, credentials)
    latest = max(
        (found for qs in attempts if (found := qs.aggregate(at=Max("attempt_time"))["at"])),
        default=None,
    )
    if latest is None:
        return cool_off.total_seconds()
    return max(0.0, (latest + cool_off - timezone.now()).total_seconds())


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page again (for the admin's sign-in too), with 429,
    Retry-After and how many minutes are left."""
    seconds = _sign_in_lockout_seconds(request, credentials)
    username = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "locked_out_minutes": max(1, math.ceil(seconds / 60)),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response
