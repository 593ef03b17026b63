"""A text column whose contents are encrypted at rest with Fernet (AES-128-CBC + HMAC)."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

TOKEN_PREFIX = "fernet:"


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must hold url-safe base64 Fernet keys, comma separated."
        ) from error


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return TOKEN_PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(TOKEN_PREFIX):
        raise ValueError("Stored value is not an encrypted token.")
    try:
        return fernet().decrypt(stored.removeprefix(TOKEN_PREFIX).encode()).decode()
    except InvalidToken as error:
        raise ImproperlyConfigured(
            "A sensitive value cannot be decrypted with FIELD_ENCRYPTION_KEY: was the key changed "
            "without keeping the old one after it?"
        ) from error


class EncryptedTextField(models.TextField):
    """Holds text in Python, stores ``fernet:<token>`` in the database; "" stays "".

    The column cannot be searched or compared; it is for values that must never be read back
    from the database in clear (SPEC §3, sensitive values).
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
