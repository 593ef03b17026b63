"""The end-user catalog in a real browser (issue "Catalog for end users"; SPEC §2, §5).

bob (member of research) finds a profile platform shares with research by searching and by
its service-type tab, and reads its readme; carol (finance) never sees it; a deletion in
Studio takes it out of bob's catalog; Back restores earlier results; a broken icon falls back
to the service type's symbol; a hostile readme runs nothing.
"""

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from profiles import services
from tests.e2e.conftest import LOGIN_PATH
from tests.factories import PASSWORD, make_profile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CATALOG = "/projects/research/catalog/"
ACME_URL = "/projects/research/catalog/platform/acme-notebook/"

README = """\
# ACME Notebook

GPU notebooks with the team's libraries pre-installed.

## Sizes

| Size  | GPUs | Memory  |
|:------|-----:|--------:|
| small |    1 | 32 GiB  |
| large |    8 | 256 GiB |

```python
import torch
print(torch.cuda.device_count())
```
"""

# Each payload would set window.__xss (or open a dialog) if anything in it ran.
XSS_README = """\
# Safe heading

<script>window.__xss = "script"; alert("script")</script>

<img src="x" onerror="window.__xss = 'img'; alert('img')">

<a href="javascript:window.__xss='link';alert('link')">Click the javascript link</a>

[Markdown javascript link](javascript:window.__xss='md';alert('md'))

<iframe src="javascript:parent.__xss='iframe'"
 srcdoc="<script>parent.__xss='srcdoc'</script>"></iframe>

<svg onload="window.__xss = 'svg'; alert('svg')"><circle r="5"/></svg>

<style>body { display: none } .readme { display: none }</style>

<p style="position:fixed;inset:0;background:red" onmouseover="window.__xss='hover'">Hover me</p>

<details open ontoggle="window.__xss='details'"><summary>Details</summary></details>

Text after the payloads.
"""


# Helpers -----------------------------------------------------------------------------------------


def sign_in(page: Page, username: str) -> Page:
    """Log in through the form on any page (the ``login`` fixture drives the default one)."""
    page.goto(LOGIN_PATH)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: LOGIN_PATH not in url)
    return page


def search_box(page: Page):
    return page.get_by_role("searchbox", name="Search the catalog")


def card_titles(page: Page):
    return page.get_by_role("article").get_by_role("heading")


def type_tab(page: Page, label: str):
    return page.get_by_role("navigation", name="Service types").get_by_role(
        "link", name=re.compile(rf"^{label} \d+$")
    )


def readme(page: Page):
    return page.locator(".readme")


@pytest.fixture
def catalog(cast, projects, system, notebook_version):
    """What bob's research catalog holds, plus a profile only finance sees."""
    platform, research, finance = projects["platform"], projects["research"], projects["finance"]
    alice = cast["alice"]
    profiles = {
        "acme": make_profile(
            platform,
            "acme-notebook",
            version=notebook_version,
            actor=alice,
            status="ready",
            sharing="selected",
            shared_with=[research],
            display_name="ACME Notebook",
            description="GPU notebook with the team's libraries.",
            service_type="notebook",
            readme=README,
            labels={"team": "ml"},
        ),
        "vllm": make_profile(
            platform,
            "vllm-chat",
            version=notebook_version,
            actor=alice,
            status="ready",
            sharing="all",
            display_name="vLLM Chat",
            description="Serve chat models.",
            service_type="inference",
        ),
        "batch": make_profile(
            system,
            "batch-job",
            version=notebook_version,
            status="ready",
            display_name="Batch Job",
            description="Run a container to completion.",
            service_type="jobs",
        ),
        "bionemo": make_profile(
            system,
            "bionemo",
            version=notebook_version,
            status="ready",
            display_name="NVIDIA BioNeMo",
            description="Protein design models.",
            service_type="custom",
        ),
        "ledger": make_profile(
            platform,
            "ledger-lab",
            version=notebook_version,
            actor=alice,
            status="ready",
            sharing="selected",
            shared_with=[finance],
            display_name="Ledger Lab",
            service_type="notebook",
        ),
    }
    return profiles


ALL_RESEARCH = ["ACME Notebook", "Batch Job", "NVIDIA BioNeMo", "vLLM Chat"]


# Finding a profile -------------------------------------------------------------------------------


