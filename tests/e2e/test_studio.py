"""PaaS Studio in a real browser, as alice (admin of platform): the four-step wizard, resuming a
draft, edit sections and revisions, the stale-edit refusal, Manage Sharing, delete, clone, the
list's search and filters, and the Actions menu from the keyboard (SPEC §3, §5).

Everything is found the way an admin finds it: by role, label and visible text. Screenshots of
the pages go to test-results/screenshots/studio-*.png.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from profiles.models import ServiceProfile
from tests.factories import PASSWORD, make_profile, make_user

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

STUDIO = "/projects/platform/studio/"
PROFILES = f"{STUDIO}service-profiles/"
NOTEBOOK_TEMPLATE = "Jupyter Notebook (jupyter-notebook) · System"


def profile_url(name: str, step: str = "") -> re.Pattern:
    """The URL of a profile's view page, or of one of its steps."""
    return re.compile(rf"{PROFILES}{name}/{step + '/' if step else ''}$")


def project_menu(page: Page):
    return page.get_by_role("navigation", name="Project menu")


def steps(page: Page, name: str = "Wizard steps"):
    return page.get_by_role("navigation", name=name)


def current_step(page: Page, name: str = "Wizard steps"):
    return steps(page, name).locator("[aria-current=step]")


def profile_row(page: Page, name: str):
    """The list's row of one profile (its first cell is the unique name)."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


def template_select(page: Page):
    # "Environment Template" is a prefix of "Environment Template Version": match it exactly.
    return page.get_by_role("combobox", name=re.compile(r"^Environment Template\W*$"))


def version_select(page: Page):
    return page.get_by_role("combobox", name=re.compile(r"^Environment Template Version\W*$"))


def input_setting(page: Page, variable: str):
    """One variable's fieldset on Input Settings, named by its legend."""
    return page.get_by_role("group", name=re.compile(rf"^{variable}\b"))


def open_actions(page: Page, name: str):
    button = page.get_by_role("button", name=f"Actions for {name}")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    return profile_row(page, name)


def fill_general(page: Page, *, name: str, display_name: str) -> None:
    page.get_by_label("Unique Name").fill(name)
    page.get_by_label("Display Name").fill(display_name)
    template_select(page).select_option(label=NOTEBOOK_TEMPLATE)
    expect(version_select(page).get_by_role("option")).to_have_text(["Select a version", "v1"])
    version_select(page).select_option(label="v1")


@pytest.fixture
def admin(page: Page, login, alice) -> Page:
    """alice signed in, on the page the app sent her to."""
    return login(alice)


@pytest.fixture
def ready_profile(platform, alice, notebook_version) -> ServiceProfile:
    return make_profile(
        platform,
        "team-notebook",
        version=notebook_version,
        actor=alice,
        display_name="Team Notebook",
        description="GPU notebook with the team's libraries.",
        status=ServiceProfile.Status.READY,
        wizard_step=ServiceProfile.Step.SHARING,
    )


@pytest.fixture
def system_profile(system, notebook_version) -> ServiceProfile:
    return make_profile(
        system,
        "jupyter-notebook",
        version=notebook_version,
        display_name="Jupyter Notebook",
        description="JupyterLab on a GPU, with PyTorch, TensorFlow or RAPIDS.",
        status=ServiceProfile.Status.READY,
        sharing="all",
    )


