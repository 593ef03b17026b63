"""The demo data launches (SPEC §7, §8): on a machine with only Python, the batch job and the
web file server run for real on ``demo-workstation``; the profiles that need software the
machine lacks fail early, naming it."""

import io
import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from compute import services as compute
from compute.models import ComputeInstance, Service
from compute.tasks import execute_run
from profiles.models import ServiceProfile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def demo(settings, tmp_path):
    settings.COMPUTE_LOCAL_ROOT = str(tmp_path / "services")
    settings.COMPUTE_RUN_TIME_LIMIT = 60
    call_command("seed_demo", password="demo-pw", stdout=io.StringIO())
    bob = get_user_model().objects.get(username="bob")
    instance = ComputeInstance.objects.get(name="demo-workstation")

    def run(profile_name: str, name: str, action: str = "deploy") -> Service:
        if action == "deploy":
            service = compute.launch(
                project=instance.project,
                actor=bob,
                profile=ServiceProfile.objects.get(name=profile_name),
                name=name,
                instance=instance,
                submitted={},
            )
            run = service.runs.get()
        else:
            service = Service.objects.get(name=name)
            run = compute.destroy(service=service, actor=bob)
        execute_run.call(run.pk)
        service.refresh_from_db()
        service.last_run = service.runs.get(pk=run.pk)
        return service

    return run


def test_the_batch_job_runs_its_command_to_completion(demo):
    started = time.monotonic()
    service = demo("batch-job", "my-job")
    assert service.state == "running", service.last_run.log
    assert time.monotonic() - started < 20
    assert "Hello from a batch job on" in service.last_run.log
    outputs = {o["name"]: o["value"] for o in service.outputs}
    assert outputs["job_id"].startswith("my-job-")
    assert outputs["logs_url"].endswith("/research/my-job/job.log")
    assert demo("batch-job", "my-job", "destroy").state == "destroyed"


def test_the_web_file_server_answers_at_its_url_until_destroyed(demo):
    service = demo("web-file-server", "my-site")
    assert service.state == "running", service.last_run.log
    url = service.outputs[0]["value"]
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert "Hello from PaaS Studio" in answer.read().decode()
    assert demo("web-file-server", "my-site", "destroy").state == "destroyed"
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def docker_runs() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


@pytest.mark.parametrize(
    ("profile", "needs", "message"),
    [
        ("jupyter-notebook", "jupyter-lab", "jupyter-lab not found on this compute instance"),
        ("vllm-inference", "vllm", "vllm not found on this compute instance"),
        ("bionemo", "docker", "docker (not found|is not running) on this compute instance"),
    ],
)
def test_profiles_needing_what_the_instance_lacks_fail_early_naming_it(
    demo, profile, needs, message
):
    if shutil.which(needs) and (needs != "docker" or docker_runs()):
        pytest.skip(f"this machine has {needs}")
    service = demo(profile, f"my-{needs}")
    assert service.state == "failed"
    assert re.search(message, service.last_run.log)
    assert json.loads(service.output_secrets or "{}") == {}
