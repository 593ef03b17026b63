"""Every kind of page under the Content-Security-Policy, in a real browser: nothing is blocked,
nothing is logged to the console, and what the pages do (htmx search, tabs and dependent fields,
the readme preview, the confirmations moved out of inline handlers, Swagger UI, the Django
admin) still works.

Each test watches its page from the start: ``securitypolicyviolation`` events are reported
through an exposed function (so they survive navigations), console messages through
Playwright's ``console`` event.
"""

import re
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from profiles.models import EnvironmentTemplate, ServiceProfile
from tests.factories import make_profile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

P = "/projects/platform"
PROFILES = f"{P}/studio/service-profiles/"
NOTEBOOK_TEMPLATE = "Jupyter Notebook (jupyter-notebook) · System"
README = (
    "# Team notebook\n\n| size | GPUs |\n|---|---|\n| small | 1 |\n\n```python\nimport torch\n```\n"
)

REPORT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const report = `${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`
    + ` in ${event.sourceFile || document.location.href}:${event.lineNumber}`
    + (event.sample ? ` (${event.sample})` : "");
  window.__cspViolations.push(report);
  window.__reportCspViolation(report);
}, true);
"""


@dataclass
class Watch:
    violations: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def assert_clean(self, page: Page, *, expected: str | None = None) -> None:
        """No violation and no console message (but the ``expected`` one, a pattern)."""
        page.evaluate("0")  # a round trip, so reports already sent have been handled
        assert self.violations == [], "CSP violations:\n" + "\n".join(self.violations)
        console = [m for m in self.console if not (expected and re.search(expected, m))]
        assert console == [], "console messages:\n" + "\n".join(console)


@pytest.fixture
def watch(page: Page) -> Watch:
    seen = Watch()
    page.expose_function("__reportCspViolation", lambda report: seen.violations.append(report))
    page.add_init_script(REPORT_VIOLATIONS)

    def on_console(message: ConsoleMessage) -> None:
        seen.console.append(f"[{message.type}] {message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    return seen


def visit(page: Page, url: str, heading: str | re.Pattern) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", level=1).first).to_have_text(heading)


@pytest.fixture
def profiles(platform, alice, system, notebook_version) -> dict[str, ServiceProfile]:
    return {
        "team": make_profile(
            platform,
            "team-notebook",
            version=notebook_version,
            actor=alice,
            display_name="Team Notebook",
            status=ServiceProfile.Status.READY,
            wizard_step=ServiceProfile.Step.SHARING,
            sharing="all",
            service_type="notebook",
            readme=README,
        ),
        "chat": make_profile(
            platform,
            "vllm-chat",
            version=notebook_version,
            actor=alice,
            display_name="vLLM Chat",
            status=ServiceProfile.Status.READY,
            sharing="all",
            service_type="inference",
        ),
        "system": make_profile(
            system,
            "jupyter-notebook",
            version=notebook_version,
            display_name="Jupyter Notebook",
            status=ServiceProfile.Status.READY,
            sharing="all",
        ),
    }


def test_the_watch_sees_a_blocked_inline_handler(page: Page, watch: Watch, login, alice):
    """The detector is not blind: an inline handler put on a page is blocked and reported."""
    login(alice)
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend',"
        ' \'<img src="/static/img/logo.svg" onload="window.__ran = true">\')'
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    page.evaluate("0")
    assert page.evaluate("window.__ran") is None
    assert any(v.startswith("script-src") for v in watch.violations), watch.violations


def test_sign_in_pages(page: Page, watch: Watch, login, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    visit(page, "/accounts/login/", "PaaS Studio")
    login(alice, "wrong-password", expect_success=False)
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")
    login(alice, "wrong-password", expect_success=False)
    expect(page.get_by_role("alert")).to_have_text(
        "Too many failed sign-ins. Try again in 15 minutes."
    )
    watch.assert_clean(page, expected=r"status of 429 \(Too Many Requests\).*/accounts/login/")


def test_studio_pages_and_the_wizard(page: Page, watch: Watch, login, alice, profiles):
    login(alice)  # lands on the project's overview
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    visit(page, f"{P}/studio/", "PaaS Studio")
    visit(page, f"{P}/members/", re.compile("Members"))
    visit(page, f"{P}/studio/system-profiles/", "System Profiles")
    visit(page, f"{P}/studio/system-profiles/jupyter-notebook/clone/", re.compile("Clone"))

    # The list's search updates the results in place (htmx).
    visit(page, PROFILES, "Service Profiles")
    page.get_by_role("searchbox").first.fill("chat")
    expect(page).to_have_url(re.compile(r"\?q=chat"))
    expect(page.get_by_role("link", name="vllm-chat", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="team-notebook", exact=True)).to_have_count(0)

    # New profile: the version select follows the template; the readme preview follows typing.
    visit(page, f"{PROFILES}new/", "New Service Profile")
    page.get_by_role("combobox", name=re.compile(r"^Environment Template\W*$")).select_option(
        label=NOTEBOOK_TEMPLATE
    )
    versions = page.get_by_role("combobox", name=re.compile(r"^Environment Template Version\W*$"))
    expect(versions.get_by_role("option")).to_have_text(["Select a version", "v1"])
    page.get_by_label("Readme", exact=True).fill(
        "# Preview works\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    preview = page.get_by_label("Readme preview")
    expect(preview.get_by_role("heading", name="Preview works")).to_be_visible()
    page.get_by_role("button", name="Add label").click()
    expect(page.get_by_label("Label 2 key")).to_be_focused()

    # A ready profile: its page, each step as an edit section, and the delete page.
    visit(page, f"{PROFILES}team-notebook/", "Team Notebook")
    for step in ["general", "inputs", "outputs", "sharing"]:
        visit(page, f"{PROFILES}team-notebook/{step}/", "Edit Team Notebook")
    visit(page, f"{PROFILES}team-notebook/delete/", "Delete Team Notebook?")
    delete = page.get_by_role("button", name="Delete")
    expect(delete).to_be_disabled()
    page.get_by_label("Type the unique name to confirm").fill("team-notebook")
    expect(delete).to_be_enabled()
    watch.assert_clean(page)


def test_the_catalog(page: Page, watch: Watch, login, alice, profiles):
    login(alice)
    visit(page, f"{P}/catalog/", "Catalog")
    titles = page.get_by_role("article").get_by_role("heading")
    expect(titles).to_have_count(3)

    page.get_by_role("searchbox", name="Search the catalog").fill("chat")
    expect(titles).to_have_text(["vLLM Chat"])
    expect(page).to_have_url(re.compile(r"\?q=chat$"))

    page.goto(f"{P}/catalog/")
    tabs = page.get_by_role("navigation", name="Service types")
    tabs.get_by_role("link", name=re.compile(r"^Notebook \d+$")).click()
    expect(page).to_have_url(re.compile(r"type=notebook"))
    expect(titles).to_have_text(["Jupyter Notebook", "Team Notebook"], ignore_case=True)

    page.get_by_role("link", name="Team Notebook").first.click()
    expect(page.get_by_role("heading", level=1).first).to_have_text("Team Notebook")
    expect(page.locator(".readme").get_by_role("table")).to_contain_text("small")
    watch.assert_clean(page)


def test_the_api_keys_page(page: Page, watch: Watch, login, alice):
    login(alice)
    visit(page, "/accounts/api-keys/", "API Keys")
    page.get_by_label("Name").fill("CI deploy")
    page.get_by_role("button", name="Create API key").click()
    token = page.get_by_label("New API key")
    token.focus()
    # Selecting itself on focus (once an inline onfocus handler; now studio.js).
    page.wait_for_function(
        "(() => { const el = document.getElementById('new-key-token');"
        " return el.selectionStart === 0 && el.selectionEnd === el.value.length; })()"
    )

    # Revoking asks first (once an inline onsubmit handler): dismissing keeps the key ...
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Revoke CI deploy").click()
    expect(page.get_by_text("Active", exact=True)).to_be_visible()
    # ... and accepting revokes it.
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Revoke CI deploy").click()
    expect(page.get_by_role("alert")).to_contain_text("Revoked the API key “CI deploy”")
    assert questions == ["Revoke the key “CI deploy”? Scripts using it will stop working."] * 2
    watch.assert_clean(page)


def test_the_swagger_docs(page: Page, watch: Watch, login, alice):
    login(alice)
    page.goto("/apis/docs/")
    expect(page.get_by_role("heading", name=re.compile("PaaS Studio API"))).to_be_visible()
    expect(page.get_by_text("/apis/paas.envmgmt.io/v1/projects/", exact=True)).to_be_visible()
    watch.assert_clean(page)


def test_the_django_admin(page: Page, watch: Watch, login, superuser, notebook_version):
    login(superuser)
    page.goto("/admin/")
    expect(
        page.get_by_role("heading", name="Projects, templates and service profiles")
    ).to_be_visible()
    page.goto("/admin/profiles/environmenttemplate/")
    page.get_by_role("checkbox", name="Select all objects on this page for an action").check()
    expect(page.get_by_text(re.compile(r"\d+ of \d+ selected"))).to_be_visible()
    template = EnvironmentTemplate.objects.get(name="jupyter-notebook")
    page.goto(f"/admin/profiles/environmenttemplate/{template.pk}/change/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.goto(f"/admin/auth/user/{superuser.pk}/change/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    watch.assert_clean(page)
