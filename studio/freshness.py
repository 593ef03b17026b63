"""What cached page parts are keyed by: a token that every write to what they show replaces.

Lists that everyone of a project opens (the catalog above all) cache their rendered results,
or whole pages (:mod:`studio.kept_pages`), in the ``pages`` cache under the current token. A write
to a service profile, its sharing, an environment template or version, a project, a
membership or a user replaces the token (one row in the database,
:class:`studio.models.PagesToken`) once its transaction commits, before the writer's response
goes out: the very next request, in any worker process, renders afresh. A transaction renews
it once, however many rows it writes. A request reads the token before anything it keeps
under it, so that what it keeps is never older than the token it is kept under.
"""

from uuid import uuid4

from django.core.cache import caches
from django.db import connection, transaction

PAGES = "pages"  # the cache alias page parts live in (settings.CACHES)


def token() -> str:
    """The current token, made on first use."""
    from studio.models import PagesToken

    current = PagesToken.objects.filter(pk=PagesToken.ONLY).values_list("value", flat=True)
    # Another process may make it meanwhile: theirs stands.
    return (
        current.first()
        or PagesToken.objects.get_or_create(pk=PagesToken.ONLY, defaults={"value": uuid4().hex})[
            0
        ].value
    )


def token_of(request) -> str:
    """:func:`token`, read once per GET or HEAD however many page parts ask, with the
    request's session if it has one (:class:`studio.sessions.SessionStore`). A request that
    may write reads it afresh each time: what it renders after its write is renewed."""
    if request.method not in ("GET", "HEAD"):
        return token()
    if not hasattr(request, "_pages_token"):
        read_with_session = getattr(getattr(request, "session", None), "pages_token", None)
        request._pages_token = (read_with_session and read_with_session()) or token()
    return request._pages_token


def _renew() -> None:
    from studio.models import PagesToken

    made = uuid4().hex
    if not PagesToken.objects.filter(pk=PagesToken.ONLY).update(value=made):
        PagesToken.objects.update_or_create(pk=PagesToken.ONLY, defaults={"value": made})


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
