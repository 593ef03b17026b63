"""Launching in a real browser, with a real worker (SPEC §8): bob launches a profile from the
catalog onto a local compute instance, watches it go to running without reloading, opens its
URL output (a small HTTP service the code started), destroys it and sees it destroyed; a profile
whose code fails shows failed, with the line that says why."""

import socket

import pytest
from playwright.sync_api import Page, expect

from profiles.models import TemplateVersion
from tests.factories import make_profile, make_template

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SERVER = """#!/bin/sh
set -e
case "$1" in
deploy)
  if [ -f server.pid ] && kill -0 "$(cat server.pid)" 2>/dev/null; then
    echo "already serving"
  else
    echo "<h1>Hello from $PAAS_SERVICE</h1>" > index.html
    setsid nohup python3 -m http.server "$PORT" --bind 127.0.0.1 >server.log 2>&1 </dev/null &
    echo $! > server.pid
  fi
  for i in $(seq 1 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/')" \\
      2>/dev/null && break
    sleep 0.1
  done
  echo "serving on port $PORT"
  echo "url=http://127.0.0.1:$PORT/" >> "$PAAS_OUTPUTS"
  ;;
destroy)
  if [ -f server.pid ]; then kill "$(cat server.pid)" 2>/dev/null || true; rm -f server.pid; fi
  echo "stopped the server"
  ;;
esac
"""

FAILING = """#!/bin/sh
echo "looking for jupyter-lab"
echo "jupyter-lab not found on this compute instance" >&2
exit 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def profile_with(research, system, dave, name: str, script: str, **extra):
    version = make_template(system, name, outputs=[{"name": "url"}])
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline=script
    )
    return make_profile(research, name, version=version, actor=dave, status="ready",
                        extra_config=extra)  # fmt: skip


def launch_from_catalog(page: Page, profile_name: str, service_name: str, screenshot=None):
    page.goto(f"/projects/research/catalog/research/{profile_name}/")
    page.get_by_role("link", name="Launch").click()
    page.get_by_label("Service name").fill(service_name)
    page.get_by_label("Compute instance").select_option(label="Demo workstation (demo-workstation)")
    if screenshot:
        screenshot("launch-form")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(
        f"{page.url.split('/projects/')[0]}/projects/research/services/{service_name}/"
    )


def test_bob_launches_uses_and_destroys_a_service(
    page: Page, login, screenshot, research, system, dave, bob, workstation, workers
):
    port = free_port()
    profile_with(research, system, dave, "hello-web", SERVER, PORT=str(port))
    workers("browser-worker")
    login(bob)
    launch_from_catalog(page, "hello-web", "my-web", screenshot)
    state = page.get_by_test_id("state")
    expect(state).to_have_text("Running", timeout=30_000)  # live: the page was not reloaded
    expect(page.get_by_test_id("log")).to_contain_text("serving on port")
    url = page.locator("#output-url")
    expect(url).to_have_text(f"http://127.0.0.1:{port}/")
    answer = page.request.get(f"http://127.0.0.1:{port}/")
    assert answer.ok and "Hello from my-web" in answer.text()
    screenshot("service-running")

    page.get_by_role("link", name="Destroy").click()
    expect(page.get_by_role("heading", name="Destroy my-web?")).to_be_visible()
    page.get_by_role("button", name="Destroy").click()
    expect(state).to_have_text("Destroyed", timeout=30_000)
    expect(page.get_by_test_id("log")).to_contain_text("stopped the server")
    screenshot("service-destroyed")
    menu = page.get_by_role("navigation", name="Project menu")
    menu.get_by_role("link", name="Services").click()
    expect(page.get_by_role("link", name="my-web")).to_be_visible()
    screenshot("service-list")
    menu.get_by_role("link", name="Compute Instances").click()
    page.get_by_role("link", name="demo-workstation").click()
    expect(page.get_by_role("heading", name="Demo workstation")).to_be_visible()
    screenshot("instance-detail")
    with pytest.raises(Exception):  # noqa: B017 - nothing answers there any more
        page.request.get(f"http://127.0.0.1:{port}/", timeout=2_000)


def test_a_failing_profile_shows_failed_with_the_reason(
    page: Page, login, screenshot, research, system, dave, bob, workstation, workers
):
    profile_with(research, system, dave, "lab", FAILING)
    workers("browser-worker")
    login(bob)
    launch_from_catalog(page, "lab", "my-lab")
    expect(page.get_by_test_id("state")).to_have_text("Failed", timeout=30_000)
    expect(page.get_by_test_id("log")).to_contain_text(
        "jupyter-lab not found on this compute instance"
    )
    expect(page.get_by_test_id("run-error")).to_have_text("The code exited with status 1.")
    screenshot("service-failed")
