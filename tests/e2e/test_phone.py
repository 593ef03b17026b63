"""Every Studio, catalog and service page on a phone (390x844): nothing scrolls sideways.

Each page is opened at 390x844, checked for horizontal page scroll
(``document.documentElement.scrollWidth <= window.innerWidth``), and saved as
test-results/screenshots/phone-<name>.png; then at 1366x900 as desktop-<name>.png.
The demo data (``seed_demo``) is the cast; dave (admin of research) adds a ready profile
with two revisions, a draft that reached Sharing, a service launched from the profile, an SSH
compute instance of his own and an API key, so the lists and the detail pages have rows to lay
out, with long names where people give them.
"""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from compute import services as compute
from compute.models import ComputeInstance
from profiles import services as profiles
from profiles.models import ServiceProfile, TemplateVersion
from studio.models import ApiKey, Project
from tests.factories import PASSWORD, make_profile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

RESEARCH = "/projects/research"
STUDIO = f"{RESEARCH}/studio"
PROFILE = f"{STUDIO}/service-profiles/team-notebook"
DRAFT = f"{STUDIO}/service-profiles/draft-notebook"
SERVICE = f"{RESEARCH}/services/my-notebook"
INSTANCE = f"{RESEARCH}/compute-instances/gpu-box-training-01"
CATALOG_ENTRY = f"{RESEARCH}/catalog/system-catalog/jupyter-notebook"

# name -> (path, the start of the page's main heading)
PAGES = {
    "overview": (f"{RESEARCH}/", "Research"),
    "studio-home": (f"{STUDIO}/", "PaaS Studio"),
    "profile-list": (f"{STUDIO}/service-profiles/", "Service Profiles"),
    "profile-view": (f"{PROFILE}/", "Team Notebook"),
    "wizard-new": (f"{STUDIO}/service-profiles/new/", "New Service Profile"),
    "wizard-general": (f"{DRAFT}/general/", "Draft Notebook"),
    "wizard-inputs": (f"{DRAFT}/inputs/", "Draft Notebook"),
    "wizard-outputs": (f"{DRAFT}/outputs/", "Draft Notebook"),
    "wizard-sharing": (f"{DRAFT}/sharing/", "Draft Notebook"),
    "edit-outputs": (f"{PROFILE}/outputs/", "Edit Team Notebook"),
    "profile-delete": (f"{PROFILE}/delete/", "Delete Team Notebook?"),
    "profile-revision": (f"{PROFILE}/revisions/1/", "Team Notebook revision 1"),
    "system-profiles": (f"{STUDIO}/system-profiles/", "System Profiles"),
    "clone": (f"{STUDIO}/system-profiles/jupyter-notebook/clone/", "Clone Jupyter Notebook"),
    "catalog-list": (f"{RESEARCH}/catalog/", "Catalog"),
    "catalog-detail": (f"{CATALOG_ENTRY}/", "Jupyter Notebook"),
    "launch": (f"{CATALOG_ENTRY}/launch/", "Launch Jupyter Notebook"),
    "service-list": (f"{RESEARCH}/services/", "Services"),
    "service": (f"{SERVICE}/", "my-notebook"),
    "service-destroy": (f"{SERVICE}/destroy/", "Destroy my-notebook?"),
    "service-redeploy": (f"{SERVICE}/redeploy/", "Redeploy my-notebook"),
    "instance-list": (f"{RESEARCH}/compute-instances/", "Compute Instances"),
    "instance": (f"{INSTANCE}/", "GPU box for training"),
    "instance-new": (f"{RESEARCH}/compute-instances/new/", "Register compute instance"),
    "instance-edit": (f"{INSTANCE}/edit/", "Edit GPU box for training"),
    "members": (f"{RESEARCH}/members/", "Members"),
    "api-keys": ("/accounts/api-keys/", "API Keys"),
}

README = """# Team Notebook

JupyterLab on a GPU with the team's libraries, for the research group's long-running
experiments: https://docs.example.com/notebooks/a-rather-long-address-that-does-not-break

| GPU | Memory | Notes |
|---|---|---|
| A100 | 80 GiB | the default for training runs |

```python
import torch; print(torch.cuda.is_available(), torch.cuda.get_device_name(0), "a long line")
```
"""


@pytest.fixture
def demo(db):
    """The demo data, and research's own profile, draft, service and an API key of dave's."""
    call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
    research = Project.objects.get(name="research")
    dave = research.memberships.get(user__username="dave").user
    version = TemplateVersion.objects.get(template__name="jupyter-notebook", name="v2")
    profile = make_profile(
        research,
        "team-notebook",
        version=version,
        actor=dave,
        display_name="Team Notebook",
        description="GPU notebook with the team's libraries, for long-running experiments.",
        readme=README,
        labels={"team": "ml", "paas.envmgmt.io/cost-centre": "research-4711"},
        status=ServiceProfile.Status.READY,
        sharing="all",
    )
    make_profile(
        research,
        "draft-notebook",
        version=version,
        actor=dave,
        display_name="Draft Notebook",
        wizard_step=ServiceProfile.Step.SHARING,
    )
    compute.launch(
        project=research,
        actor=dave,
        profile=profile,
        name="my-notebook",
        instance=ComputeInstance.objects.get(project=research, name="demo-workstation"),
        submitted={},
    )
    # A second revision, so the redeploy page has an update to show.
    profiles.save_general(
        profile=profile,
        actor=dave,
        expected_revision=profile.revision,
        changes={"description": "GPU notebook with the team's libraries, now with RAPIDS."},
    )
    ComputeInstance.objects.create(
        project=research,
        owner=dave,
        name="gpu-box-training-01",
        display_name="GPU box for training",
        gpus="8x NVIDIA H100 80GB HBM3",
        connection="ssh",
        host="gpu-box-training-01.research.example.com",
        port=2222,
        username="dave",
        labels={"rack": "b7"},
    )
    ApiKey.issue(user=dave, name="CI deploy of the research-group training pipelines")