@pytest.fixture
def second_admin_page(new_context, platform) -> Page:
    """erin, another admin of platform, signed in in a browser context of her own."""
    erin = make_user("erin", platform="admin")
    page = new_context().new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(erin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def test_full_wizard_creates_a_ready_notebook_profile(
    admin: Page, research, finance, notebook_version, screenshot
):
    page = admin
    project_menu(page).get_by_role("link", name="Studio Home").click()
    page.get_by_role("link", name="New Service Profile").first.click()
    expect(page).to_have_url(f"{PROFILES}new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New Service Profile")
    expect(current_step(page)).to_have_text(re.compile(r"1\s+General"))
    page.evaluate("window.__sameDocument = true")

    # General: the version choices follow the template without a page load.
    page.get_by_label("Unique Name").fill("team-notebook")
    page.get_by_label("Display Name").fill("Team Notebook")
    page.get_by_label("Description").fill("GPU notebook with the team's libraries.")
    expect(version_select(page).get_by_role("option")).to_have_text(["Select a template first"])
    template_select(page).select_option(label=NOTEBOOK_TEMPLATE)
    expect(version_select(page).get_by_role("option")).to_have_text(["Select a version", "v1"])
    version_select(page).select_option(label="v1")
    assert page.evaluate("window.__sameDocument") is True, "choosing a template reloaded the page"
    page.get_by_label("Service Type").select_option(label="Notebook")

    page.get_by_label("Readme", exact=True).fill(
        "# Team Notebook\n\nJupyterLab with **PyTorch** or **RAPIDS**.\n\n| GPU | Memory |\n"
        "|---|---|\n| A100 | 80 GiB |\n"
    )
    preview = page.get_by_label("Readme preview")
    expect(preview.get_by_role("heading", name="Team Notebook")).to_be_visible()
    expect(preview.get_by_role("table")).to_contain_text("A100")

    page.get_by_label("Label 1 key").fill("team")
    page.get_by_label("Label 1 value").fill("ml")
    page.get_by_role("button", name="Add label").click()
    expect(page.get_by_label("Label 2 key")).to_be_focused()
    page.get_by_label("Label 2 key").fill("tier")
    page.get_by_label("Label 2 value").fill("gpu")
    screenshot("studio-wizard-general")
    page.get_by_role("button", name="Save & Continue").click()

    # Input Settings: restrict notebook_profile to a subset, default rapids.
    expect(page).to_have_url(profile_url("team-notebook", "inputs"))
    expect(page.get_by_role("alert")).to_contain_text("Saved team-notebook as a draft")
    expect(current_step(page)).to_have_text(re.compile(r"2\s+Input Settings"))
    row = input_setting(page, "notebook_profile")
    expect(row.get_by_label("Override")).to_have_value("restricted")
    row.get_by_label("Restricted values").fill("pytorch\nrapids")
    row.get_by_label("Default value").fill("rapids")
    row.get_by_label("Help text").fill("Libraries pre-installed in the notebook.")
    expect(input_setting(page, "hf_token").get_by_label("Sensitive")).to_be_checked()
    screenshot("studio-wizard-inputs")
    page.get_by_role("button", name="Save & Continue").click()

    # Output Settings: the sensitive token is shown, and stays sensitive.
    expect(page).to_have_url(profile_url("team-notebook", "outputs"))
    expect(current_step(page)).to_have_text(re.compile(r"3\s+Output Settings"))
    expect(page.get_by_label("Show token")).to_be_checked()
    expect(page.get_by_label("Sensitive token")).to_be_checked()
    page.get_by_label("Display Name of token").fill("Access token")
    page.get_by_label("Display Name of url").fill("Notebook URL")
    screenshot("studio-wizard-outputs")
    page.get_by_role("button", name="Save & Continue").click()

    # Sharing: Selected Projects, research found through the picker's search box.
    expect(page).to_have_url(profile_url("team-notebook", "sharing"))
    expect(current_step(page)).to_have_text(re.compile(r"4\s+Sharing"))
    picker = page.get_by_role("group", name="Selected Projects")
    expect(picker.get_by_label("Research (research)")).to_be_disabled()
    page.get_by_role("radio", name="Selected Projects").check()
    expect(picker.get_by_label("Research (research)")).to_be_enabled()
    picker.get_by_label("Search projects").fill("resea")
    expect(picker.get_by_label("Finance (finance)")).to_be_hidden()
    picker.get_by_label("Research (research)").check()
    screenshot("studio-wizard-sharing")
    page.get_by_role("button", name="Save & Finish").click()

    # The view page shows what was configured.
    expect(page).to_have_url(profile_url("team-notebook"))
    # The readme's own "# Team Notebook" is a second h1 on the page: the page's comes first.
    expect(page.get_by_role("heading", level=1).first).to_have_text("Team Notebook")
    expect(page.get_by_text("Ready", exact=True)).to_be_visible()
    general = page.get_by_role("region", name="General")
    expect(general).to_contain_text("team=ml")
    expect(general).to_contain_text("tier=gpu")
    readme = page.get_by_role("region", name="Readme")
    expect(readme.get_by_role("heading", name="Team Notebook")).to_be_visible()
    inputs = page.get_by_role("region", name="Input Settings")
    notebook_row = inputs.get_by_role("row").filter(has_text="notebook_profile")
    expect(notebook_row).to_contain_text("rapids")
    expect(notebook_row).to_contain_text("override: Restricted")
    expect(notebook_row).to_contain_text("pytorch, rapids")
    expect(notebook_row).not_to_contain_text("tensorflow")
    token = page.get_by_role("region", name="Output Settings").get_by_role("listitem")
    expect(token.filter(has_text="Access token")).to_contain_text("sensitive")
    sharing = page.get_by_role("region", name="Sharing")
    expect(sharing).to_contain_text("Selected Projects")
    expect(sharing.get_by_role("listitem")).to_have_text([re.compile(r"Research\s+research")])
    screenshot("studio-view")

    profile = ServiceProfile.objects.get(project__name="platform", name="team-notebook")
    assert profile.status == ServiceProfile.Status.READY
    assert profile.labels == {"team": "ml", "tier": "gpu"}
    assert list(profile.shared_with.values_list("name", flat=True)) == ["research"]
    setting = profile.inputs.get(name="notebook_profile")
    assert (setting.restricted_values, setting.value) == (["pytorch", "rapids"], "rapids")


def test_a_draft_is_resumed_from_the_list_where_it_was_left(admin: Page, notebook_version):
    page = admin
    page.goto(f"{PROFILES}new/")
    fill_general(page, name="draft-notebook", display_name="Draft Notebook")
    page.get_by_role("button", name="Save & Continue").click()
    expect(page).to_have_url(profile_url("draft-notebook", "inputs"))

    project_menu(page).get_by_role("link", name="Service Profiles").click()
    expect(page).to_have_url(PROFILES)
    row = profile_row(page, "draft-notebook")
    expect(row.get_by_text("Draft", exact=True)).to_be_visible()
    open_actions(page, "draft-notebook").get_by_role("link", name="Continue").click()

    expect(page).to_have_url(profile_url("draft-notebook", "inputs"))
    expect(current_step(page)).to_have_text(re.compile(r"2\s+Input Settings"))
    expect(page.get_by_role("heading", level=2)).to_have_text("Input Settings")


def test_editing_a_ready_profile_bumps_the_revision(admin: Page, ready_profile, screenshot):
    page = admin
    page.goto(f"{PROFILES}team-notebook/")
    expect(page.get_by_text("revision 1", exact=True)).to_be_visible()
    page.get_by_role("link", name="Edit", exact=True).click()

    expect(page).to_have_url(profile_url("team-notebook", "general"))
    # The page is complete (server-rendered): no need to wait the default timeout.
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Team Notebook", timeout=500)
    expect(steps(page, "Sections")).to_be_visible()
    expect(page.get_by_label("Unique Name")).to_have_value("team-notebook")
    expect(page.get_by_label("Unique Name")).not_to_be_editable()
    page.get_by_label("Display Name").fill("Team GPU Notebook")
    screenshot("studio-edit-general")
    page.get_by_role("button", name="Save Changes").click()

    expect(page).to_have_url(profile_url("team-notebook"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Team GPU Notebook")
    expect(page.get_by_text("revision 2", exact=True)).to_be_visible()
    newest = page.get_by_role("region", name="Revisions").get_by_role("listitem").first
    expect(newest).to_contain_text("Revision 2")
    expect(newest).to_contain_text("by alice")
    expect(newest).to_contain_text("Changed: metadata.displayName")
    ready_profile.refresh_from_db()
    assert (ready_profile.revision, ready_profile.display_name) == (2, "Team GPU Notebook")


def test_a_stale_edit_is_refused_and_names_who_saved(
    admin: Page, second_admin_page: Page, ready_profile, screenshot
):
    page, other = admin, second_admin_page
    page.goto(f"{PROFILES}team-notebook/general/")
    other.goto(f"{PROFILES}team-notebook/general/")

    other.get_by_label("Display Name").fill("Erin's Notebook")
    other.get_by_role("button", name="Save Changes").click()
    expect(other.get_by_text("revision 2", exact=True)).to_be_visible()

    page.get_by_label("Display Name").fill("Alice's Notebook")
    page.get_by_role("button", name="Save Changes").click()
    refusal = page.get_by_role("alert").filter(has_text=re.compile(r"\berin saved this profile"))
    expect(refusal).to_contain_text("revision 2")
    expect(refusal).to_contain_text("Nothing of yours was saved")
    expect(refusal.get_by_role("link", name="Reload")).to_be_visible()
    expect(page).to_have_url(profile_url("team-notebook", "general"))
    expect(page.get_by_label("Display Name")).to_have_value("Alice's Notebook")
    expect(page.get_by_text("revision 2", exact=True)).to_be_visible()
    screenshot("studio-stale-edit")

    ready_profile.refresh_from_db()
    assert (ready_profile.revision, ready_profile.display_name) == (2, "Erin's Notebook")


def test_manage_sharing_from_the_list(admin: Page, ready_profile, research, screenshot):
    page = admin
    page.goto(PROFILES)
    row = profile_row(page, "team-notebook")
    expect(row.get_by_role("cell").nth(3)).to_have_text("None")
    open_actions(page, "team-notebook").get_by_role("link", name="Manage Sharing").click()

    expect(page).to_have_url(profile_url("team-notebook", "sharing"))
    expect(page.get_by_role("heading", name="Manage Sharing")).to_be_visible()
    expect(page.get_by_role("radio", name="None")).to_be_checked()
    page.get_by_role("radio", name="All Projects").check()
    screenshot("studio-manage-sharing")
    page.get_by_role("button", name="Save Changes").click()

    expect(page).to_have_url(profile_url("team-notebook"))
    expect(page.get_by_role("region", name="Sharing")).to_contain_text("All Projects")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="Service Profiles"
    ).click()
    expect(profile_row(page, "team-notebook").get_by_role("cell").nth(3)).to_have_text(
        "All Projects"
    )


def test_delete_needs_the_unique_name_typed_exactly(admin: Page, ready_profile, screenshot):
    page = admin
    page.goto(PROFILES)
    open_actions(page, "team-notebook").get_by_role("link", name="Delete").click()

    expect(page).to_have_url(profile_url("team-notebook", "delete"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete Team Notebook?")
    delete = page.get_by_role("button", name="Delete")
    confirm = page.get_by_label("Type the unique name to confirm")
    expect(delete).to_be_disabled()
    confirm.fill("team-noteboo")
    expect(delete).to_be_disabled()
    confirm.fill("Team-Notebook")
    expect(delete).to_be_disabled()
    confirm.fill("team-notebook ")
    expect(delete).to_be_disabled()
    confirm.fill("team-notebook")
    expect(delete).to_be_enabled()
    screenshot("studio-delete")
    delete.click()

    expect(page).to_have_url(PROFILES)
    expect(page.get_by_role("alert")).to_contain_text("Deleted team-notebook")
    expect(page.get_by_role("link", name="team-notebook", exact=True)).to_have_count(0)
    expect(page.get_by_role("heading", name="No service profiles yet")).to_be_visible()
    assert not ServiceProfile.objects.filter(name="team-notebook").exists()


def test_cloning_a_system_profile_opens_the_wizard_on_a_draft(
    admin: Page, system_profile, screenshot
):
    page = admin
    project_menu(page).get_by_role("link", name="System Profiles").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("System Profiles")
    screenshot("studio-system-profiles")
    page.get_by_role("link", name="Clone Jupyter Notebook").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Clone Jupyter Notebook")
    expect(page.get_by_label("Unique Name")).to_have_value("jupyter-notebook")
    page.get_by_label("Unique Name").fill("team-jupyter")
    screenshot("studio-clone")
    page.get_by_role("button", name="Clone").click()

    expect(page).to_have_url(profile_url("team-jupyter", "general"))
    expect(page.get_by_role("alert")).to_contain_text("Cloned Jupyter Notebook as team-jupyter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jupyter Notebook")
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
    expect(current_step(page)).to_have_text(re.compile(r"1\s+General"))
    expect(page.get_by_label("Unique Name")).to_have_value("team-jupyter")
    expect(page.get_by_role("button", name="Save & Continue")).to_be_visible()
    clone = ServiceProfile.objects.get(name="team-jupyter")
    assert (clone.project.name, clone.status, clone.sharing) == ("platform", "draft", "none")


def test_search_filters_as_you_type_and_the_back_button_restores(
    admin: Page, platform, alice, notebook_version, screenshot
):
    for name, service_type, display_name in [
        ("team-notebook", "notebook", "Team Notebook"),
        ("llm-serving", "inference", "LLM Serving"),
        ("nightly-batch", "jobs", "Nightly Batch"),
    ]:
        make_profile(
            platform,
            name,
            version=notebook_version,
            actor=alice,
            display_name=display_name,
            service_type=service_type,
            status="ready",
        )
    page = admin
    page.goto(PROFILES)
    rows = page.get_by_role("row").filter(has=page.get_by_role("cell"))
    expect(rows).to_have_count(3)
    page.evaluate("window.__sameDocument = true")

    page.get_by_label("Search").press_sequentially("serv")
    expect(page).to_have_url(re.compile(r"[?&]q=serv(&|$)"))
    expect(rows).to_have_count(1)
    expect(profile_row(page, "llm-serving")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "searching reloaded the page"
    screenshot("studio-list-search")

    page.go_back()
    expect(page).to_have_url(re.compile(rf"{PROFILES}$"))
    expect(rows).to_have_count(3)

    page.get_by_label("Service Type").select_option(label="Jobs")
    expect(page).to_have_url(re.compile(r"[?&]service_type=jobs(&|$)"))
    expect(rows).to_have_count(1)
    expect(profile_row(page, "nightly-batch")).to_be_visible()


def test_actions_menu_works_with_the_keyboard(admin: Page, ready_profile):
    page = admin
    page.goto(PROFILES)
    button = page.get_by_role("button", name="Actions for team-notebook")
    row = profile_row(page, "team-notebook")

    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(row.get_by_role("link", name="View")).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(row.get_by_role("link", name="View")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row.get_by_role("link", name="Edit")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row.get_by_role("link", name="Manage Sharing")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row.get_by_role("link", name="Delete")).to_be_focused()
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_be_focused()

    page.keyboard.press("Space")
    expect(button).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(row.get_by_role("link", name="Edit")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(profile_url("team-notebook", "general"))


def test_a_broken_icon_falls_back_to_the_service_type_symbol(
    admin: Page, platform, alice, notebook_version
):
    make_profile(
        platform,
        "team-notebook",
        version=notebook_version,
        actor=alice,
        icon_url="https://icons.example.test/missing.svg",
        status="ready",
    )
    page = admin
    page.route("https://icons.example.test/**", lambda route: route.fulfill(status=404))
    page.goto(f"{PROFILES}team-notebook/")
    icon = page.get_by_role("main").locator(".profile-icon").first
    expect(icon.locator("img")).to_have_count(0)
    # The img is gone once its error fired; the fallback shows at the same moment.
    expect(icon.locator(".icon-fallback")).to_be_visible(timeout=1000)


def test_an_invalid_save_keeps_the_stored_name_in_the_heading(admin: Page, ready_profile):
    page = admin
    page.goto(f"{PROFILES}team-notebook/general/")
    page.get_by_label("Display Name").fill("Renamed Notebook")
    page.get_by_label("Icon URL").fill("ftp://icons.example.test/notebook.svg")
    page.get_by_role("button", name="Save Changes").click()
    expect(page.get_by_label("Icon URL")).to_have_attribute("aria-invalid", "true")
    # The page is complete (server-rendered): no need to wait the default timeout.
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Team Notebook", timeout=500)
