"""Hardening headers: a Content-Security-Policy that every page keeps to, and Permissions-Policy.

The policy allows scripts and styles from our own origin only, an inline script only with the
request's nonce, and no style attributes; so no page may carry an inline handler (``onclick=``),
a ``style=`` attribute, a ``<style>`` element or a ``<script>`` without ``src`` and that nonce.
The browser test (tests/e2e/test_csp.py) shows the pages work under it.
"""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from profiles.models import EnvironmentTemplate, ServiceProfile
from tests.factories import make_profile

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'nonce-*'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "https:", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
DENIED_FEATURES = ["camera", "microphone", "geolocation", "payment", "usb"]
README = """# Team notebook

| size | GPUs |
|------|------|
| small | 1 |

```python
import torch
```

![diagram](https://icons.example.com/diagram.png)
"""


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def nonce_of(response) -> str | None:
    for value in directives(response)["script-src"]:
        if found := re.fullmatch(r"'nonce-([^']+)'", value):
            return found[1]
    return None


class InlineCode(HTMLParser):
    """What on a page the policy would block: inline handlers, styles and un-nonced scripts."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce = nonce
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=…>")
        if tag == "style":
            self.found.append("<style> element")
        nonced = self.nonce is not None and attributes.get("nonce") == self.nonce
        if tag == "script" and "src" not in attributes and not nonced:
            self.found.append("<script> without src or the request's nonce")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)


def blocked_inline_code(response) -> list[str]:
    parser = InlineCode(nonce_of(response))
    parser.feed(response.content.decode())
    return parser.found


@pytest.fixture
def profile(platform, alice, notebook_version) -> ServiceProfile:
    return make_profile(
        platform,
        "team-notebook",
        version=notebook_version,
        actor=alice,
        status=ServiceProfile.Status.READY,
        wizard_step=ServiceProfile.Step.SHARING,
        sharing="all",
        readme=README,
        icon_url="https://icons.example.com/notebook.png",
    )


@pytest.fixture
def system_profile(system, notebook_version) -> ServiceProfile:
    return make_profile(
        system,
        "jupyter-notebook",
        version=notebook_version,
        status=ServiceProfile.Status.READY,
        sharing="all",
        readme=README,
    )


P = "/projects/platform"
STUDIO_PAGES = [
    f"{P}/",
    f"{P}/members/",
    f"{P}/studio/",
    f"{P}/studio/service-profiles/",
    f"{P}/studio/service-profiles/?q=team",
    f"{P}/studio/service-profiles/new/",
    f"{P}/studio/service-profiles/team-notebook/",
    f"{P}/studio/service-profiles/team-notebook/general/",
    f"{P}/studio/service-profiles/team-notebook/inputs/",
    f"{P}/studio/service-profiles/team-notebook/outputs/",
    f"{P}/studio/service-profiles/team-notebook/sharing/",
    f"{P}/studio/service-profiles/team-notebook/delete/",
    f"{P}/studio/system-profiles/",
    f"{P}/studio/system-profiles/jupyter-notebook/clone/",
    f"{P}/catalog/",
    f"{P}/catalog/?q=notebook&type=notebook",
    f"{P}/catalog/platform/team-notebook/",
    f"{P}/catalog/system-catalog/jupyter-notebook/",
    "/accounts/api-keys/",
    "/apis/docs/",
]


@pytest.fixture
def alice_browser(client, alice, profile, system_profile):
    client.force_login(alice)
    return client


def test_the_policy_is_the_strict_one(client, db):
    found = directives(client.get(reverse("login")))
    assert {name: [re.sub(r"nonce-[^']+", "nonce-*", v) for v in values]
            for name, values in found.items()} == POLICY  # fmt: skip


@pytest.mark.parametrize("directive", ["script-src", "style-src"])
def test_nothing_inline_or_evaluated_is_allowed(client, db, directive):
    values = directives(client.get(reverse("login")))[directive]
    assert "'unsafe-inline'" not in values
    assert "'unsafe-eval'" not in values


def test_the_login_page_has_no_inline_code(client, db):
    assert blocked_inline_code(client.get(reverse("login"))) == []


def test_the_lockout_page_has_no_inline_code(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 1
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    assert response.status_code == 429
    assert blocked_inline_code(response) == []


@pytest.mark.parametrize("url", STUDIO_PAGES)
def test_the_page_has_no_inline_code(alice_browser, url):
    response = alice_browser.get(url)
    assert response.status_code == 200
    assert "Content-Security-Policy" in response
    assert blocked_inline_code(response) == []


def test_htmx_fragments_have_no_inline_code(alice_browser):
    response = alice_browser.get(f"{P}/catalog/?q=notebook", headers={"HX-Request": "true"})
    assert "<html" not in response.content.decode()
    assert blocked_inline_code(response) == []


def test_the_readme_preview_has_no_inline_code(alice_browser):
    response = alice_browser.post(
        f"{P}/studio/readme-preview/", {"readme": README}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert blocked_inline_code(response) == []


def test_a_new_api_key_page_has_no_inline_code(alice_browser):
    alice_browser.post("/accounts/api-keys/", {"name": "CI deploy"})
    response = alice_browser.get("/accounts/api-keys/")  # lists the key with its Revoke form
    assert 'data-confirm="Revoke the key' in response.content.decode()
    assert blocked_inline_code(response) == []
    created = alice_browser.post("/accounts/api-keys/", {"name": "another"})
    assert "data-select-on-focus" in created.content.decode()
    assert blocked_inline_code(created) == []


def test_the_swagger_ui_start_up_script_carries_the_nonce(alice_browser):
    response = alice_browser.get("/apis/docs/")
    nonce = nonce_of(response)
    assert nonce
    assert f'<script nonce="{nonce}">' in response.content.decode()


def test_each_response_has_a_nonce_of_its_own(alice_browser):
    assert nonce_of(alice_browser.get("/apis/docs/")) != nonce_of(alice_browser.get("/apis/docs/"))


def admin_pages(profile, superuser) -> list[str]:
    template = EnvironmentTemplate.objects.get(name="jupyter-notebook")
    return [
        "/admin/",
        "/admin/profiles/environmenttemplate/",
        f"/admin/profiles/environmenttemplate/{template.pk}/change/",
        "/admin/profiles/environmenttemplate/add/",
        "/admin/studio/project/",
        f"/admin/studio/project/{profile.project.pk}/change/",
        "/admin/auth/user/",
        f"/admin/auth/user/{superuser.pk}/change/",
    ]


def test_the_django_admin_has_no_inline_code(client, superuser, profile):
    client.force_login(superuser)
    for url in admin_pages(profile, superuser):
        response = client.get(url)
        assert response.status_code == 200, url
        assert blocked_inline_code(response) == [], url


def test_the_admin_sign_in_has_no_inline_code(client, db):
    assert blocked_inline_code(client.get("/admin/login/?next=/admin/")) == []


# Permissions-Policy -----------------------------------------------------------------------


def permissions(response) -> dict[str, str]:
    return dict(part.strip().split("=", 1) for part in response["Permissions-Policy"].split(","))


@pytest.mark.parametrize("feature", DENIED_FEATURES)
def test_powerful_features_are_turned_off(client, db, feature):
    assert permissions(client.get(reverse("login")))[feature] == "()"


def test_api_responses_carry_the_policies_too(db):
    response = Client().get("/apis/paas.envmgmt.io/v1/projects/")
    assert response.status_code == 401
    assert "Permissions-Policy" in response
    assert "Content-Security-Policy" in response
