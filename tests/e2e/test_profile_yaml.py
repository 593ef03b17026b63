"""As code in the Studio, in a real browser (issue 12): the profile view's View YAML tab shows
the document the API serves, Copy puts it on the clipboard, Download YAML saves it as a file;
a revision's document downloads from its page. Screenshots go to
test-results/screenshots/studio-yaml-*.png.
"""

import re
from pathlib import Path

import pytest
import yaml
from django.urls import reverse
from playwright.sync_api import Page, expect

from profiles import services
from tests.e2e.test_accessibility import AXE, BLOCKING, WCAG_TAGS, describe
from tests.factories import make_profile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PROFILES = "/projects/platform/studio/service-profiles/"
SECRET = "hf_profile_secret"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def profile(platform, research, alice, notebook_version):
    """alice's ready team-notebook, shared with research, its secret set, at revision 2."""
    profile = make_profile(
        platform,
        "team-notebook",
        display_name="Team Notebook",
        description="GPU notebook with the team's libraries.",
        version=notebook_version,
        status="ready",
        readme="# Team Notebook\n\nJupyterLab on a GPU.\n",
        labels={"team": "ml"},
        sharing="selected",
        shared_with=[research],
        inputs={"hf_token": {"value": SECRET}},
        actor=alice,
    )
    services.save_general(
        profile=profile,
        actor=alice,
        expected_revision=1,
        changes={"display_name": "Team Notebook 2"},
    )
    return profile


def api_document(page: Page, name: str = "team-notebook") -> dict:
    """The profile's document as the API answers the signed-in user (the page's cookies)."""
    response = page.request.get(reverse("api:profile", args=["platform", name]))
    assert response.ok
    return response.json()


def axe_blocking_in_main(page: Page) -> list[dict]:
    """axe's serious and critical violations in the page's own content (``<main>``); the frame
    around it is tests/e2e/test_accessibility.py's."""
    page.add_script_tag(path=AXE)
    violations = page.evaluate(
        """async (tags) => {
            const results = await axe.run(
                {include: [["#main"]]}, {runOnly: {type: "tag", values: tags}});
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map((n) => ({
                    target: n.target, html: n.html, summary: n.failureSummary,
                })),
            }));
        }""",
        WCAG_TAGS,
    )
    return [v for v in violations if v["impact"] in BLOCKING]


def has_no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_view_yaml_shows_copies_and_downloads_the_apis_document(
    page: Page, login, alice, profile, screenshot
):
    page.set_viewport_size(DESKTOP)
    login(alice)
    page.goto(f"{PROFILES}team-notebook/")
    tabs = page.get_by_role("navigation", name="Profile views")
    expect(tabs.get_by_role("link", name="Details")).to_have_attribute("aria-current", "page")
    screenshot("studio-yaml-details-tab")

    tabs.get_by_role("link", name="View YAML").click()
    expect(page).to_have_url(re.compile(rf"{PROFILES}team-notebook/yaml/$"))
    expect(tabs.get_by_role("link", name="View YAML")).to_have_attribute("aria-current", "page")
    document = page.locator("#profile-yaml")
    expect(document).to_contain_text("kind: ServiceProfile")
    expected = api_document(page)
    assert yaml.safe_load(document.inner_text()) == expected
    assert expected["metadata"]["displayName"] == "Team Notebook 2"
    assert SECRET not in page.content()
    # Highlighted: the keys are marked up as tags, in the highlighting's colour.
    expect(document.locator(".nt").first).to_have_text("apiVersion")
    expect(document.locator(".nt").first).not_to_have_css("color", "rgb(33, 37, 41)")
    screenshot("studio-yaml-tab")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert yaml.safe_load(page.evaluate("navigator.clipboard.readText()")) == expected

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download YAML").click()
    download = download_info.value
    assert download.suggested_filename == "platform-team-notebook.yaml"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert yaml.safe_load(text) == expected
    assert SECRET not in text

    page.set_viewport_size(PHONE)
    expect(document).to_be_visible()
    assert has_no_horizontal_scroll(page)
    screenshot("studio-yaml-tab-phone")
    page.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", name="Revisions")).to_be_visible()
    screenshot("studio-yaml-details-tab-phone")


def test_a_revisions_document_downloads_from_its_page(
    page: Page, login, alice, profile, screenshot
):
    page.set_viewport_size(DESKTOP)
    login(alice)
    page.goto(f"{PROFILES}team-notebook/revisions/1/")
    document = page.get_by_role("region", name="Document")
    expect(document).to_contain_text("displayName: Team Notebook")
    screenshot("studio-yaml-revision")

    with page.expect_download() as download_info:
        document.get_by_role("link", name="Download YAML of revision 1").click()
    download = download_info.value
    assert download.suggested_filename == "platform-team-notebook-revision-1.yaml"
    saved = yaml.safe_load(Path(download.path()).read_text(encoding="utf-8"))
    assert saved == profile.revisions.get(number=1).document
    assert saved["metadata"]["displayName"] == "Team Notebook"

    page.set_viewport_size(PHONE)
    expect(document.get_by_role("link", name="Download YAML of revision 1")).to_be_visible()
    screenshot("studio-yaml-revision-phone")


@pytest.mark.browser_context_args(bypass_csp=True)  # axe is injected as an inline script
def test_the_yaml_pages_have_no_serious_axe_violations(
    page: Page, login, alice, profile, screenshot
):
    login(alice)
    yaml_tab, revision = f"{PROFILES}team-notebook/yaml/", f"{PROFILES}team-notebook/revisions/2/"
    refused = f"{PROFILES}export.yaml?name=no-such-profile"
    for path, heading, size in [
        (yaml_tab, "ServiceProfile document", DESKTOP),
        (yaml_tab, "ServiceProfile document", PHONE),
        (revision, "Document", DESKTOP),
        (revision, "Document", PHONE),
        (refused, "Nothing was exported", DESKTOP),
        (refused, "Nothing was exported", PHONE),
    ]:
        page.set_viewport_size(size)
        page.goto(path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        blocking = axe_blocking_in_main(page)
        assert not blocking, f"{path} at {size}: {describe(blocking)}"
        if path == refused:
            assert has_no_horizontal_scroll(page)
            screenshot(f"studio-yaml-export-refused-{size['width']}")


def test_the_list_exports_the_selected_profiles(page: Page, login, profile):
    """Export on the Studio list downloads the ticked profiles, as `manage.py export` would."""
    login("alice")
    page.goto("/projects/platform/studio/service-profiles/")
    first = page.locator("input[name=name][form=export-form]").first
    chosen = first.get_attribute("value")
    first.check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    assert download.value.suggested_filename == "platform-service-profiles.yaml"
    documents = list(yaml.safe_load_all(Path(download.value.path()).read_text()))
    assert [d["metadata"]["name"] for d in documents] == [chosen]
