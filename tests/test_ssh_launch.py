"""Launching onto real SSH compute instances (SPEC §8): OpenSSH's sshd in network namespaces.

Each test starts its own hosts (tests/sshhosts.py): ``host-a`` and ``host-b``, each an sshd in
a network namespace of its own behind a veth link, with its own host key, an authorized key the
test made, and a home of its own. Services run through real ``db_worker`` processes (or, where a
test looks at one run, ``execute_run`` in the test's own process). Nothing outside loopback and
those namespaces is ever addressed; every wait is bounded.
"""

import json
import subprocess
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from compute import services as compute
from compute.models import ComputeInstance, InstanceCheck, Run, Service
from compute.tasks import execute_run, run_check
from tests.factories import make_profile, make_template
from tests.sshhosts import SshHost, ssh_hosts
from tests.test_launching import with_code

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SECRET = "s3cret-Ω-'quoted' $(not run) \"and more\""

# Starts a detached server (a sleep with a name of its own), says whether it runs, stops it.
SCRIPT = """#!/bin/sh
set -e
case "$1" in
  deploy)
    echo "deploying $PAAS_SERVICE on $(hostname) with $PAAS_VAR_token"
    if [ -n "$PAAS_VAR_pause" ]; then echo pausing; sleep "$PAAS_VAR_pause"; fi
    if [ -f server.pid ] && kill -0 "$(cat server.pid)" 2>/dev/null; then
      echo "already running"
    else
      setsid nohup sleep "10$PAAS_VAR_marker" >server.log 2>&1 </dev/null &
      echo $! > server.pid
    fi
    echo "url=http://$(hostname):8888/$PAAS_SERVICE" >> "$PAAS_OUTPUTS"
    echo "token=$PAAS_VAR_token" >> "$PAAS_OUTPUTS"
    ;;
  destroy)
    if [ -f server.pid ]; then kill "$(cat server.pid)" 2>/dev/null || true; fi
    echo "destroyed $PAAS_SERVICE"
    ;;
  status)
    if [ -f server.pid ] && kill -0 "$(cat server.pid)" 2>/dev/null; then
      echo running
    else
      echo stopped
    fi
    ;;
esac
"""


@pytest.fixture
def hosts(tmp_path):
    with ssh_hosts(2, tmp_path / "hosts") as started:
        yield started


@pytest.fixture(autouse=True)
def _short_timeouts(settings):
    settings.COMPUTE_SSH_CONNECT_TIMEOUT = 2
    settings.COMPUTE_RUN_TIME_LIMIT = 30


@pytest.fixture
def version(system):
    return with_code(
        make_template(
            system,
            "sleeper",
            variables=[
                {"name": "marker", "value": "000"},
                {"name": "pause", "value": ""},
                {"name": "token", "value": "", "sensitive": True},
            ],
            outputs=[{"name": "url"}, {"name": "token", "sensitive": True}],
        ),
        SCRIPT,
    )


@pytest.fixture
def profile(research, version, dave):
    return make_profile(research, "sleeper", version=version, actor=dave, status="ready")


def register(project, host: SshHost, owner, **fields) -> ComputeInstance:
    values = {
        "connection": "ssh",
        "display_name": host.name,
        "host": host.address,
        "port": host.port,
        "username": host.username,
        "private_key": host.private_key,
        "host_key": host.host_key,
        **fields,
    }
    return ComputeInstance.objects.create(project=project, name=host.name, owner=owner, **values)


def launch(project, user, profile, instance, name, **submitted) -> Service:
    return compute.launch(
        project=project, actor=user, profile=profile, name=name, instance=instance,
        submitted=submitted,
    )  # fmt: skip


def wait_for(service: Service, *states: str, timeout: float = 30) -> Service:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.refresh_from_db()
        if service.state in states:
            return service
        time.sleep(0.1)
    runs = list(service.runs.values("action", "state", "error", "log"))
    raise AssertionError(f"{service.name} stayed {service.state}, not {states}: {runs}")


def workdir(host: SshHost, service: str) -> Path:
    return host.home / ".paas-studio" / "services" / "research" / service


def sleepers(host: SshHost, marker: str) -> list[str]:
    return [
        line
        for line in host.process_command_lines(this_host_only=True)
        if line.strip() == f"sleep 10{marker}"
    ]


# Acceptance 1: two hosts, deploy, outputs, destroy, checked on the hosts --------------------


