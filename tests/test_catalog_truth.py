"""The catalog tells the truth (issue 12): who sets a sensitive input, what search looks at,
dates instead of revision numbers, and a project overview that shows each person the pages
they may open. Django test client, real database.
"""

import re

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compute import services as compute
from profiles import services
from profiles.models import ServiceProfile
from studio import freshness
from tests.factories import make_profile, make_template, profiles_in_bulk

# Helpers -----------------------------------------------------------------------------------------


def catalog_url(project: str = "research") -> str:
    return reverse("catalog:list", args=[project])


def detail_url(owner: str, name: str, project: str = "research") -> str:
    return reverse("catalog:detail", args=[project, owner, name])


def overview_url(project: str = "research") -> str:
    return reverse("catalog:overview", args=[project])


def text_of(html: str) -> str:
    """Visible text, roughly: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def input_rows(html: str) -> dict[str, str]:
    """The detail page's inputs, by display name, each row as text."""
    block = re.search(
        r'<ul class="list-group list-group-flush catalog-inputs">(.*?)</ul>', html, re.S
    ).group(1)
    rows = re.findall(r'<li class="list-group-item">(.*?)</li>', block, re.S)
    return {
        re.search(r'<span class="fw-semibold">([^<]+)</span>', row).group(1): text_of(row)
        for row in rows
    }


def shown(response) -> set[str]:
    return {p.name for p in response.context["page"].object_list}


def tiles(html: str) -> dict[str, str]:
    """The overview tiles: each one's link text and where it goes."""
    row = re.search(r'<div class="row g-3 mb-4">(.*?)\n</div>', html, re.S).group(1)
    links = re.findall(
        r'<h2 class="stat-label[^"]*"><a class="stretched-link" href="([^"]+)">([^<]+)</a>', row
    )
    return {label: href for href, label in links}


# Who sets a sensitive input ----------------------------------------------------------------------


@pytest.fixture
def secrets_version(system):
    """Sensitive variables of every kind: with or without a default, each override."""
    return make_template(
        system,
        "secrets",
        variables=[
            {"name": "open_key", "sensitive": True, "value": "sk-open-default"},
            {
                "name": "locked_key",
                "sensitive": True,
                "value": "sk-locked",
                "override": "notallowed",
            },
            {
                "name": "picked_key",
                "sensitive": True,
                "value": "red",
                "override": "restricted",
                "restricted_values": ["red", "blue"],
            },
            {"name": "own_key", "sensitive": True, "required": True},
            {"name": "extra_key", "sensitive": True},
            {"name": "unused_key", "sensitive": True, "override": "notallowed"},
        ],
    )


@pytest.fixture
def secrets_profile(research, secrets_version, dave):
    return make_profile(
        research,
        "secrets",
        version=secrets_version,
        actor=dave,
        status="ready",
        inputs={
            "open_key": {"display_name": "Open key"},
            "locked_key": {"display_name": "Locked key"},
            "picked_key": {"display_name": "Picked key"},
            "own_key": {"display_name": "Own key"},
            "extra_key": {"display_name": "Extra key"},
            "unused_key": {"display_name": "Unused key"},
        },
    )


@pytest.fixture
def secret_rows(client, bob, secrets_profile) -> dict[str, str]:
    client.force_login(bob)
    response = client.get(detail_url("research", "secrets"))
    assert response.status_code == 200
    return input_rows(response.content.decode())


def test_a_sensitive_default_the_user_may_override_is_set_by_the_platform_team(secret_rows):
    row = secret_rows["Open key"]
    assert "Sensitive. Set by the platform team; you may replace it." in row
    assert "enter it" not in row


def test_a_restricted_sensitive_default_may_be_replaced_too(secret_rows):
    assert "Sensitive. Set by the platform team; you may replace it." in secret_rows["Picked key"]


def test_a_sensitive_default_the_user_may_not_override_is_only_set_by_the_platform_team(
    secret_rows,
):
    row = secret_rows["Locked key"]
    assert row.endswith("Sensitive. Set by the platform team.")
    assert "replace" not in row and "enter it" not in row


