"""Sensitive values typed on a submission that was refused, kept for the next one.

A page that comes back with errors never writes a typed secret back into its HTML. So that the
admin need not type it again, the value is kept on the server, in the user's session (the
database session store), encrypted with the key of the encrypted columns (studio.fields), under
a key naming the profile, the wizard step and the field. Only the next submissions of that very
form, in that session, by that user, can use it: a successful save discards it, so does
signing out (the session is flushed) and so does time (:data:`KEEP_SECONDS`).
"""

from cryptography.fernet import InvalidToken
from django.http import HttpRequest

from profiles.models import ServiceProfile
from studio.fields import TOKEN_PREFIX, encrypt, fernet

SESSION_KEY = "profiles.kept_secrets"
KEEP_SECONDS = 60 * 60


def _prefix(profile: ServiceProfile, step: str) -> str:
    return f"{profile.pk}:{step}:"


def _store(request: HttpRequest) -> dict[str, dict]:
    return request.session.get(SESSION_KEY, {})


def keep(request: HttpRequest, *, profile: ServiceProfile, step: str, field: str, value: str):
    """Keep ``value``, typed into ``field`` of ``step`` of ``profile``, for the next try."""
    store = _store(request)
    store[_prefix(profile, step) + field] = {"user": request.user.pk, "token": encrypt(value)}
    request.session[SESSION_KEY] = store


def kept_values(request: HttpRequest, *, profile: ServiceProfile, step: str) -> dict[str, str]:
    """The values kept for ``step`` of ``profile`` in this session, by field, in clear.

    What cannot be read back (too old, another user's, a key since removed) is dropped.
    """
    store = _store(request)
    prefix, values, dropped = _prefix(profile, step), {}, []
    for key, item in store.items():
        if not key.startswith(prefix):
            continue
        value = _read(item, user=request.user.pk)
        if value is None:
            dropped.append(key)
        else:
            values[key.removeprefix(prefix)] = value
    if dropped:
        request.session[SESSION_KEY] = {k: v for k, v in store.items() if k not in dropped}
    return values


def _read(item: object, *, user) -> str | None:
    if not isinstance(item, dict) or item.get("user") != user:
        return None
    token = str(item.get("token", ""))
    if not token.startswith(TOKEN_PREFIX):
        return None
    try:
        plain = fernet().decrypt(token.removeprefix(TOKEN_PREFIX).encode(), ttl=KEEP_SECONDS)
    except InvalidToken:
        return None
    return plain.decode()


def discard(
    request: HttpRequest, *, profile: ServiceProfile, step: str | None = None, field: str = ""
) -> None:
    """Forget what is kept for ``field`` of ``step`` (every field: ``field`` empty; every step
    of the profile: ``step`` None)."""
    store = _store(request)
    prefix = f"{profile.pk}:" if step is None else _prefix(profile, step) + field
    remaining = {
        key: item
        for key, item in store.items()
        if not (key == prefix if field else key.startswith(prefix))
    }
    if len(remaining) != len(store):
        request.session[SESSION_KEY] = remaining