def test_a_service_on_each_of_two_ssh_hosts_deploys_and_destroys_there(
    research, bob, profile, hosts, workers
):
    host_a, host_b = hosts  # in namespaces of their own, or on loopback ports (with a warning)
    workers("w1", COMPUTE_SSH_CONNECT_TIMEOUT="3")
    workers("w2", COMPUTE_SSH_CONNECT_TIMEOUT="3")
    box_a, box_b = register(research, host_a, bob), register(research, host_b, bob)
    on_a = launch(research, bob, profile, box_a, "on-a", marker="111", token="tok-a")
    on_b = launch(research, bob, profile, box_b, "on-b", marker="222", token="tok-b")

    for service, host, marker in ((on_a, host_a, "111"), (on_b, host_b, "222")):
        wait_for(service, "running", "failed")
        run = service.runs.get()
        assert (service.state, run.state, run.exit_code) == ("running", "succeeded", 0), run.log
        assert f"deploying {service.name} on {host.name} with ***" in run.log
        assert [(o["name"], o.get("value")) for o in service.outputs] == [
            ("url", f"http://{host.name}:8888/{service.name}"),
            ("token", None),  # sensitive: kept apart, encrypted
        ]
        assert json.loads(service.output_secrets) == {"token": f"tok-{host.name[-1]}"}
        # On the host: its working folder, the code copied into it, and the server running.
        folder = workdir(host, service.name)
        assert (folder / ".paas" / "entry").read_text() == SCRIPT
        assert (folder / "server.pid").is_file()
        assert folder.stat().st_mode & 0o777 == 0o700
        assert len(sleepers(host, marker)) == 1
    # Each host has only its own service.
    assert not workdir(host_a, "on-b").exists() and not workdir(host_b, "on-a").exists()
    assert sleepers(host_a, "222") == [] and sleepers(host_b, "111") == []

    for service in (on_a, on_b):
        compute.destroy(service=service, actor=bob)
    for service, host, marker in ((on_a, host_a, "111"), (on_b, host_b, "222")):
        wait_for(service, "destroyed", "failed")
        destroy = service.runs.get(action="destroy")
        assert (service.state, destroy.state) == ("destroyed", "succeeded"), destroy.log
        assert f"destroyed {service.name}" in destroy.log
        assert not workdir(host, service.name).exists()
        assert (host.home / ".paas-studio" / "services" / "research").is_dir()
        deadline = time.monotonic() + 5
        while sleepers(host, marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sleepers(host, marker) == []


# Acceptance 3: a sensitive value is in no command line, log or file outside the working folder


def test_a_sensitive_input_is_in_no_command_line_log_or_stray_file(
    research, bob, profile, hosts, workers, tmp_path
):
    host = hosts[0]
    workers("w1")
    box = register(research, host, bob)
    service = launch(research, bob, profile, box, "secretive", pause="3", token=SECRET)
    run = Run.objects.get(service=service)
    deadline = time.monotonic() + 20
    while "pausing" not in run.log and time.monotonic() < deadline:
        time.sleep(0.05)
        run.refresh_from_db()
    assert "pausing" in run.log, run.log
    # Mid-run: every process on this machine, the hosts' included.
    seen = [line for line in host.process_command_lines() if "pausing" not in line]
    assert any("sleep 3" in line for line in seen), "the run is in progress"
    assert not [line for line in seen if "s3cret" in line]

    wait_for(service, "running", "failed")
    run.refresh_from_db()
    assert run.state == "succeeded", run.log
    assert "s3cret" not in run.log and "with ***" in run.log
    # Every file the test's hosts, sandbox and logs hold, but the service's working folder.
    inside = workdir(host, service.name)
    stray = [
        path
        for path in tmp_path.rglob("*")
        if path.is_file() and not path.is_relative_to(inside) and b"s3cret" in path.read_bytes()
    ]
    assert stray == []
    assert "s3cret" in (inside / ".paas" / "outputs").read_text()  # where it belongs


# Acceptance 2: each connection problem has its own message, on the page and in the run -----


@pytest.fixture
def host(tmp_path):
    with ssh_hosts(1, tmp_path / "hosts") as started:
        yield started[0]


def connection_test(instance: ComputeInstance) -> InstanceCheck:
    """A "Test connection" of ``instance``, done as a worker does it."""
    check = compute.request_check(instance=instance, kind="test_connection", actor=None)
    assert run_check.call(check.pk) in {"succeeded", "failed"}
    check.refresh_from_db()
    return check


def deployed(research, bob, profile, instance, name) -> Run:
    service = launch(research, bob, profile, instance, name)
    run = service.runs.get()
    execute_run.call(run.pk)
    run.refresh_from_db()
    return run


def public_key(path: Path) -> str:
    return " ".join(path.read_text().split()[:2])


def other_type_of_key(tmp_path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(tmp_path / "ecdsa")], check=True
    )
    return public_key(tmp_path / "ecdsa.pub")