def test_a_required_sensitive_input_without_default_is_entered_at_launch(secret_rows):
    row = secret_rows["Own key"]
    assert row.endswith("Sensitive. You will enter it when you launch.")
    assert "platform team" not in row


def test_an_optional_sensitive_input_without_default_may_be_entered_at_launch(secret_rows):
    row = secret_rows["Extra key"]
    assert row.endswith("Sensitive. You may enter it when you launch.")
    assert "platform team" not in row.split("Sensitive.")[1]


def test_a_locked_sensitive_input_without_value_says_it_is_left_empty(secret_rows):
    assert secret_rows["Unused key"].endswith("Sensitive. Left empty by the platform team.")


def test_a_default_the_profile_clears_is_entered_at_launch(client, bob, research, secrets_version):
    """The profile's own value counts, not the template's: cleared, the user enters it."""
    make_profile(
        research,
        "cleared",
        version=secrets_version,
        status="ready",
        inputs={"open_key": {"display_name": "Open key", "value": "", "required": True}},
    )
    client.force_login(bob)
    rows = input_rows(client.get(detail_url("research", "cleared")).content.decode())
    assert rows["Open key"].endswith("Sensitive. You will enter it when you launch.")


def test_the_catalog_never_shows_the_sensitive_values(client, bob, secrets_profile):
    client.force_login(bob)
    html = client.get(detail_url("research", "secrets")).content.decode()
    assert "sk-open-default" not in html and "sk-locked" not in html


def test_what_the_catalog_says_is_what_the_launch_form_asks(
    client, bob, secrets_profile, workstation
):
    """ "You may replace it" inputs have a field at launch; "Set by the platform team" none."""
    client.force_login(bob)
    launch = reverse("compute:launch", args=["research", "research", "secrets"])
    fields = client.get(launch).context["form"].fields
    assert "var_open_key" in fields and "var_picked_key" in fields and "var_own_key" in fields
    assert "var_locked_key" not in fields and "var_unused_key" not in fields


# Search: readme and environment template ---------------------------------------------------------


@pytest.fixture
def findable(research, platform, system, dave):
    """One profile whose readme and template carry words found nowhere else."""
    vllm = make_template(system, "vllm-server", display_name="Paged Attention Server")
    plain = make_template(system, "plain")
    make_profile(
        platform,
        "chat",
        version=vllm,
        status="ready",
        sharing="all",
        display_name="Chat",
        description="Talk to a model.",
        readme="# Chat\n\nThe **Zanzibar** cluster serves it. See `tensorparallel` below.",
    )
    make_profile(research, "other", version=plain, status="ready", display_name="Other")
    make_profile(
        research,
        "hidden-draft",
        version=vllm,
        display_name="Draft",
        readme="Zanzibar, but not ready yet.",
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("zanzibar", {"chat"}, id="readme-word-any-case"),
        pytest.param("TENSORPARALLEL", {"chat"}, id="readme-code-span"),
        pytest.param("vllm-server", {"chat"}, id="template-name"),
        pytest.param("vllm", {"chat"}, id="part-of-template-name"),
        pytest.param("paged attention", {"chat"}, id="template-display-name"),
        pytest.param("zanzibar talk", {"chat"}, id="readme-and-description"),
        pytest.param("zanzibar other", set(), id="every-word-must-match"),
        pytest.param("plain", {"other"}, id="the-other-template"),
    ],
)
def test_catalog_search_looks_in_readme_and_template(client, bob, findable, q, expected):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": q})
    assert response.status_code == 200
    assert shown(response) == expected


def test_the_tab_counts_follow_a_readme_search(client, bob, findable):
    client.force_login(bob)
    html = client.get(catalog_url(), {"q": "zanzibar"}).content.decode()
    assert re.search(r"All <span class=\"badge[^\"]*\">1</span>", html)


def test_the_search_box_says_what_it_searches(client, bob, findable):
    client.force_login(bob)
    html = client.get(catalog_url()).content.decode()
    assert re.search(r'<input type="search"[^>]* aria-describedby="catalog-q-help"', html)
    assert (
        '<div class="form-text" id="catalog-q-help">Finds every word in a service\'s name, '
        "description, readme, environment template or labels.</div>"
    ) in html


