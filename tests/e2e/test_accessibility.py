"""Automated accessibility checks of the PaaS Studio pages with axe-core (WCAG 2.0/2.1 A and AA).

axe-core is vendored in tests/e2e/vendor (axe.min.js, MPL-2.0, see LICENSE-axe-core.txt) and
injected into each page; nothing is fetched from a CDN. A page passes when axe reports no
violation of impact "serious" or "critical", on a desktop (1366x900) and on a phone (390x844).
Each page is also saved as test-results/screenshots/studio-page-<name>-<size>.png.

axe does not judge focus rings; the last tests here tab through pages and check that each
control the keyboard reaches shows an outline contrasting 3:1 or more with what is behind it.
"""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from profiles.models import ServiceProfile
from tests.factories import make_profile

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # axe is injected as an inline script, which the pages' CSP (rightly) refuses.
    pytest.mark.browser_context_args(bypass_csp=True),
]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}

STUDIO = "/projects/platform/studio/"
PROFILES = f"{STUDIO}service-profiles/"

README = """# Team Notebook

JupyterLab on a GPU with the team's libraries.

| GPU | Memory |
|---|---|
| A100 | 80 GiB |

```python
import torch
print(torch.cuda.is_available())
```
"""

# name -> (path, a heading that shows the page is there)
PAGES = {
    "studio-home": (STUDIO, "PaaS Studio"),
    "list": (PROFILES, "Service Profiles"),
    "general": (f"{PROFILES}new/", "New Service Profile"),
    "inputs": (f"{PROFILES}draft-notebook/inputs/", "Input Settings"),
    "outputs": (f"{PROFILES}draft-notebook/outputs/", "Output Settings"),
    "sharing": (f"{PROFILES}draft-notebook/sharing/", "Sharing"),
    "view": (f"{PROFILES}team-notebook/", "Revisions"),
    "system-profiles": (f"{STUDIO}system-profiles/", "System Profiles"),
    "clone": (f"{STUDIO}system-profiles/jupyter-notebook/clone/", "Clone Jupyter Notebook"),
    "delete": (f"{PROFILES}team-notebook/delete/", "Delete Team Notebook?"),
}

# Pages whose own markup axe faults, with why; strict, so a fix turns them into failures to
# remove from here.
KNOWN_VIOLATIONS: dict[str, str] = {}

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def studio_data(platform, research, finance, system, alice, notebook_version) -> None:
    """A ready profile, a draft that reached Sharing, and a system profile to clone."""
    ready = make_profile(
        platform,
        "team-notebook",
        version=notebook_version,
        actor=alice,
        display_name="Team Notebook",
        description="GPU notebook with the team's libraries.",
        readme=README,
        labels={"team": "ml"},
        icon_url="https://example.invalid/jupyter.svg",
        sharing="selected",
        shared_with=[research],
        status=ServiceProfile.Status.READY,
        inputs={
            "notebook_profile": {"restricted_values": ["pytorch", "rapids"], "value": "rapids"}
        },
    )
    assert ready.revision == 1
    make_profile(
        platform,
        "draft-notebook",
        version=notebook_version,
        actor=alice,
        display_name="Draft Notebook",
        wizard_step=ServiceProfile.Step.SHARING,
    )
    make_profile(
        system,
        "jupyter-notebook",
        version=notebook_version,
        display_name="Jupyter Notebook",
        description="JupyterLab on a GPU, with PyTorch, TensorFlow or RAPIDS.",
        status=ServiceProfile.Status.READY,
        sharing="all",
    )


def run_axe(page: Page) -> list[dict]:
    """axe's WCAG 2.x A/AA violations on the page as it stands."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=AXE)
    result = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map((n) => ({
                    target: n.target, html: n.html, summary: n.failureSummary,
                })),
            }));
        }""",
        WCAG_TAGS,
    )
    return result


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"]:
            lines.append(f"    target {json.dumps(node['target'])}")
            lines.append(f"      {node['html'][:200]}")
            lines.append("      " + (node["summary"] or "").replace("\n", "\n      "))
    return "\n".join(lines)


def page_params() -> list:
    return [
        pytest.param(
            name,
            size,
            id=f"{name}-{size}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_VIOLATIONS[name])]
            if name in KNOWN_VIOLATIONS
            else [],
        )
        for name in PAGES
        for size in SIZES
    ]


