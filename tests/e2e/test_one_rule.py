"""One rule, one behaviour, and the template admin, as a browser shows them (issue 12).

- a template-sensitive output is a ticked, disabled box with its reason, as an input is;
- Manage Sharing on a draft lands on the draft's step and says why;
- the Django admin edits restricted values one per line, and leads from a template to its
  versions' settings and back.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_profile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ready(platform, notebook_version, alice):
    return make_profile(
        platform, "team-notebook", display_name="Team Notebook", version=notebook_version,
        status="ready", wizard_step="sharing", actor=alice,
    )  # fmt: skip


def test_a_template_sensitive_output_is_locked_like_an_input(page: Page, login, ready, screenshot):
    login("alice")
    page.goto("/projects/platform/studio/service-profiles/team-notebook/outputs/")
    token = page.get_by_role("checkbox", name="Sensitive token")
    expect(token).to_be_checked()
    expect(token).to_be_disabled()
    expect(page.get_by_text("The template marks it sensitive.")).to_be_visible()
    url = page.get_by_role("checkbox", name="Sensitive url")
    expect(url).to_be_enabled()
    screenshot("outputs-sensitive-locked")


def test_manage_sharing_on_a_draft_says_why_it_lands_on_its_step(
    page: Page, login, platform, notebook_version, alice
):
    make_profile(platform, "early-draft", version=notebook_version, actor=alice)
    login("alice")
    page.goto("/projects/platform/studio/service-profiles/")
    row = page.locator("tr", has=page.get_by_role("link", name="early-draft"))
    row.get_by_role("button", name=re.compile("Actions")).click()
    row.get_by_role("link", name="Manage Sharing").click()
    expect(page).not_to_have_url(re.compile(r"/sharing/$"))
    expect(page.get_by_text(re.compile(r"Sharing comes after .* for a draft"))).to_be_visible()


def test_the_template_admin_edits_restricted_values_one_per_line(
    page: Page, login, superuser, notebook_version, screenshot
):
    login("admin")
    template = notebook_version.template
    page.goto(f"/admin/profiles/environmenttemplate/{template.pk}/change/")
    page.get_by_role("link", name=re.compile(r"^Edit \d+ variables and \d+ outputs$")).click()
    expect(page.get_by_role("link", name=re.compile(r"\(all its versions\)$"))).to_be_visible()
    box = page.locator("textarea[name$='-restricted_values']").first
    expect(box).to_have_value("pytorch\ntensorflow\nrapids")
    box.fill("pytorch\nrapids")
    screenshot("admin-restricted-values")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist, .errornote").first).to_be_visible()
    notebook_version.refresh_from_db()
    variable = notebook_version.variables.get(name="notebook_profile")
    assert variable.restricted_values == ["pytorch", "rapids"]
