"""The session engine: Django's database sessions, read with the pages token in one query."""

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    """Reads, with the session, the pages token (:mod:`studio.freshness`) as it stood then: a
    page that opens its session needs no other query to know what its kept parts stand for.

    Every page asks for both, so the one query is spelled out rather than built each time.
    """

    _pages_token: str | None = None

    def load(self) -> dict:
        from studio.models import PagesToken

        connection = connections[router.db_for_read(self.model)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, (SELECT value FROM {quote(PagesToken._meta.db_table)}"
                f" WHERE id = %s) FROM {quote(self.model._meta.db_table)}"
                " WHERE session_key = %s AND expire_date > %s",
                [
                    PagesToken.ONLY,
                    self.session_key,
                    connection.ops.adapt_datetimefield_value(timezone.now()),
                ],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's: a save makes a new session
            return {}
        data, self._pages_token = row
        return self.decode(data)

    def pages_token(self) -> str | None:
        """The token read with the session (loading it now if it is yet to be), or None if
        there was no session to read."""
        self._get_session()
        return self._pages_token
