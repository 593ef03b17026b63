"""What cached page parts are keyed by: a token that every write to what they show replaces.

Lists that everyone of a project opens (the catalog above all) cache their rendered results
in the ``pages`` cache under the current token. A write to a service profile, its sharing, an
environment template or version, or a project replaces the token in the shared ``default``
cache once its transaction commits, before the writer's response goes out: the very next
request, in any worker process, renders afresh. A transaction renews it once, however many
rows it writes.
"""

from uuid import uuid4

from django.core.cache import cache, caches
from django.db import connection, transaction

TOKEN_KEY = "pages-token"
PAGES = "pages"  # the cache alias page parts live in (settings.CACHES)


def token() -> str:
    """The current token, made on first use (and after the cache lost it)."""
    current = cache.get(TOKEN_KEY)
    if current is None:
        made = uuid4().hex
        # Another process may have made one meanwhile: theirs stands.
        current = made if cache.add(TOKEN_KEY, made, timeout=None) else cache.get(TOKEN_KEY)
    return current or uuid4().hex  # a cache that keeps nothing: nothing is cached either


def token_of(request) -> str:
    """:func:`token`, read once per GET or HEAD however many page parts ask. A request that
    may write reads it afresh each time: what it renders after its write is renewed."""
    if request.method not in ("GET", "HEAD"):
        return token()
    if not hasattr(request, "_pages_token"):
        request._pages_token = token()
    return request._pages_token


def _renew() -> None:
    cache.set(TOKEN_KEY, uuid4().hex, timeout=None)


def changed(**signal_arguments) -> None:
    """Renew the token when the current transaction commits. A signal receiver."""
    if str(signal_arguments.get("action", "post")).startswith("pre"):
        return  # m2m_changed: the post_ action follows
    # Once per transaction: Django drops a rolled-back savepoint's callbacks from this list.
    if not any(callback is _renew for _, callback, _ in connection.run_on_commit):
        transaction.on_commit(_renew)


def user_changed(update_fields=None, **signal_arguments) -> None:
    """:func:`changed` for a user's save, but for the sign-in time a login saves: pages show
    users' names (who made a profile), never when they last signed in."""
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    changed(**signal_arguments)


def forget() -> None:
    """Drop every cached page part."""
    caches[PAGES].clear()
