"""Errors are findable, in a real browser, as alice (admin of platform) (issue 12): a form with
several errors opens with its summary focused, each of its links moves the focus to the control
to fix; each label error sits under its row; Display Name and Description count characters;
the delete page opens with its confirmation box focused.

Screenshots go to test-results/screenshots/error-summary-*.png, at 1366x900 and 390x844.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from profiles.models import ServiceProfile
from tests.e2e.test_accessibility import AXE, BLOCKING, describe, run_axe
from tests.factories import make_profile


def assert_no_blocking_axe_violation(page: Page, name: str) -> None:
    """axe finds nothing serious on the page; loaded through the DevTools protocol, as the
    page's Content-Security-Policy (kept on here) refuses it as an inline script."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: serious/critical axe violations:\n{describe(blocking)}"


pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

STUDIO = "/projects/platform/studio/"
PROFILES = f"{STUDIO}service-profiles/"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def admin(page: Page, login, alice) -> Page:
    page.set_viewport_size(DESKTOP)
    return login(alice)


def both_sizes(page: Page, screenshot, name: str) -> None:
    """Screenshots of the page as it is at desktop and phone size, each checked with axe."""
    for size, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        page.set_viewport_size(viewport)
        screenshot(f"{name}-{size}")
        assert_no_blocking_axe_violation(page, f"{name}-{size}")
    page.set_viewport_size(DESKTOP)


def test_the_error_summary_takes_the_focus_and_its_links_lead_to_the_fields(
    admin: Page, notebook_version, screenshot
):
    page = admin
    page.goto(f"{PROFILES}new/")
    page.get_by_label("Unique Name").fill("team-notebook")
    page.get_by_label("Icon URL").fill("ftp://example.com/icon.svg")
    page.get_by_label("Label 1 key").fill("bad key!")
    page.get_by_label("Label 1 value").fill("ml")
    page.get_by_role("button", name="Add label").click()
    page.get_by_label("Label 2 key").fill("tier")
    page.get_by_label("Label 2 value").fill("not ok!")
    page.get_by_role("button", name="Save & Continue").click()

    summary = page.get_by_role("region", name=re.compile(r"^Nothing was saved: fix these"))
    expect(summary).to_be_focused()
    items = summary.get_by_role("listitem")
    expect(items).to_have_count(6)  # display name, template, version, icon, two labels
    expect(items.nth(0)).to_have_text("Display Name: This field is required.")
    both_sizes(page, screenshot, "error-summary-general")

    summary.get_by_role("link", name=re.compile(r"^Labels, label 2:")).click()
    expect(page.get_by_label("Label 2 key")).to_be_focused()
    # The row's own error is right under it.
    expect(page.get_by_label("Label 2 key")).to_have_accessible_description(
        re.compile(r"“tier”: the value may hold letters")
    )
    summary.get_by_role("link", name=re.compile(r"^Display Name:")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Display Name")).to_be_focused()
    summary.get_by_role("link", name=re.compile(r"^Environment Template:")).click()
    expect(
        page.get_by_role("combobox", name=re.compile(r"^Environment Template\W*$"))
    ).to_be_focused()


def test_display_name_and_description_count_characters_as_one_types(admin: Page):
    page = admin
    page.goto(f"{PROFILES}new/")
    display_name = page.get_by_label("Display Name")
    display_name.press_sequentially("Team Notebook")
    counter = page.locator("#div_id_display_name .char-count")
    expect(counter).to_have_text("13 / 100")
    expect(display_name).to_have_accessible_description(re.compile(r"13 / 100$"))
    status = page.locator("#div_id_display_name [data-char-count-status]")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_text("13 of 100 characters used")
    page.get_by_label("Description").fill("x" * 2000)
    expect(page.locator("#div_id_description .char-count")).to_have_text("2000 / 2000")


def test_the_delete_page_opens_with_the_confirmation_box_focused(
    admin: Page, platform, alice, notebook_version, screenshot
):
    make_profile(
        platform, "team-notebook", version=notebook_version, actor=alice,
        display_name="Team Notebook", status=ServiceProfile.Status.READY,
    )  # fmt: skip
    page = admin
    page.goto(f"{PROFILES}team-notebook/delete/")
    expect(page.get_by_label("Type the unique name to confirm")).to_be_focused()
    both_sizes(page, screenshot, "error-summary-delete")


def test_the_clone_page_sums_up_why_it_cannot_clone(
    admin: Page, system, platform, alice, notebook_version, screenshot
):
    make_profile(
        system, "jupyter-notebook", version=notebook_version, display_name="Jupyter Notebook",
        status=ServiceProfile.Status.READY, sharing="all",
    )  # fmt: skip
    make_profile(platform, "taken", version=notebook_version, actor=alice)
    notebook_version.state = "disabled"
    notebook_version.save()
    page = admin
    page.goto(f"{STUDIO}system-profiles/jupyter-notebook/clone/")
    page.get_by_label("Unique Name").fill("taken")
    page.get_by_role("button", name="Clone").click()
    summary = page.get_by_role("region", name=re.compile(r"^Nothing was cloned"))
    expect(summary).to_be_focused()
    expect(summary.get_by_role("listitem").first).to_contain_text("cannot be cloned now")
    summary.get_by_role("link", name=re.compile(r"^Unique Name:")).click()
    expect(page.get_by_label("Unique Name")).to_be_focused()
    both_sizes(page, screenshot, "error-summary-clone")
