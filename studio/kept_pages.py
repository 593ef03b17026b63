"""Whole pages kept for their viewer until anything they show changes.

The lists everyone opens most (the catalog, the Studio list) are rendered once per viewer,
URL and token (:mod:`studio.freshness`) and handed out again until a write renews the token:
a write to what the page shows, a membership, a project or the user themselves. What a kept
page must not repeat is swapped or left out:

- its CSRF token is the next request's own (``csrf_token`` below records what a render put in
  the page, so that it can be swapped);
- a request with messages waiting, or whose view queued messages or set cookies, renders as
  usual and keeps nothing;
- htmx asks for a fragment or the whole page: each is kept apart.

Who may open the page is decided when it is rendered and stands while the token does, since
every write that could change it (memberships, projects, users) renews the token.
"""

import hashlib
import zlib
from collections.abc import Callable
from functools import wraps

from django.contrib import auth, messages
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.functional import SimpleLazyObject

from studio import freshness

# Stands for the CSRF token in a kept page; no token (letters and digits only) holds it.
TOKEN_MARK = b"\x00csrf-token\x00"
# The response headers a kept page keeps; the middleware adds the rest on every request.
KEPT_HEADERS = ("Content-Type", "Vary")


def csrf_token(request: HttpRequest) -> dict:
    """Django's ``csrf_token`` for templates, also noting on the request each token a render
    put in the page. A context processor listed after Django's own, which it replaces."""

    def value() -> str:
        token = get_token(request)
        if token is None:
            return "NOTPROVIDED"
        request._rendered_csrf_tokens = {*getattr(request, "_rendered_csrf_tokens", ()), token}
        return token

    return {"csrf_token": SimpleLazyObject(value)}


def signed_in_user(request: HttpRequest):
    """``auth.get_user(request)``, read once per token for each signed-in session's user.

    A user is kept under what decides whether the session signs them in (the user id, the
    backend and the password hash the session holds) and the token, which every save or
    deletion of a user renews: the same session and the same user row give the same answer.
    """
    session = request.session
    user_id, backend = session.get(auth.SESSION_KEY), session.get(auth.BACKEND_SESSION_KEY)
    if user_id is None or backend is None:
        return auth.get_user(request)
    held = session.get(auth.HASH_SESSION_KEY, "")
    key = f"user:{freshness.token_of(request)}:{backend}:{user_id}:{held}"
    pages = caches[freshness.PAGES]
    kept = pages.get(key)
    if kept is not None:
        return kept
    found = auth.get_user(request)
    # Kept as signed in and as the session still stands (a rotated secret re-signs it).
    if found.is_authenticated and session.get(auth.HASH_SESSION_KEY, "") == held:
        pages.set(key, found)
    return found


def kept_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve the view's page from the ``pages`` cache while the token stands; see above."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        key = _key(request)
        if key is None:
            return view(request, *args, **kwargs)
        pages = caches[freshness.PAGES]
        kept = pages.get(key)
        if kept is not None:
            packed, headers = kept
            content = zlib.decompress(packed).replace(TOKEN_MARK, get_token(request).encode())
            return HttpResponse(content, headers=headers)
        response = view(request, *args, **kwargs)
        if _keepable(request, response):
            content = response.content
            for token in getattr(request, "_rendered_csrf_tokens", ()):
                content = content.replace(token.encode(), TOKEN_MARK)
            headers = {name: response[name] for name in KEPT_HEADERS if name in response}
            # Compressed: a page is some 40 kB, a seventh of that packed, and unpacks in
            # well under a tenth of a millisecond.
            pages.set(key, (zlib.compress(content, 1), headers))
        return response

    return wrapped


def _key(request: HttpRequest) -> str | None:
    """What the page is kept under, or None if this request must render it."""
    user = request.user
    if request.method not in ("GET", "HEAD") or not user.is_authenticated:
        return None
    if len(messages.get_messages(request)):
        return None  # the page shows them, once
    htmx = getattr(request, "htmx", None)
    shape = (
        f"{bool(htmx)}:{bool(htmx and htmx.boosted)}:{bool(htmx and htmx.history_restore_request)}"
    )
    url = hashlib.sha256(request.get_full_path().encode()).hexdigest()  # a key of fixed length
    return f"page:{freshness.token_of(request)}:{user.pk}:{shape}:{url}"


def _keepable(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not len(messages.get_messages(request))
    )
