"""The page frame in a real browser: logging in and out, the project switcher, the left menu,
the error pages, the skip link and the superuser's way into the Django admin (SPEC §2, §5).

Everything is found the way a person finds it: by role, label and visible text.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LOGIN_URL = re.compile(r"/accounts/login/(\?.*)?$")


def project_url(name: str) -> re.Pattern:
    return re.compile(rf"/projects/{name}/$")


def switcher_links(page: Page):
    """The entries of the project switcher's menu."""
    return page.locator("[aria-labelledby='project-switcher']").get_by_role("link")


def project_menu(page: Page):
    return page.get_by_role("navigation", name="Project menu")


@pytest.mark.parametrize(
    ("username", "project", "display_name"),
    [
        ("alice", "platform", "Platform"),
        ("dave", "research", "Research"),
        ("bob", "research", "Research"),
        ("carol", "finance", "Finance"),
        ("admin", "finance", "Finance"),
    ],
)
def test_each_user_lands_on_their_first_project(
    page: Page, login, cast, username, project, display_name
):
    login(cast[username])

    expect(page).to_have_url(project_url(project))
    expect(page.get_by_role("heading", level=1)).to_have_text(display_name)
    expect(page).to_have_title(f"{display_name} · PaaS Studio")
    expect(page.get_by_role("button", name=f"Project: {display_name}")).to_be_visible()


def test_login_page_and_wrong_password(page: Page, login, alice, screenshot):
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="PaaS Studio")).to_be_visible()
    screenshot("login")

    login("alice", "not-the-password", expect_success=False)

    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    screenshot("login-wrong-password")


def test_switcher_lists_every_project_to_a_superuser_and_switches(
    page: Page, login, superuser, screenshot
):
    login(superuser)
    expect(page).to_have_url(project_url("finance"))

    switcher = page.get_by_role("button", name="Project: Finance")
    switcher.click()
    expect(switcher).to_have_attribute("aria-expanded", "true")
    expect(switcher_links(page)).to_have_text(
        ["Finance finance", "Platform platform", "Research research"]
    )
    expect(switcher_links(page).filter(has_text="Finance")).to_have_attribute(
        "aria-current", "true"
    )
    screenshot("project-switcher")

    switcher_links(page).filter(has_text="Research").click()

    expect(page).to_have_url(project_url("research"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Research")
    expect(page.get_by_role("button", name="Project: Research")).to_be_visible()


def test_switcher_lists_exactly_the_users_projects(page: Page, login, projects):
    erin = make_user("erin", research="admin", finance="member")
    login(erin)
    expect(page).to_have_url(project_url("finance"))
    expect(page.get_by_text("Member", exact=True)).to_be_visible()

    page.locator("#project-switcher").click()
    expect(switcher_links(page)).to_have_text(["Finance finance", "Research research"])

    switcher_links(page).filter(has_text="Research").click()

    expect(page).to_have_url(project_url("research"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Research")
    expect(page.get_by_text("Admin", exact=True)).to_be_visible()
    expect(project_menu(page).get_by_role("link", name="Members")).to_be_visible()


def test_admin_sees_members_in_the_menu_and_opens_the_page(
    page: Page, login, alice, notebook_version, screenshot
):
    login(alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Platform")
    expect(page.get_by_role("cell", name="Jupyter Notebook")).to_be_visible()
    expect(project_menu(page).get_by_role("link", name="Overview")).to_have_attribute(
        "aria-current", "page"
    )
    screenshot("overview")

    project_menu(page).get_by_role("link", name="Members").click()

    expect(page).to_have_url(re.compile(r"/projects/platform/members/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    expect(project_menu(page).get_by_role("link", name="Members")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("cell", name="alice", exact=True)).to_be_visible()
    screenshot("members")


def test_member_has_no_members_link_and_gets_403_by_address(
    page: Page, login, bob, dave, screenshot
):
    login(bob)
    expect(page.get_by_role("heading", level=1)).to_have_text("Research")
    expect(project_menu(page).get_by_role("link", name="Overview")).to_be_visible()
    expect(project_menu(page).get_by_role("link", name="Members")).to_have_count(0)

    response = page.goto("/projects/research/members/")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not open this page")
    expect(page).to_have_title("Not allowed · PaaS Studio")
    expect(page.get_by_role("cell", name="dave")).to_have_count(0)
    screenshot("403")


def test_outsider_gets_a_404_that_does_not_name_the_project(page: Page, login, carol, screenshot):
    login(carol)
    expect(page.get_by_role("heading", level=1)).to_have_text("Finance")

    for path in ("/projects/research/", "/projects/research/members/"):
        response = page.goto(path)

        assert response is not None
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        expect(page.locator("body")).not_to_contain_text(re.compile("research", re.IGNORECASE))
    page.locator("#project-switcher").click()
    expect(switcher_links(page)).to_have_text(["Finance finance"])
    screenshot("404")


def test_user_without_a_project_is_told_so(page: Page, login, projects, screenshot):
    login(make_user("loner"))

    expect(page.get_by_role("heading", level=1)).to_have_text("You are not in any project yet")
    expect(page.get_by_role("navigation", name="Project menu")).to_have_count(0)
    page.locator("#project-switcher").click()
    expect(page.get_by_text("You belong to no project yet.")).to_be_visible()
    screenshot("no-project")


def test_log_out_from_the_user_menu_with_the_keyboard(page: Page, login, alice):
    login(alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Platform")

    user_menu = page.get_by_role("button", name="alice", exact=True)
    user_menu.focus()
    page.keyboard.press("Enter")
    expect(user_menu).to_have_attribute("aria-expanded", "true")
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    # Log out is the menu's last item: from the toggle, ArrowUp wraps round to it.
    page.keyboard.press("ArrowUp")
    expect(log_out).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_url(LOGIN_URL)
    expect(page.get_by_label("Username")).to_be_visible()
    expect(page.get_by_role("button", name="alice", exact=True)).to_have_count(0)

    page.goto("/projects/platform/")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/projects/platform/$"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_skip_link_is_the_first_stop_and_moves_focus_to_main(page: Page, login, alice):
    login(alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("Platform")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).not_to_be_in_viewport()

    page.keyboard.press("Tab")

    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()


def test_superuser_reaches_the_django_admin_from_the_user_menu(page: Page, login, superuser):
    login(superuser)
    expect(page.get_by_role("heading", level=1)).to_have_text("Finance")

    page.get_by_role("button", name="admin", exact=True).click()
    expect(page.get_by_text("Signed in as admin (superuser)")).to_be_visible()
    page.get_by_role("link", name="Django admin").click()

    page.wait_for_url(re.compile(r"/admin/$"))
    expect(
        page.get_by_role("heading", name="Projects, templates and service profiles")
    ).to_be_visible()
    expect(page.get_by_role("link", name="PaaS Studio administration")).to_be_visible()


def test_members_do_not_see_django_admin(page: Page, login, dave):
    login(dave)
    page.get_by_role("button", name="dave", exact=True).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_role("link", name="Django admin")).to_have_count(0)


def test_skip_link_on_the_login_page_moves_focus_to_main(page: Page, db):
    page.goto("/accounts/login/")
    expect(page.get_by_label("Username")).to_be_focused()  # autofocus

    page.keyboard.press("Shift+Tab")

    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused(timeout=1000)
