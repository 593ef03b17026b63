"""Production settings refuse to start half-configured, and pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x7#production-secret-key-for-the-deploy-check-0123456789abcdefghijkl",
    "ALLOWED_HOSTS": "studio.example.com",
    "FIELD_ENCRYPTION_KEY": "s3wLq2v6-8pD6m0cYyP1cV9b8Bq3Qh8x9e7Xo0aZ3kE=",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "FIELD_ENCRYPTION_KEY",
            "DJANGO_ALLOW_ASYNC_UNSAFE",  # set for the browser tests only
        }
    }
    environment |= {"ENV_FILE": ""} | env  # no local .env: only what the test gives
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEY"])
def test_production_refuses_to_start_without(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_debug_off_is_the_default():
    env = {k: v for k, v in PRODUCTION.items() if k != "DEBUG"}
    code = "from django.conf import settings; print('DEBUG is', settings.DEBUG)"
    result = manage("shell", "--no-imports", "-c", code, **env)
    assert "DEBUG is False" in result.stdout, result.stderr


def test_a_malformed_boolean_is_refused():
    result = manage("check", **(PRODUCTION | {"DEBUG": "maybe"}))
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_a_local_env_file_fills_in_unset_variables(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# development checkout\nDEBUG=1\n")
    code = "from django.conf import settings; print('DEBUG is', settings.DEBUG)"
    result = manage("shell", "--no-imports", "-c", code, ENV_FILE=str(env_file))
    assert "DEBUG is True" in result.stdout, result.stderr


def test_the_process_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\n")
    result = manage("check", ENV_FILE=str(env_file), DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