@pytest.mark.parametrize("q", ["zanzibar", "vllm-server"])
def test_the_catalog_api_searches_the_same_way(client, bob, findable, q):
    client.force_login(bob)
    response = client.get(reverse("api:catalog", args=["research"]), {"q": q})
    assert response.status_code == 200
    assert [item["metadata"]["name"] for item in response.json()["items"]] == ["chat"]


def test_the_api_schema_says_what_catalog_search_looks_at(client, bob):
    client.force_login(bob)
    schema = yaml.safe_load(client.get("/apis/schema/").content)
    operation = schema["paths"]["/apis/paas.envmgmt.io/v1/projects/{project}/catalog/"]["get"]
    (q,) = [p for p in operation["parameters"] if p["name"] == "q"]
    assert "readme" in q["description"] and "environment template" in q["description"]
    studio_list = schema["paths"]["/apis/paas.envmgmt.io/v1/projects/{project}/serviceprofiles/"]
    (studio_q,) = [p for p in studio_list["get"]["parameters"] if p["name"] == "q"]
    assert "readme" not in studio_q["description"]  # Studio's list searches less


def bulk(count: int, project, version, **fields) -> None:
    profiles_in_bulk(
        ServiceProfile(
            project=project,
            name=f"bulk-{project.name}-{i:03d}",
            display_name=f"Bulk {i:03d}",
            template_version=version,
            readme=f"# Bulk {i}\n\nRuns on the Zanzibar cluster.",
            status="ready",
            **fields,
        )
        for i in range(count)
    )


@pytest.mark.parametrize("q", ["zanzibar", "vllm-server", "zanzibar vllm"])
def test_searching_readme_and_template_keeps_the_query_count(client, bob, research, system, q):
    version = make_template(system, "vllm-server")
    client.force_login(bob)
    freshness.token()  # made once, by the first page that asks: not a cost of the catalog
    bulk(3, research, version)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(catalog_url(), {"q": q})
        return len(captured), response.context["page"].paginator.count

    small, found = queries()
    assert found == 3
    ServiceProfile.objects.all().delete()
    bulk(100, research, version)
    large, found = queries()
    assert found == 100
    assert small == large <= 8


# No "revision" on the catalog pages --------------------------------------------------------------


@pytest.fixture
def revised(cast, research, system):
    profile = make_profile(
        research,
        "revised",
        version=make_template(system, "tpl", display_name="Base Image"),
        actor=cast["dave"],
        status="ready",
        display_name="Revised",
        readme="# Revised\n\nA notebook.",
    )
    profile.description = "Changed once."
    profile.save()
    assert services.commit_revision(profile=profile, actor=cast["dave"])
    profile.refresh_from_db()
    assert profile.revision == 2
    return profile


@pytest.mark.parametrize("view", ["list", "detail", "overview"])
def test_members_never_read_revision_on_catalog_pages(client, bob, revised, view):
    url = {
        "list": catalog_url(),
        "detail": detail_url("research", "revised"),
        "overview": overview_url(),
    }[view]
    client.force_login(bob)
    html = client.get(url).content.decode()
    assert "revision" not in html.lower()


def test_the_detail_page_says_when_the_profile_was_updated(client, bob, revised):
    client.force_login(bob)
    html = client.get(detail_url("research", "revised")).content.decode()
    day = revised.modified_at.strftime("%b %-d, %Y")
    assert f"Updated {day}" in text_of(html)
    assert f'<time datetime="{revised.modified_at.isoformat()}">' in html


def test_the_detail_page_names_the_environment_template(client, bob, revised):
    """Search finds a template's name, so the page that opens shows it."""
    client.force_login(bob)
    assert "Base Image environment template" in text_of(
        client.get(detail_url("research", "revised")).content.decode()
    )


def test_studio_keeps_the_revision_for_admins(client, dave, revised):
    client.force_login(dave)
    html = client.get(reverse("profiles:view", args=["research", "revised"])).content.decode()
    assert "revision 2" in text_of(html).lower()


