"""axe-core (vendored, tests/e2e/vendor/axe.min.js) on the end-user catalog pages.

WCAG 2.0/2.1 A and AA rules; a "serious" or "critical" violation fails the test and prints the
rule, its help text and the offending elements.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.factories import make_profile

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # axe is injected as an inline script, which the pages' CSP (rightly) refuses.
    pytest.mark.browser_context_args(bypass_csp=True),
]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}

README = """\
# Getting started

Launch a notebook with the team's libraries.

| Size  | GPUs |
|:------|-----:|
| small |    1 |
| large |    8 |

```python
import torch
```

![Architecture diagram](https://icons.example.com/diagram.png)

Read [the guide](https://docs.example.com/notebooks).
"""


def axe_violations(page: Page) -> list[dict]:
    """Run axe on the page as it stands; the serious and critical violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                targets: v.nodes.map(n => n.target.join(' ')),
            }));
        }""",
        WCAG_TAGS,
    )
    return [v for v in result if v["impact"] in BLOCKING]


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    report = "\n".join(
        f"{v['impact']}: {v['id']} - {v['help']}\n  " + "\n  ".join(v["targets"])
        for v in violations
    )
    assert not violations, f"axe found {len(violations)} blocking violation(s):\n{report}\n" + (
        json.dumps(violations, indent=1)
    )


@pytest.fixture
def icons(page: Page):
    """Icon and image addresses the readme and cards use, answered without any network."""
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a3a1"
        "d60000000049454e44ae426082"
    )
    page.route(
        "https://icons.example.com/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=png),
    )


@pytest.fixture
def shared(cast, projects, system, notebook_version, icons):
    platform, research = projects["platform"], projects["research"]
    make_profile(
        platform,
        "acme-notebook",
        version=notebook_version,
        status="ready",
        sharing="selected",
        shared_with=[research],
        display_name="ACME Notebook",
        description="GPU notebook with the team's libraries.",
        icon_url="https://icons.example.com/acme.png",
        readme=README,
        labels={"team": "ml"},
        outputs={"url": {"display_name": "Notebook URL"}},
    )
    make_profile(
        research,
        "nightly-etl",
        version=notebook_version,
        status="ready",
        display_name="Nightly ETL",
        service_type="jobs",
    )
    make_profile(
        system,
        "vllm-inference",
        version=notebook_version,
        status="ready",
        display_name="vLLM Inference",
        service_type="inference",
        description="Serve open models.",
    )


def test_catalog_with_results(page: Page, login, bob, shared):
    login(bob)
    page.goto("/projects/research/catalog/")
    expect(page.get_by_role("article")).to_have_count(3)
    assert_accessible(page)


def test_catalog_after_choosing_a_tab(page: Page, login, bob, shared):
    login(bob)
    page.goto("/projects/research/catalog/")
    page.get_by_role("navigation", name="Service types").get_by_role(
        "link", name=re.compile(r"^Jobs")
    ).click()
    expect(page).to_have_url(re.compile(r"\?type=jobs$"))
    expect(page.get_by_role("article")).to_have_count(1)
    assert_accessible(page)


def test_empty_catalog(page: Page, login, bob):
    login(bob)
    page.goto("/projects/research/catalog/")
    expect(page.get_by_role("heading", name="The catalog is empty")).to_be_visible()
    assert_accessible(page)


def test_search_without_result(page: Page, login, bob, shared):
    login(bob)
    page.goto("/projects/research/catalog/?q=quantum")
    expect(page.get_by_text("Nothing matches “quantum”.")).to_be_visible()
    assert_accessible(page)


def test_detail_page(page: Page, login, bob, shared):
    login(bob)
    page.goto("/projects/research/catalog/platform/acme-notebook/")
    expect(page.locator(".readme").get_by_role("table")).to_be_visible()
    assert_accessible(page)
