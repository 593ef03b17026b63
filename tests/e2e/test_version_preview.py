"""A template version change shows what it adds and removes before it is saved (htmx), then
lands on Input Settings to review (issue: one rule, one behaviour)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_profile
from tests.test_studio_wizard import version_two  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def ready(platform, notebook_version, alice):
    return make_profile(
        platform, "team-notebook", display_name="Team Notebook", version=notebook_version,
        status="ready", wizard_step="sharing", actor=alice,
    )  # fmt: skip


def test_a_version_change_is_previewed_then_reviewed_on_input_settings(
    page: Page, login, screenshot, ready, version_two
):
    login("alice")
    page.goto("/projects/platform/studio/service-profiles/team-notebook/general/")
    preview = page.get_by_test_id("version-preview")
    expect(preview).to_be_empty()
    page.get_by_label("Template version").select_option(label="v2")
    expect(preview).to_contain_text(
        "Input Settings: adds idle_timeout_minutes; removes enable_ssh, hf_token, region."
    )
    expect(preview).to_contain_text("Output Settings: adds none; removes token.")
    expect(preview).to_contain_text("Nothing changes until you save")
    screenshot("version-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("version-preview-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.get_by_role("button", name="Save Changes").click()
    expect(page).to_have_url(re.compile(r"/service-profiles/team-notebook/inputs/$"))
    expect(page.get_by_text("Input Settings now follow v2")).to_be_visible()
