"""Sensitive values at rest and on screen (SPEC §8): after a real launch whose code prints its
sensitive input and writes a sensitive output, and an instance registered with a private key,
no page and no database column holds any of them in clear."""

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from compute import services as compute
from compute.models import ComputeInstance
from compute.tasks import execute_run
from profiles.models import TemplateVersion
from tests.factories import make_profile, make_template

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

INPUT = "hf-input-secret-7f3a"
TYPED = "typed-at-launch-91c2"
OUTPUT = "output-secret-5d1e"
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAA-private-0c9b\n"
    "-----END OPENSSH PRIVATE KEY-----"
)
SECRETS = [INPUT, TYPED, OUTPUT, "b3BlbnNzaC1rZXktdjEAAAAA-private-0c9b"]

SCRIPT = """#!/bin/sh
echo "the token is $PAAS_VAR_token and the other is $PAAS_VAR_other"
printf 'password=%s-%s\n' output-secret 5d1e >> "$PAAS_OUTPUTS"
"""


def every_stored_text() -> str:
    """Every value of every column of every table of our apps, as the database returns it."""
    chunks = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.app_label not in {"studio", "profiles", "compute", "django_tasks_db"}:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            chunks += [repr(row) for row in cursor.fetchall()]
    return "\n".join(chunks)


def test_no_secret_is_stored_or_shown_in_clear(
    client, settings, tmp_path, research, system, dave, bob, workstation
):
    settings.COMPUTE_LOCAL_ROOT = str(tmp_path / "services")
    version = make_template(
        system, "leaky",
        variables=[{"name": "token", "value": INPUT, "sensitive": True},
                   {"name": "other", "sensitive": True}],
        outputs=[{"name": "password", "sensitive": True}],
    )  # fmt: skip
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline=SCRIPT
    )
    profile = make_profile(research, "leaky", version=version, actor=dave, status="ready")
    ComputeInstance.objects.create(
        project=research, owner=bob, name="gpu-box", display_name="GPU box", connection="ssh",
        host="10.0.0.5", port=22, username="ubuntu", private_key=KEY,
        host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample",
    )  # fmt: skip
    service = compute.launch(project=research, actor=bob, profile=profile, name="leaky-1",
                             instance=workstation, submitted={"other": TYPED})  # fmt: skip
    assert execute_run.call(service.runs.get().pk) == "succeeded"
    run = service.runs.get()
    assert "the token is *** and the other is ***" in run.log

    stored = every_stored_text()
    client.force_login(bob)
    pages = [
        reverse("compute:service", args=["research", "leaky-1"]),
        reverse("compute:services", args=["research"]),
        reverse("compute:launch", args=["research", "research", "leaky"]),
        reverse("compute:instances", args=["research"]),
        reverse("compute:instance", args=["research", "gpu-box"]),
        reverse("compute:instance_edit", args=["research", "gpu-box"]),
        reverse("catalog:detail", args=["research", "research", "leaky"]),
    ]
    shown = "\n".join(client.get(page).content.decode() for page in pages)
    for secret in SECRETS:
        assert secret not in stored, f"{secret} is stored in clear"
        assert secret not in shown, f"{secret} is shown on a page"