@pytest.mark.parametrize(("name", "size"), page_params())
def test_studio_page_has_no_serious_axe_violations(
    page: Page, login, alice, studio_data, screenshot, name, size
):
    path, heading = PAGES[name]
    page.set_viewport_size(SIZES[size])
    login(alice)
    page.goto(path)
    expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
    if name == "general":
        # The readme preview loads itself (htmx) once the page is there: check it settled.
        expect(page.get_by_label("Readme preview")).to_have_text("Nothing to preview yet.")
    if name == "delete":
        expect(page.get_by_role("button", name="Delete")).to_be_disabled()
    screenshot(f"studio-page-{name}-{size}")

    violations = run_axe(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    others = [v for v in violations if v["impact"] not in BLOCKING]
    if others:
        print(f"{name}: minor/moderate axe violations:\n{describe(others)}")
    assert not blocking, f"{name}: serious/critical axe violations:\n{describe(blocking)}"


# Focus rings ----------------------------------------------------------------------------------

# What the keyboard is on, and its ring: outline style and width, and the contrast of the
# outline's colour with the background behind the ring (the parent's, or the element's own
# when the ring is drawn inside it), layers of translucent backgrounds composited. A control
# that draws no ring of its own may have a close ancestor draw it (a catalog card for the link
# stretched over it).
FOCUS_RING = """() => {
    const focused = document.activeElement;
    if (!focused || focused === document.body) return null;
    let el = focused;
    for (let up = 0; up < 4 && el.parentElement; up++) {
        if (getComputedStyle(el).outlineStyle !== "none") break;
        el = el.parentElement;
    }
    if (getComputedStyle(el).outlineStyle === "none") el = focused;
    const parse = (c) => {
        const m = c.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return null;
        const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
        return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
    };
    const over = (top, under) => ({
        r: top.r * top.a + under.r * (1 - top.a),
        g: top.g * top.a + under.g * (1 - top.a),
        b: top.b * top.a + under.b * (1 - top.a), a: 1,
    });
    const lum = (c) => {
        const f = (v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    };
    const style = getComputedStyle(el);
    const layers = [];
    let node = parseFloat(style.outlineOffset) < 0 ? el : el.parentElement;
    for (; node; node = node.parentElement) {
        const c = parse(getComputedStyle(node).backgroundColor);
        if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let background = {r: 255, g: 255, b: 255, a: 1};
    for (const layer of layers.reverse()) background = over(layer, background);
    const ring = parse(style.outlineColor);
    const [light, dark] = [lum(ring), lum(background)].sort((x, y) => y - x);
    const name = (focused.getAttribute("aria-label") || focused.innerText || focused.value ||
        focused.id || "").trim().split("\\n")[0].slice(0, 40);
    return {
        what: `${focused.tagName.toLowerCase()}.${[...focused.classList].join(".")} "${name}"`,
        ring: el === focused ? "own" : el.tagName.toLowerCase() + "." + [...el.classList].join("."),
        style: style.outlineStyle, width: parseFloat(style.outlineWidth),
        contrast: Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100,
    };
}"""


def tab_through(page: Page, limit: int = 120) -> list[dict]:
    """Press Tab from the top of the page until focus leaves it; the ring at each stop."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring is None or (stops and ring["what"] == stops[0]["what"]):
            break
        stops.append(ring)
    return stops


def faint(rings: list[dict]) -> list[dict]:
    return [r for r in rings if r["style"] == "none" or r["width"] < 2 or r["contrast"] < 3]


FOCUS_PAGES = {
    # the frame's menus and buttons, search, selects, the Actions menus, the sidebar
    "list": f"{PROFILES}",
    # text fields, a textarea, a select, the step links, the submit buttons
    "general": f"{PROFILES}draft-notebook/general/",
    # the catalog's service-type tabs and its cards
    "catalog": "/projects/platform/catalog/",
}


@pytest.mark.parametrize("name", list(FOCUS_PAGES))
def test_every_control_the_keyboard_reaches_shows_a_focus_ring(
    page: Page, login, alice, studio_data, screenshot, name
):
    page.set_viewport_size(SIZES["desktop"])
    login(alice)
    page.goto(FOCUS_PAGES[name])
    expect(page.locator("main h1")).to_be_visible()
    rings = tab_through(page)
    assert len(rings) >= 8, rings
    assert not faint(rings), f"{name}: controls without a 3:1 focus ring: {faint(rings)}"


def test_menu_items_and_the_phone_menu_show_a_focus_ring(
    page: Page, login, alice, studio_data, screenshot
):
    login(alice)
    page.goto(PROFILES)
    actions = page.get_by_role("button", name="Actions for team-notebook")
    actions.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("link", name="View", exact=True)).to_be_focused()
    view = page.evaluate(FOCUS_RING)
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Project: Platform").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("link", name="Platform platform")).to_be_focused()
    current_project = page.evaluate(FOCUS_RING)  # the highlighted entry, in the dark top bar
    screenshot("focus-ring-project-menu")
    page.keyboard.press("Escape")

    page.set_viewport_size(SIZES["phone"])
    page.get_by_role("button", name="Project menu", exact=True).focus()
    toggle = page.evaluate(FOCUS_RING)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Platform")).to_be_focused()
    page.keyboard.press("Tab")  # the panel's close button
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Overview")).to_be_focused()
    link = page.evaluate(FOCUS_RING)
    screenshot("focus-ring-phone-menu")

    rings = [view, current_project, toggle, link]
    assert not faint(rings), f"controls without a 3:1 focus ring: {faint(rings)}"
