"""SSH compute instances in a real browser, with real workers and a real sshd (SPEC §8).

bob registers ``host-a`` (an sshd in a network namespace, tests/sshhosts.py) through the form
with no host key, fetches the key, compares its fingerprint with the host's own and trusts it,
then tests the connection; he launches a profile onto a trusted instance and cancels its deploy,
which is destroyed and leaves nothing running on the host; and with the host's sshd stopped,
Test connection says the connection was refused. Every result appears without reloading the
page (a marker set on ``window`` survives), and every wait is bounded.
"""

import re
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_profile
from tests.sshhosts import SshHost, ssh_hosts
from tests.test_ssh_launch import register, version  # noqa: F401 (version: a fixture)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WAIT = 30_000  # ms: generous, bounded
WORKER_SETTINGS = {"COMPUTE_SSH_CONNECT_TIMEOUT": "2"}
PAUSE = "20"
API = "/apis/paas.envmgmt.io/v1/projects/research"


@pytest.fixture
def hosts_root(tmp_path) -> Path:
    return tmp_path / "hosts"


@pytest.fixture
def host(hosts_root):
    with ssh_hosts(1, hosts_root) as started:
        yield started[0]


@pytest.fixture
def pausing_profile(research, version, dave):
    """A ready profile of research whose deploy prints "pausing" and then sleeps 20 s."""
    return make_profile(
        research,
        "slow-sleeper",
        display_name="Slow Sleeper",
        version=version,
        actor=dave,
        status="ready",
        inputs={
            "pause": {"value": PAUSE, "override": "notallowed"},
            "marker": {"value": "555", "override": "notallowed"},
            "token": {"value": "tok-slow", "override": "notallowed"},
        },
    )


def fingerprint_of(public_key_file: Path) -> str:
    """What ``ssh-keygen -lf`` says the key's fingerprint is (SHA256:…)."""
    listed = subprocess.run(
        ["ssh-keygen", "-lf", str(public_key_file)], capture_output=True, text=True, check=True
    )
    return listed.stdout.split()[1]


