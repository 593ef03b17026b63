"""Nothing typed is lost, in a real browser, as alice (admin of platform) (issue 12):

- a sensitive value refused for another field's error is kept for the next try, never shown;
- leaving a step with unsaved changes asks first: the page's own dialog for a link (menu,
  step), the browser's question for a reload; nothing asks once the changes are saved;
- a save on a profile deleted meanwhile says so and shows what was typed.

Screenshots go to test-results/screenshots/nothing-lost-*.png, at 1366x900 and 390x844.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from profiles import services
from profiles.models import ServiceProfile
from tests.e2e.conftest import SCREENSHOT_DIR
from tests.e2e.test_accessibility import AXE, BLOCKING, describe, run_axe
from tests.factories import make_profile, make_user


def assert_no_blocking_axe_violation(page: Page, name: str) -> None:
    """axe finds nothing serious on the page; loaded through the DevTools protocol, as the
    page's Content-Security-Policy (kept on here) refuses it as an inline script."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: serious/critical axe violations:\n{describe(blocking)}"


pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PROFILES = "/projects/platform/studio/service-profiles/"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TYPED = "hf_typed_in_the_browser"


@pytest.fixture
def admin(page: Page, login, alice) -> Page:
    page.set_viewport_size(DESKTOP)
    return login(alice)


@pytest.fixture
def ready_profile(platform, alice, notebook_version) -> ServiceProfile:
    return make_profile(
        platform,
        "team-notebook",
        version=notebook_version,
        actor=alice,
        display_name="Team Notebook",
        status=ServiceProfile.Status.READY,
        wizard_step=ServiceProfile.Step.SHARING,
    )


def input_setting(page: Page, variable: str):
    return page.get_by_role("group", name=re.compile(rf"^{variable}\b"))


def both_sizes(page: Page, screenshot, name: str, part=None) -> None:
    """Screenshots of the page as it is, at desktop and phone size (back at desktop after);
    of ``part`` too, a locator, to look at it closely."""
    for size, viewport in [("desktop", DESKTOP), ("phone", PHONE)]:
        page.set_viewport_size(viewport)
        screenshot(f"{name}-{size}")
        assert_no_blocking_axe_violation(page, f"{name}-{size}")
        if part is not None:
            part.screenshot(path=SCREENSHOT_DIR / f"{name}-{size}-part.png", animations="disabled")
    page.set_viewport_size(DESKTOP)


def test_a_secret_refused_for_another_field_is_kept_for_the_next_try(
    admin: Page, ready_profile, screenshot
):
    page = admin
    page.goto(f"{PROFILES}team-notebook/inputs/")
    token = input_setting(page, "hf_token").get_by_label("Default value")
    token.fill(TYPED)
    input_setting(page, "gpu_count").get_by_label("Default value").fill("many")
    page.get_by_role("button", name="Save Changes").click()

    # Refused for the GPU count: the secret box comes back empty, saying its value is kept.
    expect(input_setting(page, "gpu_count")).to_contain_text("“many” is not a number.")
    expect(token).to_have_value("")
    expect(input_setting(page, "hf_token")).to_contain_text(
        "kept from your last try, not saved yet. Leave empty to keep it, or type a new value."
    )
    assert TYPED not in page.content()
    both_sizes(page, screenshot, "nothing-lost-kept-secret", part=input_setting(page, "hf_token"))

    input_setting(page, "gpu_count").get_by_label("Default value").fill("2")
    page.get_by_role("button", name="Save Changes").click()
    expect(page).to_have_url(f"{PROFILES}team-notebook/")
    setting = ready_profile.inputs.get(name="hf_token")
    assert (setting.secret, setting.value) == (TYPED, "")


def test_a_link_away_from_unsaved_changes_asks_first_in_the_page(
    admin: Page, ready_profile, screenshot
):
    page = admin
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.goto(f"{PROFILES}team-notebook/general/")
    page.get_by_label("Display Name").fill("Typed, not saved")

    # A menu link, by the keyboard: the page asks, "Stay on this page" has the focus.
    menu_link = page.get_by_role("navigation", name="Project menu").get_by_role(
        "link", name="Service Profiles"
    )
    menu_link.focus()
    page.keyboard.press("Enter")
    question = page.get_by_role("dialog", name="Leave without saving?")
    expect(question).to_be_visible()
    expect(question.get_by_role("button", name="Stay on this page")).to_be_focused()
    both_sizes(page, screenshot, "nothing-lost-leave-dialog")
    page.keyboard.press("Escape")
    expect(question).to_be_hidden()
    expect(menu_link).to_be_focused()
    expect(page).to_have_url(f"{PROFILES}team-notebook/general/")
    expect(page.get_by_label("Display Name")).to_have_value("Typed, not saved")

    # A step link, and this time leave.
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Sharing").click()
    expect(question).to_be_visible()
    question.get_by_role("button", name="Leave without saving").click()
    expect(page).to_have_url(f"{PROFILES}team-notebook/sharing/")
    assert dialogs == [], "leaving through the page's own question asked the browser too"
    assert ServiceProfile.objects.get(pk=ready_profile.pk).display_name == "Team Notebook"


def test_a_reload_with_unsaved_changes_asks_the_browser_and_a_save_asks_nothing(
    admin: Page, ready_profile
):
    page = admin
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.goto(f"{PROFILES}team-notebook/general/")

    # Nothing changed: a link just goes, the reload just happens.
    page.reload()
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Sharing").click()
    expect(page).to_have_url(f"{PROFILES}team-notebook/sharing/")
    assert dialogs == []

    page.get_by_role("radio", name="All Projects").check()
    page.reload()  # the browser asks (beforeunload); the handler above lets it go on
    expect(page.get_by_role("radio", name="None")).to_be_checked()
    assert dialogs == ["beforeunload"]

    # Saving is no leaving: no question, and none on the page it lands on.
    page.get_by_role("radio", name="All Projects").check()
    page.get_by_role("button", name="Save Changes").click()
    expect(page).to_have_url(f"{PROFILES}team-notebook/")
    page.get_by_role("navigation", name="Project menu").get_by_role(
        "link", name="Service Profiles"
    ).click()
    expect(page).to_have_url(PROFILES)
    assert dialogs == ["beforeunload"]
    assert ServiceProfile.objects.get(pk=ready_profile.pk).sharing == "all"


def test_a_save_on_a_profile_deleted_meanwhile_shows_what_was_typed(
    admin: Page, platform, ready_profile, screenshot
):
    page = admin
    page.goto(f"{PROFILES}team-notebook/general/")
    erin = make_user("erin", platform="admin")
    services.delete_profile(profile=ServiceProfile.objects.get(pk=ready_profile.pk), actor=erin)

    page.get_by_label("Display Name").fill("Typed Before Saving")
    page.get_by_label("Description").fill("Words that must not be lost.")
    page.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("team-notebook was deleted")
    expect(page.get_by_text(re.compile(r"erin deleted it at .*while this page"))).to_be_visible()
    typed = page.get_by_role("region", name="What you typed on General")
    expect(typed).to_contain_text("Typed Before Saving")
    expect(typed).to_contain_text("Words that must not be lost.")
    both_sizes(page, screenshot, "nothing-lost-deleted-meanwhile")
