"""Launching the demo data in a real browser, with a real worker (SPEC §7, §8): bob launches
the Web File Server from the catalog onto ``demo-workstation``, watches it go to running without
reloading, opens the URL it serves, destroys it and sees it destroyed; the Jupyter Notebook,
on a machine without jupyter-lab, shows failed with the line that says why."""

import io
import re
import shutil
import urllib.error
import urllib.request

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def demo(db):
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())


def launch_from_catalog(page: Page, profile: str, service: str, screenshot=None) -> None:
    page.goto("/projects/research/catalog/")
    page.get_by_role("link", name=profile).first.click()
    page.get_by_role("link", name="Launch").click()
    page.get_by_label("Service name").fill(service)
    page.get_by_label("Compute instance").select_option(label="Demo workstation (demo-workstation)")
    if screenshot:
        screenshot("launch-form")
    page.get_by_role("button", name="Launch").click()
    expect(page).to_have_url(re.compile(rf"/projects/research/services/{service}/$"))


def test_bob_launches_uses_and_destroys_the_web_file_server(
    page: Page, login, screenshot, demo, workers
):
    workers("browser-worker")
    login("bob")
    launch_from_catalog(page, "Web File Server", "my-site", screenshot)
    state = page.get_by_test_id("state")
    expect(state).to_have_text(re.compile("Pending|Deploying|Running"))
    expect(state).to_have_text("Running", timeout=30_000)  # live: the page was not reloaded
    expect(page.get_by_test_id("log")).to_contain_text("Serving")
    url = page.locator("#output-url").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url)
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert "Hello from PaaS Studio" in answer.read().decode()
    screenshot("service-running")

    page.get_by_role("link", name="Destroy").click()
    expect(page.get_by_role("heading", name="Destroy my-site?")).to_be_visible()
    page.get_by_role("button", name="Destroy").click()
    expect(state).to_have_text("Destroyed", timeout=30_000)
    expect(page.get_by_test_id("log")).to_contain_text("The server is stopped.")
    screenshot("service-destroyed")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(url, timeout=2)

    menu = page.get_by_role("navigation", name="Project menu")
    menu.get_by_role("link", name="Services").click()
    expect(page.get_by_role("link", name="my-site")).to_be_visible()
    screenshot("service-list")
    menu.get_by_role("link", name="Compute Instances").click()
    page.get_by_role("link", name="demo-workstation").click()
    expect(page.get_by_role("heading", name="Demo workstation")).to_be_visible()
    screenshot("instance-detail")


@pytest.mark.skipif(bool(shutil.which("jupyter-lab")), reason="this machine has jupyter-lab")
def test_the_notebook_fails_on_a_machine_without_jupyter_and_says_why(
    page: Page, login, screenshot, demo, workers
):
    workers("browser-worker")
    login("bob")
    launch_from_catalog(page, "Jupyter Notebook", "my-lab")
    expect(page.get_by_test_id("state")).to_have_text("Failed", timeout=30_000)
    expect(page.get_by_test_id("log")).to_contain_text(
        "jupyter-lab not found on this compute instance"
    )
    expect(page.get_by_test_id("run-error")).to_have_text("The code exited with status 1.")
    screenshot("service-failed")