def mark_page(page: Page) -> None:
    """Set a marker that a reload (or any navigation) would lose."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"


def assert_polling_stopped(page: Page, part: str, path: str, quiet_for: float = 0) -> None:
    """The live ``part`` no longer asks for itself (and, for ``quiet_for`` seconds, no request
    for ``path`` is made)."""
    expect(page.get_by_test_id(part)).not_to_have_attribute("hx-trigger", re.compile("."))
    if quiet_for:
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.wait_for_timeout(quiet_for * 1000)
        assert [url for url in asked if url.endswith(path)] == [], "it still polls"


def submit(page: Page, button, *, keyboard: bool = False) -> None:
    """Click ``button`` (or focus it and press Enter) and wait for the page it posts to load."""
    with page.expect_navigation(wait_until="load"):
        if keyboard:
            button.focus()
            expect(button).to_be_focused()
            page.keyboard.press("Enter")
        else:
            button.click()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.05)


def instance_page(host: SshHost) -> re.Pattern:
    return re.compile(rf"/projects/research/compute-instances/{host.name}/$")


# 1. Register, fetch the host key, trust it, test the connection ------------------------------


def test_bob_registers_an_instance_trusts_its_fetched_key_and_tests_it(
    page: Page, login, screenshot, research, bob, host, hosts_root, workers
):
    login("bob")
    page.goto("/projects/research/compute-instances/")
    page.get_by_role("link", name="Register compute instance").first.click()
    page.get_by_label("Unique Name").fill(host.name)
    page.get_by_label("Display Name").fill("Host A (lab)")
    page.get_by_label("SSH").check()
    page.get_by_label("Host", exact=True).fill(host.address)
    page.get_by_label("Port").fill(str(host.port))
    page.get_by_label("Username").fill(host.username)
    page.get_by_label("Private key").fill(host.private_key)
    expect(page.get_by_label("Host key")).to_have_value("")
    submit(page, page.get_by_role("button", name="Register"))

    expect(page).to_have_url(instance_page(host))
    expect(page.get_by_role("heading", name="Host A (lab)")).to_be_visible()
    expect(page.get_by_text("not trusted yet")).to_be_visible()
    expect(page.get_by_test_id("no-host-key")).to_contain_text("No host key is trusted yet")

    # No worker yet: the page must show the fetch in progress, then the result by polling.
    submit(page, page.get_by_role("button", name="Fetch host key"))
    expect(page).to_have_url(instance_page(host))
    expect(page.get_by_test_id("fetch-state")).to_contain_text(
        f"Asking {host.address}:{host.port} for its key"
    )
    mark_page(page)
    workers("w", **WORKER_SETTINGS)
    fingerprint = page.get_by_test_id("fingerprint")
    expect(fingerprint).to_be_visible(timeout=WAIT)
    expected = fingerprint_of(hosts_root / host.name / "ssh_host_ed25519_key.pub")
    assert fingerprint.inner_text().strip() == expected
    assert_not_reloaded(page)
    expect(page.get_by_text("not trusted yet")).to_be_visible()  # fetching trusts nothing
    screenshot("ssh-instance-fingerprint")

    # Trusted by keyboard: the button is reachable and works with Enter.
    trust = page.get_by_role("button", name="I compared the fingerprint: trust this key")
    submit(page, trust, keyboard=True)
    expect(page.get_by_text("This is the trusted key.")).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(f"Trusted the host key {expected} for {host.name}.")).to_be_visible()
    expect(page.get_by_test_id("no-host-key")).to_have_count(0)
    expect(page.get_by_text("not trusted yet")).to_have_count(0)

    submit(page, page.get_by_role("button", name="Test connection"))
    expect(page).to_have_url(instance_page(host))
    mark_page(page)
    checks = page.get_by_test_id("checks")
    expect(checks.get_by_test_id("test-state")).to_contain_text("Reachable", timeout=WAIT)
    uname = host.run("uname -a").stdout.strip()
    assert "host-a" in uname.split()
    expect(checks.locator("pre.probe-output")).to_contain_text(uname)
    expect(checks.get_by_test_id("test-error")).to_have_count(0)
    assert_not_reloaded(page)
    assert_polling_stopped(page, "checks", f"/compute-instances/{host.name}/", quiet_for=1.5)
    screenshot("ssh-instance-tested")


# 2. Launch onto it, cancel the deploy: destroyed, nothing left on the host --------------------


def sleeps(host: SshHost) -> list[str]:
    return [
        line
        for line in host.process_command_lines(this_host_only=True)
        if line.strip() == f"sleep {PAUSE}"
    ]


def test_bob_cancels_a_deploy_onto_an_ssh_instance_and_it_is_destroyed(
    page: Page, login, screenshot, research, bob, host, pausing_profile, workers
):
    register(research, host, bob)  # trusted: its host key is stored
    workers("w", **WORKER_SETTINGS)
    login("bob")
    page.goto("/projects/research/catalog/")
    page.get_by_role("link", name="Slow Sleeper").first.click()
    page.get_by_role("link", name="Launch").click()
    page.get_by_label("Service name").fill("slow-one")
    page.get_by_label("Compute instance").select_option(label=f"{host.name} ({host.name})")
    submit(page, page.get_by_role("button", name="Launch"))
    expect(page).to_have_url(re.compile(r"/projects/research/services/slow-one/$"))

    mark_page(page)
    state = page.get_by_test_id("state")
    log = page.get_by_test_id("log")
    expect(state).to_have_text(re.compile("Pending|Deploying"))
    expect(state).to_have_text("Deploying", timeout=WAIT)
    expect(log).to_contain_text("pausing", timeout=WAIT)
    expect(log).to_contain_text(f"deploying slow-one on {host.name} with ***")
    assert_not_reloaded(page)
    wait_until(lambda: len(sleeps(host)) == 1, 5, f"one sleep {PAUSE} on the host")
    screenshot("ssh-deploy-pausing")

    started = time.monotonic()
    submit(page, page.get_by_role("button", name="Cancel deploy"))
    expect(page.get_by_text("Cancelling the deploy of slow-one.")).to_be_visible()
    mark_page(page)
    expect(state).to_have_text("Destroyed", timeout=WAIT)
    assert time.monotonic() - started < 15, "stopped at once, not when the sleep ended"
    # The page shows the destroy that followed, and who asked for the cancel.
    expect(log).to_contain_text("destroyed slow-one")
    assert_polling_stopped(page, "live", "/services/slow-one/")
    expect(page.get_by_role("heading", name="Destroy log")).to_be_visible()
    events = page.get_by_role("region", name="Events")
    expect(events).to_contain_text("Cancel requested · bob")
    assert_not_reloaded(page)
    screenshot("ssh-deploy-cancelled")
    # The deploy's own run, as the API gives it to the signed-in browser: cancelled, said so.
    answer = page.request.get(f"{API}/services/slow-one/runs/")
    assert answer.ok, answer.text()
    runs = {item["action"]: item for item in answer.json()["items"]}
    cancelled = "The run was cancelled and its processes were stopped."
    assert (runs["deploy"]["state"], runs["deploy"]["error"]) == ("failed", cancelled)
    assert cancelled in runs["deploy"]["log"] and "pausing" in runs["deploy"]["log"]
    assert runs["destroy"]["state"] == "succeeded"
    wait_until(lambda: sleeps(host) == [], 5, f"no sleep {PAUSE} left on the host")


# 3. The host's sshd stopped: Test connection says the connection was refused ----------------


def test_test_connection_says_refused_once_the_host_sshd_is_stopped(
    page: Page, login, screenshot, research, bob, host, workers
):
    register(research, host, bob)  # trusted: its host key is stored
    workers("w", **WORKER_SETTINGS)
    login("bob")
    page.goto(f"/projects/research/compute-instances/{host.name}/")
    expect(page.get_by_text("Never tested.")).to_be_visible()
    test_connection = page.get_by_role("button", name="Test connection")
    submit(page, test_connection)
    expect(page.get_by_test_id("test-state")).to_contain_text("Reachable", timeout=WAIT)

    host.stop_sshd()
    submit(page, test_connection, keyboard=True)
    mark_page(page)
    error = page.get_by_test_id("test-error")
    expect(error).to_have_attribute("data-problem", "refused", timeout=WAIT)
    expect(error).to_contain_text(
        f"{host.address}:{host.port} refused the connection: no SSH server listens on that port"
    )
    expect(page.get_by_test_id("test-state")).to_contain_text("Unreachable")
    expect(page.locator("pre.probe-output")).to_have_count(0)
    assert_not_reloaded(page)
    assert_polling_stopped(page, "checks", f"/compute-instances/{host.name}/")
    screenshot("ssh-instance-refused")
