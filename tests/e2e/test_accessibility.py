"""Automated accessibility checks of the PaaS Studio pages with axe-core (WCAG 2.0/2.1 A and AA).

axe-core is vendored in tests/e2e/vendor (axe.min.js, MPL-2.0, see LICENSE-axe-core.txt) and
injected into each page; nothing is fetched from a CDN. A page passes when axe reports no
violation of impact "serious" or "critical". Each page is also saved as
test-results/screenshots/studio-page-<name>.png.
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
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_VIOLATIONS[name])]
            if name in KNOWN_VIOLATIONS
            else [],
        )
        for name in PAGES
    ]


@pytest.mark.parametrize("name", page_params())
def test_studio_page_has_no_serious_axe_violations(
    page: Page, login, alice, studio_data, screenshot, name
):
    path, heading = PAGES[name]
    login(alice)
    page.goto(path)
    expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible()
    if name == "general":
        # The readme preview loads itself (htmx) once the page is there: check it settled.
        expect(page.get_by_label("Readme preview")).to_have_text("Nothing to preview yet.")
    if name == "delete":
        expect(page.get_by_role("button", name="Delete")).to_be_disabled()
    screenshot(f"studio-page-{name}")

    violations = run_axe(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    others = [v for v in violations if v["impact"] not in BLOCKING]
    if others:
        print(f"{name}: minor/moderate axe violations:\n{describe(others)}")
    assert not blocking, f"{name}: serious/critical axe violations:\n{describe(blocking)}"