def page_width(page: Page) -> dict:
    return page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})"
    )


def widest(page: Page) -> list[str]:
    """The elements that end to the right of the viewport, for the failure message."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
            .filter((e) => !e.closest('.offcanvas-md, .visually-hidden, .dropdown-menu'))
            .slice(0, 8)
            .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                 (e.className && typeof e.className === 'string' ? '.' + e.className.trim()
                 .split(/\\s+/).join('.') : '') + ' right=' + e.getBoundingClientRect().right)"""
    )


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_does_not_scroll_sideways_on_a_phone(page: Page, login, demo, screenshot, name):
    path, heading = PAGES[name]
    page.set_viewport_size(PHONE)
    login("dave")
    page.goto(path)
    expect(page.locator("main h1")).to_contain_text(heading)
    width = page_width(page)
    assert width["scroll"] <= width["inner"], (
        f"{name} scrolls sideways at 390px: {width}; too wide: {widest(page)}"
    )
    screenshot(f"phone-{name}")
    page.set_viewport_size(DESKTOP)
    width = page_width(page)
    assert width["scroll"] <= width["inner"], f"{name} scrolls sideways at 1366px: {width}"
    screenshot(f"desktop-{name}")


def test_on_a_phone_the_project_menu_opens_from_a_button_and_closes_on_escape(
    page: Page, login, demo, screenshot
):
    page.set_viewport_size(PHONE)
    login("dave")
    menu = page.get_by_role("navigation", name="Project menu")
    toggle = page.get_by_role("button", name="Project menu", exact=True)
    expect(menu).to_be_hidden()
    expect(toggle).to_have_attribute("aria-controls", "project-menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Research")
    expect(panel).to_be_focused()
    expect(menu).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Close the project menu")).to_be_focused()
    page.keyboard.press("Tab")
    expect(menu.get_by_role("link", name="Overview")).to_be_focused()
    screenshot("phone-project-menu")

    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    toggle.click()
    menu.get_by_role("link", name="Services").click()
    expect(page.locator("main h1")).to_have_text("Services")
    expect(menu).to_be_hidden()


def test_from_md_up_the_project_menu_stays_beside_the_page(page: Page, login, demo):
    page.set_viewport_size({"width": 768, "height": 900})
    login("dave")
    menu = page.get_by_role("navigation", name="Project menu")
    expect(menu).to_be_visible()
    expect(page.get_by_role("button", name="Project menu", exact=True)).to_be_hidden()
    main = page.locator("#main").bounding_box()
    assert menu.bounding_box()["x"] + menu.bounding_box()["width"] <= main["x"] + 1


def beside(name: dict, action: dict) -> bool:
    """On screen, and on the same line as the row's name."""
    return (
        action["x"] + action["width"] <= PHONE["width"]
        and action["y"] < name["y"] + name["height"]
        and name["y"] < action["y"] + action["height"]
    )


def test_on_a_phone_each_list_row_keeps_its_actions_beside_its_name(
    page: Page, login, demo, screenshot
):
    page.set_viewport_size(PHONE)
    login("dave")
    page.goto(f"{STUDIO}/service-profiles/")
    row = page.locator("tr[data-profile='team-notebook']")
    name = row.get_by_role("link", name="team-notebook").bounding_box()
    actions = row.get_by_role("button", name="Actions for team-notebook")
    assert beside(name, actions.bounding_box()), (name, actions.bounding_box())
    actions.click()
    expect(row.get_by_role("link", name="Delete")).to_be_in_viewport()
    screenshot("phone-profile-list-actions")

    page.goto("/accounts/api-keys/")
    key = "CI deploy of the research-group training pipelines"
    row = page.get_by_role("row").filter(has_text=key)
    name = row.get_by_role("cell", name=key, exact=True).bounding_box()
    revoke = row.get_by_role("button", name=f"Revoke {key}").bounding_box()
    assert beside(name, revoke), (name, revoke)


def test_on_a_phone_output_settings_fit_the_screen(page: Page, login, demo):
    page.set_viewport_size(PHONE)
    login("dave")
    page.goto(f"{DRAFT}/outputs/")
    for label in ["Display Name of url", "Description of url", "Order of url", "Show url"]:
        field = page.get_by_label(label, exact=True)
        expect(field).to_be_in_viewport()
        box = field.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (label, box)
    expect(page.get_by_text("Display Name of url", exact=True)).to_be_visible()