# The project overview ----------------------------------------------------------------------------


@pytest.fixture
def templates(system, research):
    make_template(system, "sys-tpl", display_name="System Template")
    make_template(research, "own-tpl", display_name="Own Template")


def test_members_do_not_see_the_templates_table(client, bob, templates):
    client.force_login(bob)
    html = client.get(overview_url()).content.decode()
    assert 'id="templates-heading"' not in html
    assert "System Template" not in html and "own-tpl" not in html
    assert "<table" not in html


def test_admins_see_the_templates_table(client, dave, templates):
    client.force_login(dave)
    html = client.get(overview_url()).content.decode()
    assert 'id="templates-heading"' in html
    assert "System Template" in html and "own-tpl" in html


def test_a_members_tiles_lead_to_pages_they_may_open(client, bob, templates):
    client.force_login(bob)
    found = tiles(client.get(overview_url()).content.decode())
    assert found == {
        "In the catalog": reverse("catalog:list", args=["research"]),
        "Your services": reverse("compute:services", args=["research"]),
        "Compute Instances": reverse("compute:instances", args=["research"]),
    }
    for url in found.values():
        assert client.get(url).status_code == 200


def test_an_admins_tiles_lead_to_their_pages(client, dave, templates):
    client.force_login(dave)
    found = tiles(client.get(overview_url()).content.decode())
    assert found == {
        "In the catalog": reverse("catalog:list", args=["research"]),
        "Service profiles": reverse("profiles:list", args=["research"]),
        "Members": reverse("studio:members", args=["research"]),
    }
    for url in found.values():
        assert client.get(url).status_code == 200


def tile_text(html: str, testid: str) -> str:
    """A tile's count and the line under it."""
    match = re.search(
        rf'data-testid="{testid}">(\d+)</div>\s*<div class="small[^"]*">([^<]*)</div>', html
    )
    return f"{match.group(1)} {match.group(2)}"


def test_a_members_empty_tiles_say_what_to_do(client, bob, projects):
    client.force_login(bob)
    html = client.get(overview_url()).content.decode()
    assert tile_text(html, "catalog-count") == (
        "0 Nothing is ready to launch yet: your platform team publishes services here."
    )
    assert tile_text(html, "service-count") == (
        "0 You have not launched a service yet: launch one from the catalog."
    )
    assert tile_text(html, "instance-count") == (
        "0 No compute instance is registered yet: register the machine you will launch onto."
    )


def test_a_members_tiles_count_what_they_see(client, bob, cast, research, system, workstation):
    version = make_template(system, "tpl")
    profile = make_profile(research, "echo", version=version, status="ready")
    for user, name in [(bob, "bobs"), (cast["dave"], "daves")]:
        compute.launch(project=research, actor=user, profile=profile, name=name,
                       instance=workstation, submitted={})  # fmt: skip
    client.force_login(bob)
    html = client.get(overview_url()).content.decode()
    assert tile_text(html, "catalog-count") == "1 ready services you can launch"
    assert tile_text(html, "service-count") == "1 service you launched in this project"
    assert tile_text(html, "instance-count") == (
        "1 machine registered in this project to launch onto"
    )


def test_an_admins_empty_tiles_and_table_say_so(client, dave, bob, projects):
    client.force_login(dave)
    html = client.get(overview_url()).content.decode()
    assert tile_text(html, "catalog-count").startswith("0 Nothing is ready to launch yet")
    assert tile_text(html, "profile-count") == (
        "0 This project has no service profiles yet: create one in PaaS Studio."
    )
    assert tile_text(html, "member-count") == "2 members of this project"
    assert "No environment templates are available to this project yet." in text_of(html)


@pytest.mark.parametrize("extra", [2, 20])
def test_a_members_overview_query_count_does_not_grow(client, bob, system, research, extra):
    for n in range(extra):
        version = make_template(system, f"tpl-{n}")
        make_profile(research, f"p-{n}", version=version, status="ready")
    client.force_login(bob)
    with CaptureQueriesContext(connection) as queries:
        client.get(overview_url())
    # session with the page token, user, project+role, 3 counts, switcher
    assert len(queries) == 7
