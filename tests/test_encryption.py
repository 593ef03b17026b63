"""Sensitive values are encrypted at rest and never come back in clear (SPEC §3)."""

import json

import pytest
from django.db import IntegrityError, connection

from profiles.models import InputSetting, ProfileRevision, TemplateVariable
from studio.fields import TOKEN_PREFIX, decrypt, encrypt
from tests.factories import make_profile

SECRET = "hf_super_secret_token_123"


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def profile(platform, notebook_version, alice):
    return make_profile(
        platform,
        "acme",
        version=notebook_version,
        actor=alice,
        inputs={"hf_token": {"value": SECRET}},
    )


def test_sensitive_input_is_stored_encrypted(profile):
    setting = profile.inputs.get(name="hf_token")
    stored = raw_column(InputSetting._meta.db_table, "secret", setting.pk)
    assert stored.startswith(TOKEN_PREFIX)
    assert SECRET not in stored
    assert raw_column(InputSetting._meta.db_table, "value", setting.pk) == ""
    assert setting.effective_value == SECRET


def test_no_table_holds_the_secret_in_clear(profile):
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                assert not any(SECRET in str(cell) for cell in row), table


def test_template_secret_default_is_encrypted(notebook_version):
    variable = notebook_version.variables.get(name="hf_token")
    stored = raw_column(TemplateVariable._meta.db_table, "secret", variable.pk)
    assert "hf_template_secret" not in stored
    assert variable.secret == "hf_template_secret"


def test_revision_snapshot_keeps_secrets_out_of_the_document(profile):
    revision = profile.revisions.get()
    hf_token = next(i for i in revision.document["spec"]["inputs"] if i["name"] == "hf_token")
    assert "value" not in hf_token
    assert json.loads(revision.secrets) == {"hf_token": SECRET}
    assert SECRET not in raw_column(ProfileRevision._meta.db_table, "secrets", revision.pk)


def test_database_refuses_a_sensitive_row_with_a_plain_value(profile):
    with pytest.raises(IntegrityError):
        InputSetting.objects.filter(profile=profile, name="hf_token").update(value=SECRET)


def test_each_encryption_uses_a_fresh_token():
    assert encrypt("same") != encrypt("same")
    assert decrypt(encrypt("same")) == "same"


def test_rotated_key_still_decrypts_old_values(settings):
    old = encrypt("before rotation")
    settings.FIELD_ENCRYPTION_KEYS = [
        "s3wLq2v6-8pD6m0cYyP1cV9b8Bq3Qh8x9e7Xo0aZ3kE=",
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    assert decrypt(old) == "before rotation"