PROBLEMS = {
    "authentication": "The host refused the private key for {user}",
    "changed_host_key": "The host key of {where} has changed: it offered SHA256:",
    "unknown_host_key": "{where} offered a ssh-ed25519 host key (SHA256:",
    "refused": "{where} refused the connection: no SSH server listens on that port",
    "timeout": "{where} did not answer within 2 seconds",
}


@pytest.mark.parametrize("kind", PROBLEMS)
def test_each_connection_problem_has_its_own_message_and_fails_the_run(
    research, bob, profile, host, client, kind, tmp_path
):
    box = register(research, host, bob)
    assert connection_test(box).state == "succeeded"
    if kind == "authentication":
        box.private_key = host.other_private_key()
    elif kind == "changed_host_key":
        host.new_host_key()
    elif kind == "unknown_host_key":
        box.host_key = other_type_of_key(tmp_path)
    elif kind == "refused":
        host.stop_sshd()
    else:
        host.link_down()  # a silent host: nothing answers
    box.save()
    message = PROBLEMS[kind].format(user=host.username, where=f"{host.address}:{host.port}")

    started = time.monotonic()
    check = connection_test(box)
    assert time.monotonic() - started < 8, "bounded by the connect timeout"
    assert (check.state, check.problem) == ("failed", kind)
    assert check.error.startswith(message), check.error
    box.refresh_from_db()
    assert box.reachable is False
    client.force_login(bob)
    html = client.get(reverse("compute:instance", args=["research", box.name])).content.decode()
    assert f'data-problem="{kind}"' in html
    assert escape(check.error) in html

    run = deployed(research, bob, profile, box, "broken")
    assert run.state == "failed"
    assert run.error.startswith(message), run.error
    assert run.error in run.log
    assert Service.objects.get(name="broken").state == "failed"
    if kind in ("changed_host_key", "unknown_host_key"):
        assert "Nothing was sent." in run.error
        assert not (host.home / ".paas-studio").exists(), "nothing reached the host"


# Fetch host key: shown for a person to confirm, never trusted by itself -----------------------


def test_fetch_host_key_shows_the_fingerprint_and_trusts_only_when_confirmed(
    research, bob, profile, host, client
):
    box = register(research, host, bob, host_key="")
    run = deployed(research, bob, profile, box, "too-early")
    assert run.error == (
        "No host key is stored for this instance: fetch its key and confirm it first."
    )
    client.force_login(bob)
    page = reverse("compute:instance", args=["research", box.name])
    response = client.post(reverse("compute:instance_fetch_key", args=["research", box.name]))
    assert response["Location"] == page
    check = box.checks.get(kind="fetch_host_key")
    assert run_check.call(check.pk) == "succeeded"
    check.refresh_from_db()
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", str(host._dir / "ssh_host_ed25519_key.pub")],
        capture_output=True, text=True, check=True,
    ).stdout.split()[1]  # fmt: skip
    assert check.fingerprint == fingerprint
    assert check.result == host.host_key
    box.refresh_from_db()
    assert box.host_key == "", "fetching trusts nothing"
    html = client.get(page).content.decode()
    assert fingerprint in html and "I compared the fingerprint: trust this key" in html

    trust = reverse("compute:instance_trust_key", args=["research", box.name, check.pk])
    assert client.post(trust)["Location"] == page
    box.refresh_from_db()
    assert box.host_key == host.host_key
    assert "This is the trusted key." in client.get(page).content.decode()
    assert connection_test(box).state == "succeeded"


def test_a_fetched_key_is_not_trusted_once_the_address_changed(research, bob, host):
    box = register(research, host, bob, host_key="")
    check = compute.request_check(instance=box, kind="fetch_host_key", actor=bob)
    run_check.call(check.pk)
    check.refresh_from_db()
    ComputeInstance.objects.filter(pk=box.pk).update(port=host.port + 1)
    box.refresh_from_db()
    with pytest.raises(compute.CheckRefused, match="host or port changed"):
        compute.trust_host_key(instance=box, check=check)


