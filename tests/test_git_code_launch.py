"""Template code from git, launched (SPEC §8): a service runs exactly the commit its version
pinned when it was activated, whatever is pushed afterwards.

The repository is a bare one the test makes (``file://``); the template is applied as a
document, as ``manage.py apply`` does, so activation really resolves ``main`` with git. Each test
runs on the local instance and on a real SSH host (tests/sshhosts.py).
"""

import pytest

from compute import services as compute
from compute.models import ComputeInstance, Run, Service
from compute.tasks import execute_run
from profiles.models import TemplateVersion
from tests.factories import make_profile
from tests.sshhosts import ssh_hosts
from tests.test_code_repositories import Origin, apply_document, template_document
from tests.test_ssh_launch import register

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def entry(words: str) -> str:
    """A paas.sh that says which commit it is, and writes it as an output."""
    return f"""#!/bin/sh
case "$1" in
  deploy)
    echo "deploying {words}"; cat "$(dirname "$0")/NOTE"
    echo "said={words}" >> "$PAAS_OUTPUTS" ;;
  destroy) echo "destroying {words}" ;;
esac
"""


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.COMPUTE_LOCAL_ROOT = str(tmp_path / "services")
    settings.COMPUTE_CODE_CACHE = str(tmp_path / "code")
    settings.COMPUTE_SSH_CONNECT_TIMEOUT = 3
    settings.COMPUTE_RUN_TIME_LIMIT = 30


@pytest.fixture
def origin(tmp_path) -> Origin:
    origin = Origin(tmp_path / "repo")
    origin.commit({"notebook/paas.sh": entry("one"), "notebook/NOTE": "first note\n"})
    return origin


@pytest.fixture(params=["local", "ssh"])
def instance(request, research, bob, tmp_path):
    if request.param == "local":
        yield ComputeInstance.objects.create(
            project=research, name="box", display_name="Box", connection="local"
        )
        return
    with ssh_hosts(1, tmp_path / "hosts") as (host,):
        yield register(research, host, bob)


def outputs(service: Service) -> dict[str, str]:
    service.refresh_from_db()
    return {o["name"]: o.get("value") for o in service.outputs}


def run_queued(service: Service) -> Run:
    run = service.runs.get(state="queued")
    assert execute_run.call(run.pk) == "succeeded", Run.objects.get(pk=run.pk).log
    run.refresh_from_db()
    service.refresh_from_db()
    return run


def test_a_service_runs_its_pinned_commit_whatever_is_pushed_after(
    system, research, dave, bob, origin, instance
):
    first = origin.git("rev-parse", "HEAD", cwd=origin.work)
    apply_document(system, template_document(origin.url, {}))
    v1 = TemplateVersion.objects.get(template__name="notebook", name="v1")
    assert v1.code_commit == first
    v1.outputs.create(name="said", description="What the code said")
    profile = make_profile(research, "nb", version=v1, actor=dave, status="ready")

    old = compute.launch(project=research, actor=bob, profile=profile, name="old",
                         instance=instance, submitted={})  # fmt: skip
    assert old.code_revision == first
    deployed = run_queued(old)
    assert "deploying one" in deployed.log and "first note" in deployed.log
    assert outputs(old) == {"said": "one"}

    # A new commit on main: the running service, and a redeploy of it, keep the old one.
    second = origin.commit({"notebook/paas.sh": entry("two"), "notebook/NOTE": "second note\n"})
    compute.redeploy(service=old, actor=bob)
    again = run_queued(old)
    assert "deploying one" in again.log and "first note" in again.log
    assert "two" not in again.log
    assert (old.code_revision, outputs(old)) == (first, {"said": "one"})

    # A version activated now pins the new commit, and a launch on it runs that.
    apply_document(system, template_document(origin.url, {}, {}))
    v2 = TemplateVersion.objects.get(template__name="notebook", name="v2")
    assert (v2.code_commit, TemplateVersion.objects.get(pk=v1.pk).code_commit) == (second, first)
    v2.outputs.create(name="said", description="What the code said")
    newer = make_profile(research, "nb-two", version=v2, actor=dave, status="ready")
    new = compute.launch(project=research, actor=bob, profile=newer, name="new",
                         instance=instance, submitted={})  # fmt: skip
    assert new.code_revision == second
    assert "deploying two" in run_queued(new).log
    assert outputs(new) == {"said": "two"}

    # And the old service is destroyed by its own commit's code.
    compute.destroy(service=old, actor=bob)
    assert "destroying one" in run_queued(old).log


def test_code_that_cannot_be_fetched_fails_the_run_saying_why(
    system, research, dave, bob, origin, instance, tmp_path, settings
):
    apply_document(system, template_document(origin.url, {}))
    version = TemplateVersion.objects.get(template__name="notebook", name="v1")
    profile = make_profile(research, "nb", version=version, actor=dave, status="ready")
    service = compute.launch(project=research, actor=bob, profile=profile, name="gone",
                             instance=instance, submitted={})  # fmt: skip
    # A worker on another machine (a cache of its own) finds the repository gone.
    settings.COMPUTE_CODE_CACHE = str(tmp_path / "worker-code")
    origin.bare.rename(tmp_path / "moved.git")
    run = service.runs.get()
    assert execute_run.call(run.pk) == "failed"
    run.refresh_from_db()
    assert "cannot be reached" in run.error, run.error
    assert run.error in run.log