def test_member_finds_a_shared_profile_by_typing(page: Page, login, bob, catalog, screenshot):
    login(bob)
    page.goto(CATALOG)
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    expect(card_titles(page)).to_have_text(ALL_RESEARCH)
    acme = page.get_by_role("article").filter(has_text="ACME Notebook")
    expect(acme).to_contain_text("Shared by Platform")
    expect(acme).to_contain_text("GPU notebook with the team's libraries.")
    screenshot("catalog-all")
    page.evaluate("window.__sameDocument = true")

    search_box(page).press_sequentially("acme")

    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    expect(page).to_have_url(re.compile(r"/projects/research/catalog/\?q=acme$"))
    expect(type_tab(page, "All")).to_have_text("All 1")
    # Updated in place as the user typed: no page load happened.
    assert page.evaluate("window.__sameDocument") is True
    expect(search_box(page)).to_have_value("acme")
    expect(search_box(page)).to_be_focused()


def test_search_matches_a_label(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)

    search_box(page).fill("ml")

    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    expect(page).to_have_url(re.compile(r"\?q=ml$"))


def test_search_with_the_keyboard_only(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    search_box(page).focus()
    page.keyboard.type("bionemo")
    page.keyboard.press("Enter")

    expect(card_titles(page)).to_have_text(["NVIDIA BioNeMo"])
    expect(page).to_have_url(re.compile(r"\?q=bionemo$"))


def test_search_without_result_says_so(page: Page, login, bob, catalog, screenshot):
    login(bob)
    page.goto(CATALOG)

    search_box(page).fill("quantum annealer")

    expect(page.get_by_text("Nothing matches “quantum annealer”.")).to_be_visible()
    expect(page.get_by_role("article")).to_have_count(0)
    expect(type_tab(page, "All")).to_have_text("All 0")
    screenshot("catalog-search-no-result")

    page.get_by_role("link", name="Clear the search").click()

    expect(card_titles(page)).to_have_text(ALL_RESEARCH)
    expect(search_box(page)).to_have_value("")


def test_member_finds_it_by_its_type_tab(page: Page, login, bob, catalog, screenshot):
    login(bob)
    page.goto(CATALOG)
    tabs = page.get_by_role("navigation", name="Service types").get_by_role("link")
    expect(tabs).to_have_text(["All 4", "Notebook 1", "Inference 1", "Jobs 1", "Custom Service 1"])
    expect(type_tab(page, "All")).to_have_attribute("aria-current", "page")

    type_tab(page, "Notebook").click()

    expect(page).to_have_url(re.compile(r"\?type=notebook$"))
    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    expect(type_tab(page, "Notebook")).to_have_attribute("aria-current", "page")
    expect(type_tab(page, "All")).not_to_have_attribute("aria-current", "page")
    expect(type_tab(page, "Notebook")).to_have_text("Notebook 1")
    screenshot("catalog-tab-notebook")

    type_tab(page, "Inference").click()

    expect(page).to_have_url(re.compile(r"\?type=inference$"))
    expect(card_titles(page)).to_have_text(["vLLM Chat"])


def test_tab_counts_follow_the_search(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)

    search_box(page).fill("models")

    tabs = page.get_by_role("navigation", name="Service types").get_by_role("link")
    expect(tabs).to_have_text(["All 2", "Notebook 0", "Inference 1", "Jobs 0", "Custom Service 1"])
    type_tab(page, "Custom Service").click()
    expect(page).to_have_url(re.compile(r"\?q=models&type=custom$"))
    expect(card_titles(page)).to_have_text(["NVIDIA BioNeMo"])


def test_searching_after_choosing_a_tab_stays_in_the_tab(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    type_tab(page, "Notebook").click()
    expect(page).to_have_url(re.compile(r"\?type=notebook$"))

    search_box(page).fill("a")

    expect(page).to_have_url(re.compile(r"[?&]q=a\b"))
    expect(type_tab(page, "Notebook")).to_have_attribute("aria-current", "page", timeout=2000)
    expect(card_titles(page)).to_have_text(["ACME Notebook"], timeout=2000)


def test_results_are_replaced_not_nested(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    type_tab(page, "Jobs").click()
    expect(card_titles(page)).to_have_text(["Batch Job"])

    expect(page.locator("[id='results']")).to_have_count(1, timeout=2000)


# Reading a profile -------------------------------------------------------------------------------


def test_member_opens_a_profile_and_reads_its_readme(page: Page, login, bob, catalog, screenshot):
    login(bob)
    page.goto(CATALOG)

    page.get_by_role("link", name="ACME Notebook").click()

    expect(page).to_have_url(re.compile(rf"{ACME_URL}$"))
    expect(page).to_have_title("ACME Notebook · Catalog · PaaS Studio")
    expect(page.get_by_role("heading", level=1, name="ACME Notebook").first).to_be_visible()
    expect(readme(page).get_by_role("heading", name="Sizes")).to_be_visible()
    table = readme(page).get_by_role("table")
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader")).to_have_text(["Size", "GPUs", "Memory"])
    expect(table.get_by_role("row").nth(2)).to_have_text(re.compile(r"large\s*8\s*256 GiB"))
    expect(readme(page).locator(".highlight .kn").first).to_have_text("import")
    expect(page.get_by_role("heading", name="What you will give")).to_be_visible()
    expect(page.get_by_text("Choose one of:")).to_be_visible()
    expect(page.get_by_text("Set by the platform team", exact=True).first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("hf_template_secret")
    screenshot("catalog-detail")

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Catalog").click()
    expect(card_titles(page)).to_have_text(ALL_RESEARCH)


def test_outsider_does_not_see_it_and_gets_404(page: Page, login, carol, catalog, screenshot):
    login(carol)
    page.goto("/projects/finance/catalog/")
    expect(card_titles(page)).to_have_text(
        ["Batch Job", "Ledger Lab", "NVIDIA BioNeMo", "vLLM Chat"]
    )
    expect(page.get_by_text("ACME Notebook")).to_have_count(0)

    for url in (
        "/projects/finance/catalog/platform/acme-notebook/",
        ACME_URL,
        CATALOG,
    ):
        response = page.goto(url)
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        expect(page.locator("body")).not_to_contain_text("ACME")
        expect(page.locator("body")).not_to_contain_text(re.compile("research", re.IGNORECASE))


def test_profile_deleted_in_studio_leaves_bobs_catalog(
    page: Page, login, bob, catalog, browser: Browser, live_server
):
    login(bob)
    page.goto(CATALOG)
    expect(card_titles(page)).to_have_text(ALL_RESEARCH)

    context = browser.new_context(base_url=live_server.url)
    try:
        studio = sign_in(context.new_page(), "alice")
        studio.goto("/projects/platform/studio/service-profiles/")
        studio.get_by_role("button", name="Actions for acme-notebook").click()
        studio.get_by_role("link", name="Delete").click()
        studio.get_by_label("Type the unique name to confirm").fill("acme-notebook")
        studio.get_by_role("button", name="Delete").click()
        expect(studio.get_by_text("Deleted acme-notebook.")).to_be_visible()
    finally:
        context.close()

    page.reload()
    expect(card_titles(page)).to_have_text(ALL_RESEARCH[1:])
    response = page.goto(ACME_URL)
    assert response is not None and response.status == 404


def test_profile_deleted_by_services_leaves_the_search(page: Page, login, bob, cast, catalog):
    login(bob)
    page.goto(CATALOG)
    search_box(page).fill("acme")
    expect(card_titles(page)).to_have_text(["ACME Notebook"])

    services.delete_profile(profile=catalog["acme"], actor=cast["alice"])
    search_box(page).fill("acm")

    expect(page.get_by_text("Nothing matches “acm”.")).to_be_visible()


# History -----------------------------------------------------------------------------------------


def test_back_restores_the_previous_results(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    search_box(page).fill("acme")
    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    search_box(page).fill("vllm")
    expect(page).to_have_url(re.compile(r"\?q=vllm$"))
    expect(card_titles(page)).to_have_text(["vLLM Chat"])

    page.go_back()

    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")

    page.go_back()

    expect(page).to_have_url(re.compile(r"/catalog/$"))
    expect(card_titles(page)).to_have_text(ALL_RESEARCH)

    page.go_forward()

    expect(card_titles(page)).to_have_text(["ACME Notebook"])


def test_back_restores_the_search_box_too(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    search_box(page).fill("acme")
    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    search_box(page).fill("vllm")
    expect(page).to_have_url(re.compile(r"\?q=vllm$"))

    page.go_back()

    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    expect(search_box(page)).to_have_value("acme", timeout=2000)


def test_back_from_a_profile_returns_to_the_search(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    search_box(page).fill("acme")
    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    page.get_by_role("link", name="ACME Notebook").click()
    expect(page).to_have_url(re.compile(rf"{ACME_URL}$"))

    page.go_back()

    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog")
    expect(search_box(page)).to_be_visible()
    expect(card_titles(page)).to_have_text(["ACME Notebook"])


def test_back_after_the_history_cache_is_gone(page: Page, login, bob, catalog):
    login(bob)
    page.goto(CATALOG)
    search_box(page).fill("acme")
    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    search_box(page).fill("vllm")
    expect(page).to_have_url(re.compile(r"\?q=vllm$"))
    # What htmx does once more than historyCacheSize (10) pages were pushed.
    page.evaluate("sessionStorage.removeItem('htmx-history-cache')")

    page.go_back()

    expect(page).to_have_url(re.compile(r"\?q=acme$"))
    expect(card_titles(page)).to_have_text(["ACME Notebook"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Catalog", timeout=2000)
    expect(search_box(page)).to_be_visible(timeout=2000)


# Icons -------------------------------------------------------------------------------------------

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a3a1"
    "d60000000049454e44ae426082"
)


@pytest.fixture
def icons(page: Page, research, notebook_version) -> Callable:
    """Profiles with icons served by Playwright's router: one image, one 404."""
    page.route(
        "https://icons.example.com/ok.png",
        lambda route: route.fulfill(status=200, content_type="image/png", body=PNG_1X1),
    )
    page.route(
        "https://icons.example.com/broken.png",
        lambda route: route.fulfill(status=404, content_type="text/plain", body="missing"),
    )
    for name, url, kind in [
        ("good-icon", "https://icons.example.com/ok.png", "inference"),
        ("broken-icon", "https://icons.example.com/broken.png", "jobs"),
    ]:
        make_profile(
            research,
            name,
            version=notebook_version,
            status="ready",
            display_name=name.replace("-", " ").title(),
            icon_url=url,
            service_type=kind,
        )


def test_a_working_icon_is_shown(page: Page, login, bob, icons):
    login(bob)
    page.goto(CATALOG)
    card = page.get_by_role("article").filter(has_text="Good Icon")
    expect(card.locator("img")).to_be_visible()
    expect(card.locator(".icon-fallback")).to_be_hidden()


def test_a_broken_icon_falls_back_to_the_type_symbol(page: Page, login, bob, icons, screenshot):
    login(bob)
    page.goto(CATALOG)
    card = page.get_by_role("article").filter(has_text="Broken Icon")
    expect(card.locator("img")).to_have_count(0)
    expect(card.locator(".icon-fallback.bi-list-task")).to_be_visible()
    screenshot("catalog-broken-icon")


# A hostile readme --------------------------------------------------------------------------------


def test_a_hostile_readme_runs_nothing(page: Page, login, bob, research, notebook_version):
    make_profile(
        research,
        "hostile",
        version=notebook_version,
        status="ready",
        display_name="Hostile Readme",
        readme=XSS_README,
    )
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(bob)

    page.goto("/projects/research/catalog/research/hostile/")

    expect(readme(page).get_by_role("heading", name="Safe heading")).to_be_visible()
    expect(readme(page)).to_contain_text("Text after the payloads.")
    assert page.evaluate("typeof window.__xss") == "undefined"
    for tag in ("script", "iframe", "svg", "style", "object", "embed", "details", "form"):
        expect(readme(page).locator(tag)).to_have_count(0)
    expect(readme(page).locator("[style]")).to_have_count(0)
    expect(readme(page).locator("[onerror], [onload], [onmouseover], [ontoggle]")).to_have_count(0)
    for link in readme(page).locator("a").all():
        assert link.get_attribute("href") is None

    page.get_by_text("Click the javascript link").click()
    page.get_by_text("Markdown javascript link").click()
    page.get_by_text("Hover me").hover()

    expect(page).to_have_url(re.compile(r"/catalog/research/hostile/$"))
    expect(page.locator("body")).to_be_visible()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