# Acceptance 5: health checks see a stopped service and an unreachable host --------------------

INTERVAL = 2.0


def wait_until(predicate, timeout: float, what: str) -> float:
    """Seconds until ``predicate()`` held; AssertionError after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def test_health_checks_see_a_stopped_service_and_an_unreachable_host(
    research, bob, profile, host, workers, client
):
    workers(
        "w1",
        COMPUTE_HEALTH_INTERVAL=str(int(INTERVAL)),
        COMPUTE_SSH_CONNECT_TIMEOUT="1",
    )
    box = register(research, host, bob)
    service = launch(research, bob, profile, box, "watched", marker="333")
    wait_for(service, "running", "failed")
    assert service.state == "running", list(service.runs.values("log"))

    def state() -> str:
        service.refresh_from_db()
        return service.state

    wait_until(lambda: Service.objects.get(pk=service.pk).checked_at is not None, 10, "a check")
    # Stopped by hand on the host: seen within two check intervals.
    stopped = host.run("kill $(cat ~/.paas-studio/services/research/watched/server.pid)")
    assert stopped.returncode == 0, stopped.stderr
    took = wait_until(lambda: state() == "stopped", 2 * INTERVAL + 1, "stopped")
    assert took <= 2 * INTERVAL + 1
    event = service.events.filter(action="state_changed").first()
    assert event.detail == {"from": "running", "to": "stopped", "by": "health check"}
    assert event.actor is None

    client.force_login(bob)
    listing = client.get(reverse("compute:services", args=["research"])).content.decode()
    assert "Health checked" in listing
    assert (
        '<td class="d-none d-xl-table-cell small text-body-secondary" data-testid="checked-at">'
        '<time datetime="' in listing
    )
    page = client.get(reverse("compute:service", args=["research", "watched"])).content.decode()
    assert (
        '<span class="small text-body-secondary" data-testid="checked-at">health checked '
        "<time" in page
    )

    # Redeployed at its pinned revision: running again, one server.
    compute.redeploy(service=service, actor=bob)
    wait_until(lambda: state() == "running", 20, "running after the redeploy")
    assert len(sleepers(host, "333")) == 1

    # The host's network goes down: unreachable, not running; back when it is up again.
    host.link_down()
    wait_until(lambda: state() == "unreachable", 2 * INTERVAL + 3, "unreachable")
    event = service.events.filter(action="state_changed").first()
    assert (event.detail["to"], event.detail["by"]) == ("unreachable", "health check")
    assert "did not answer within 1 second" in event.detail["reason"]
    host.link_up()
    wait_until(lambda: state() == "running", 2 * INTERVAL + 3, "running again")


# Cancel: the code's process group is stopped, and destroy runs ------------------------------


def test_cancelling_a_deploy_stops_its_processes_and_destroys_it(
    research, bob, profile, host, workers
):
    workers("w1")
    box = register(research, host, bob)
    service = launch(research, bob, profile, box, "cancelled", pause="30", marker="444")
    run = Run.objects.get(service=service)
    wait_until(lambda: "pausing" in Run.objects.get(pk=run.pk).log, 20, "the deploy pausing")
    assert any(
        line.strip() == "sleep 30" for line in host.process_command_lines(this_host_only=True)
    )

    started = time.monotonic()
    compute.cancel_run(service=service, actor=bob)
    wait_for(service, "destroyed", "failed", timeout=20)
    assert time.monotonic() - started < 10, "stopped at once, not at the time limit"
    run.refresh_from_db()
    assert (run.state, run.error) == (
        "failed",
        "The run was cancelled and its processes were stopped.",
    )
    destroy = service.runs.get(action="destroy")
    assert (service.state, destroy.state) == ("destroyed", "succeeded"), destroy.log
    assert not [
        line
        for line in host.process_command_lines(this_host_only=True)
        if line.strip() == "sleep 30"
    ]
    assert sleepers(host, "444") == []  # the deploy never got as far as starting it
    assert not workdir(host, "cancelled").exists()
    actions = list(service.events.order_by("created_at", "pk").values_list("action", flat=True))
    assert "cancel_requested" in actions
