"""The end-user catalog (issue "Catalog for end users"; SPEC §2, §3, §5, §6).

What a project's catalog holds, who may open it, the cards, search and service-type tabs,
pagination, the htmx fragment, the empty states, query counts, and the detail page with its
rendered readme, inputs and outputs. Real database, Django test client, no mocks.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.views import PAGE_SIZE
from profiles import services, visibility
from profiles.models import ServiceProfile
from studio import freshness
from tests.factories import make_profile, make_project, make_template, make_user, profiles_in_bulk

# Helpers -----------------------------------------------------------------------------------------


def catalog_url(project: str = "research") -> str:
    return reverse("catalog:list", args=[project])


def detail_url(owner: str, name: str, project: str = "research") -> str:
    return reverse("catalog:detail", args=[project, owner, name])


def shown(response) -> set[str]:
    """Unique names of the profiles on the page the view rendered."""
    return {p.name for p in response.context["page"].object_list}


def type_tabs(response) -> str:
    html = response.content.decode()
    return re.search(r'<nav aria-label="Service types".*?</nav>', html, re.S).group(0)


def tab_counts(response) -> dict[str, int]:
    """Each service-type tab's label and count, as the page shows them."""
    nav = type_tabs(response)
    found = re.findall(r">\s*([A-Za-z ]+?)\s*<span class=\"badge[^\"]*\">(\d+)</span>", nav)
    return {label: int(count) for label, count in found}


def active_tab(response) -> str:
    """The label of the one tab marked current."""
    found = re.findall(
        r'class="nav-link active"[^>]*aria-current="page">([^<]+)<', type_tabs(response)
    )
    assert len(found) == 1
    return found[0].strip()


def cards(response) -> dict[str, str]:
    """The cards on the page, by ``owner/name``, each as its HTML."""
    html = response.content.decode()
    found = {}
    for card in re.findall(r"<article\b.*?</article>", html, re.S):
        owner, name = re.search(r'href="/projects/[^/]+/catalog/([^/]+)/([^/]+)/"', card).groups()
        found[f"{owner}/{name}"] = card
    return found


def text_of(html: str) -> str:
    """Visible text, roughly: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def spread(cast, projects, system, notebook_version):
    """Profiles of every kind of visibility, seen from research; one deleted through services."""
    platform, research, finance = projects["platform"], projects["research"], projects["finance"]
    alice = cast["alice"]
    deleted = make_profile(
        platform, "gone", version=notebook_version, status="ready", sharing="all"
    )
    services.delete_profile(profile=deleted, actor=alice)
    profiles = {
        "own-ready": {"project": research, "status": "ready"},
        "own-draft": {"project": research},
        "private": {"project": platform, "status": "ready"},
        "to-all": {"project": platform, "status": "ready", "sharing": "all"},
        "to-research": {
            "project": platform,
            "status": "ready",
            "sharing": "selected",
            "shared_with": [research, finance],
        },
        "to-finance": {
            "project": platform,
            "status": "ready",
            "sharing": "selected",
            "shared_with": [finance],
        },
        "draft-to-all": {"project": platform, "sharing": "all"},
        "draft-to-research": {
            "project": platform,
            "sharing": "selected",
            "shared_with": [research],
        },
        # System profiles are everyone's, whatever their own sharing says.
        "system-ready": {"project": system, "status": "ready"},
        "system-all": {"project": system, "status": "ready", "sharing": "all"},
        "system-draft": {"project": system, "sharing": "all"},
    }
    return {
        name: make_profile(
            fields.pop("project"), name, version=notebook_version, actor=alice, **fields
        )
        for name, fields in profiles.items()
    }


RESEARCH_CATALOG = {"own-ready", "to-all", "to-research", "system-ready", "system-all"}
HIDDEN_FROM_RESEARCH = {
    "own-draft": "research",
    "private": "platform",
    "to-finance": "platform",
    "draft-to-all": "platform",
    "draft-to-research": "platform",
    "system-draft": "system-catalog",
    "gone": "platform",
}


# What a project sees -----------------------------------------------------------------------------


def test_catalog_holds_exactly_the_ready_profiles_the_project_may_use(client, bob, spread):
    client.force_login(bob)
    response = client.get(catalog_url())
    assert response.status_code == 200
    assert shown(response) == RESEARCH_CATALOG


def test_another_project_sees_its_own_selection(client, carol, spread):
    client.force_login(carol)
    response = client.get(catalog_url("finance"))
    assert shown(response) == {"to-all", "to-research", "to-finance", "system-ready", "system-all"}


def test_a_project_with_nothing_shared_into_it_sees_system_and_all_shared(client, spread):
    make_project("newcomer")
    client.force_login(make_user("nina", newcomer="member"))
    assert shown(client.get(catalog_url("newcomer"))) == {"to-all", "system-ready", "system-all"}


def test_a_profile_shared_with_several_projects_is_listed_once(client, bob, spread):
    client.force_login(bob)
    page = client.get(catalog_url()).context["page"]
    names = [p.name for p in page.object_list]
    assert names.count("to-research") == 1
    assert page.paginator.count == len(RESEARCH_CATALOG)


@pytest.mark.parametrize("name", sorted(RESEARCH_CATALOG))
def test_every_profile_in_the_catalog_opens(client, bob, spread, name):
    client.force_login(bob)
    profile = spread[name]
    response = client.get(detail_url(profile.project.name, name))
    assert response.status_code == 200
    assert response.context["profile"].pk == profile.pk


@pytest.mark.parametrize(("name", "owner"), sorted(HIDDEN_FROM_RESEARCH.items()))
def test_what_the_catalog_does_not_list_does_not_open(client, bob, spread, name, owner):
    client.force_login(bob)
    response = client.get(detail_url(owner, name))
    assert response.status_code == 404
    assert name.replace("-", " ").title() not in response.content.decode()


def test_a_profile_is_found_only_under_its_owner(client, bob, spread):
    """The owner in the URL is part of the key: the right name under the wrong owner is 404."""
    client.force_login(bob)
    assert client.get(detail_url("research", "to-research")).status_code == 404
    assert client.get(detail_url("no-such-project", "to-research")).status_code == 404
    assert client.get(detail_url("platform", "to-research")).status_code == 200


def test_same_name_in_two_projects_makes_two_cards(client, bob, research, platform, system):
    version = make_template(system, "tpl")
    make_profile(research, "notebook", version=version, status="ready", display_name="Ours")
    make_profile(
        platform, "notebook", version=version, status="ready", sharing="all", display_name="Theirs"
    )
    client.force_login(bob)
    response = client.get(catalog_url())
    assert set(cards(response)) == {"research/notebook", "platform/notebook"}
    assert "Ours" in client.get(detail_url("research", "notebook")).content.decode()
    assert "Theirs" in client.get(detail_url("platform", "notebook")).content.decode()


# Access ------------------------------------------------------------------------------------------

# user: {project: role}; the superuser ("admin") is an admin everywhere, anyone else an outsider.
ROLES = {
    "alice": {"platform": "admin"},
    "dave": {"research": "admin"},
    "bob": {"research": "member"},
    "carol": {"finance": "member"},
}
PROJECTS = ["platform", "research", "finance", "system-catalog", "no-such-project"]


def expected_status(username: str, project: str) -> int:
    if project in {"system-catalog", "no-such-project"}:
        return 404
    if username == "admin" or project in ROLES[username]:
        return 200
    return 404


@pytest.fixture
def shipped(system, notebook_version):
    """A system profile: in every project's catalog, so every detail URL has something to show."""
    return make_profile(
        system,
        "shipped",
        version=notebook_version,
        status="ready",
        display_name="Shipped Notebook",
    )


@pytest.mark.parametrize("project", PROJECTS)
@pytest.mark.parametrize("username", ["admin", *ROLES])
@pytest.mark.parametrize("view", ["catalog:list", "catalog:detail"])
def test_access_matrix(client, cast, shipped, view, username, project):
    client.force_login(cast[username])
    args = [project] if view == "catalog:list" else [project, "system-catalog", "shipped"]
    response = client.get(reverse(view, args=args))
    assert response.status_code == expected_status(username, project)
    if response.status_code == 404:
        html = response.content.decode()
        assert "Shipped Notebook" not in html
        if project in {"platform", "research", "finance"}:
            # The project the outsider asked for is not named anywhere on the 404 page.
            assert project.title() not in html


@pytest.mark.parametrize("view", ["catalog:list", "catalog:detail"])
def test_anonymous_users_go_to_the_login_page(client, projects, shipped, view):
    args = ["research"] if view == "catalog:list" else ["research", "system-catalog", "shipped"]
    url = reverse(view, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("view", ["catalog:list", "catalog:detail"])
def test_the_catalog_is_read_only(client, bob, shipped, view, method):
    client.force_login(bob)
    args = ["research"] if view == "catalog:list" else ["research", "system-catalog", "shipped"]
    response = getattr(client, method)(reverse(view, args=args))
    assert response.status_code == 405
    assert ServiceProfile.objects.filter(name="shipped").exists()


def test_the_left_menu_marks_the_catalog_for_a_member(client, bob, projects):
    client.force_login(bob)
    html = client.get(catalog_url()).content.decode()
    assert re.search(
        r'<a class="nav-link active" href="/projects/research/catalog/"\s+aria-current="page">',
        html,
    )
    assert reverse("profiles:studio_home", args=["research"]) not in html  # members have no Studio


# Cards -------------------------------------------------------------------------------------------


@pytest.fixture
def varied(cast, projects, system, notebook_version):
    """One profile of each origin and service type, with and without an icon and description."""
    research, platform = projects["research"], projects["platform"]
    return [
        make_profile(
            research,
            "lab-notebook",
            version=notebook_version,
            status="ready",
            display_name="Lab Notebook",
            description="A notebook for the research lab.",
            service_type="notebook",
        ),
        make_profile(
            platform,
            "chat-inference",
            version=notebook_version,
            status="ready",
            sharing="all",
            display_name="Chat Inference",
            description="Serves chat models. " * 20,
            service_type="inference",
            icon_url="https://icons.example.com/chat.svg",
        ),
        make_profile(
            system,
            "batch-job",
            version=notebook_version,
            status="ready",
            sharing="all",
            display_name="Batch Job",
            service_type="jobs",
        ),
        make_profile(
            system,
            "bionemo",
            version=notebook_version,
            status="ready",
            sharing="all",
            display_name="NVIDIA BioNeMo",
            description="Protein design.",
            service_type="custom",
        ),
    ]


@pytest.mark.parametrize(
    ("key", "origin", "badge"),
    [
        ("research/lab-notebook", "This project", "Notebook"),
        ("platform/chat-inference", "Shared by Platform", "Inference"),
        ("system-catalog/batch-job", "System", "Jobs"),
        ("system-catalog/bionemo", "System", "Custom Service"),
    ],
)
def test_card_shows_origin_and_type(client, bob, varied, key, origin, badge):
    client.force_login(bob)
    card = cards(client.get(catalog_url()))[key]
    assert re.search(rf'<span class="origin [^"]+">.*?{origin}</span>', card, re.S)
    assert re.search(rf'<span class="badge type-badge type-[a-z]+">{badge}</span>', card)


def test_card_shows_the_description_shortened(client, bob, varied):
    client.force_login(bob)
    found = cards(client.get(catalog_url()))
    assert "A notebook for the research lab." in found["research/lab-notebook"]
    long_text = text_of(found["platform/chat-inference"])
    assert "Serves chat models." in long_text
    assert "…" in long_text
    assert long_text.count("Serves chat models.") < 20
    assert "No description." in found["system-catalog/batch-job"]


def test_card_title_links_to_the_detail_page(client, bob, varied):
    client.force_login(bob)
    card = cards(client.get(catalog_url()))["platform/chat-inference"]
    link = re.search(r'<a class="stretched-link[^"]*" href="([^"]+)">([^<]+)</a>', card)
    assert link.groups() == (detail_url("platform", "chat-inference"), "Chat Inference")


def test_card_without_icon_shows_the_fallback_symbol(client, bob, varied):
    client.force_login(bob)
    card = cards(client.get(catalog_url()))["research/lab-notebook"]
    assert "<img" not in card
    assert re.search(r'<i class="bi bi-journal-code icon-fallback"', card)


def test_card_with_icon_keeps_a_hidden_fallback_for_broken_images(client, bob, varied):
    client.force_login(bob)
    card = cards(client.get(catalog_url()))["platform/chat-inference"]
    img = re.search(r"<img [^>]+>", card).group(0)
    assert 'src="https://icons.example.com/chat.svg"' in img
    assert "data-fallback" in img and 'alt=""' in img
    assert 'referrerpolicy="no-referrer"' in img
    assert re.search(r'<i class="bi bi-cpu icon-fallback d-none" aria-hidden="true">', card)


def test_card_text_is_escaped(client, bob, research, system):
    version = make_template(system, "tpl")
    make_profile(
        research,
        "escaped",
        version=version,
        status="ready",
        display_name="<b>Bold</b> & co",
        description='<img src=x onerror="alert(1)">',
    )
    client.force_login(bob)
    card = cards(client.get(catalog_url()))["research/escaped"]
    assert "<b>Bold</b>" not in card and "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in card
    assert "<img src=x" not in card and "&lt;img src=x" in card


# Search and service-type tabs --------------------------------------------------------------------


@pytest.fixture
def searchable(cast, projects, system, notebook_version):
    research, platform = projects["research"], projects["platform"]

    def make(project, name, display_name, service_type, description="", labels=None, **extra):
        return make_profile(
            project,
            name,
            version=notebook_version,
            status="ready",
            display_name=display_name,
            description=description,
            service_type=service_type,
            labels=labels or {},
            **extra,
        )

    return [
        make(
            research,
            "cell-lab",
            "Genomics Lab",
            "notebook",
            "Single-cell analysis with RAPIDS.",
            {"team": "bio", "tier": "gold"},
        ),
        make(
            platform,
            "llm-serving",
            "LLM Serving",
            "inference",
            "vLLM inference for chat models.",
            {"team": "nlp"},
            sharing="all",
        ),
        make(
            research,
            "nightly-etl",
            "Nightly ETL",
            "jobs",
            "Batch job that refreshes the warehouse.",
            {"cost-center": "cc-4711"},
        ),
        make(system, "bionemo-lab", "BioNeMo", "custom", "Protein models for drug discovery."),
        make(system, "jupyter", "Jupyter Notebook", "notebook", "JupyterLab with PyTorch."),
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("genomics", {"cell-lab"}, id="display-name-any-case"),
        pytest.param("nightly-etl", {"nightly-etl"}, id="unique-name"),
        pytest.param("llm-serv", {"llm-serving"}, id="part-of-unique-name"),
        pytest.param("WAREHOUSE", {"nightly-etl"}, id="description"),
        pytest.param("cc-4711", {"nightly-etl"}, id="label-value"),
        pytest.param("gold", {"cell-lab"}, id="another-label-value"),
        pytest.param("cost-center", {"nightly-etl"}, id="label-key"),
        pytest.param("bio", {"cell-lab", "bionemo-lab"}, id="label-or-name"),
        pytest.param("rapids analysis", {"cell-lab"}, id="two-words-both-match"),
        pytest.param("  rapids   SINGLE-cell ", {"cell-lab"}, id="extra-spaces"),
        pytest.param("rapids chat", set(), id="two-words-one-misses"),
        pytest.param("custom", set(), id="not-the-service-type-name"),
        pytest.param("100%", set(), id="percent-is-literal"),
        pytest.param("_", set(), id="underscore-is-literal"),
        pytest.param(
            "", {"cell-lab", "llm-serving", "nightly-etl", "bionemo-lab", "jupyter"}, id="empty"
        ),
    ],
)
def test_search(client, bob, searchable, q, expected):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": q})
    assert response.status_code == 200
    assert shown(response) == expected


def test_a_label_is_found_the_way_the_detail_page_shows_it(client, bob, searchable):
    client.force_login(bob)
    assert shown(client.get(catalog_url(), {"q": "team=bio"})) == {"cell-lab"}
    assert shown(client.get(catalog_url(), {"q": '"'})) == set()


ALL_FIVE = {"All": 5, "Notebook": 2, "Inference": 1, "Jobs": 1, "Custom Service": 1}


def test_tabs_count_each_service_type(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url())
    assert tab_counts(response) == ALL_FIVE
    assert active_tab(response) == "All"


def test_tab_counts_follow_the_search(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "bio"})
    assert tab_counts(response) == {
        "All": 2,
        "Notebook": 1,
        "Inference": 0,
        "Jobs": 0,
        "Custom Service": 1,
    }


def test_tab_counts_ignore_the_selected_type(client, bob, searchable):
    """Counts say what each tab would show, so choosing one tab does not zero the others."""
    client.force_login(bob)
    response = client.get(catalog_url(), {"type": "jobs"})
    assert tab_counts(response) == ALL_FIVE
    assert active_tab(response) == "Jobs"


@pytest.mark.parametrize(
    ("service_type", "expected"),
    [
        ("notebook", {"cell-lab", "jupyter"}),
        ("inference", {"llm-serving"}),
        ("jobs", {"nightly-etl"}),
        ("custom", {"bionemo-lab"}),
    ],
)
def test_type_filter(client, bob, searchable, service_type, expected):
    client.force_login(bob)
    assert shown(client.get(catalog_url(), {"type": service_type})) == expected


def test_type_filter_and_search_combine(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "lab", "type": "notebook"})
    assert shown(response) == {"cell-lab", "jupyter"}  # JupyterLab is in a description
    response = client.get(catalog_url(), {"q": "lab", "type": "custom"})
    assert shown(response) == {"bionemo-lab"}


def test_tab_links_keep_the_search(client, bob, searchable):
    client.force_login(bob)
    html = client.get(catalog_url(), {"q": "bio lab"}).content.decode()
    assert 'href="?q=bio%20lab&amp;type=notebook"' in html
    assert 'href="?q=bio%20lab"' in html  # All


@pytest.mark.parametrize(
    "value", ["bogus", "NOTEBOOK", "Notebook", "", "notebook,jobs", "<script>", "x" * 5000]
)
def test_an_unknown_type_shows_everything_on_the_all_tab(client, bob, searchable, value):
    client.force_login(bob)
    response = client.get(catalog_url(), {"type": value})
    assert response.status_code == 200
    assert shown(response) == {p.name for p in searchable}
    assert active_tab(response) == "All"
    assert "<script>" not in response.content.decode()


def test_with_an_unknown_type_tab_counts_still_follow_the_search(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "bio", "type": "bogus"})
    assert shown(response) == {"cell-lab", "bionemo-lab"}
    assert tab_counts(response)["All"] == 2


@pytest.mark.parametrize(
    "query",
    [
        "q=%00",
        "q=%ff%fe",
        "q=" + "a" * 10_000,
        "q=" + "+".join(["a"] * 500),
        "q=a&q=b",
        "q[]=x",
        "type[]=jobs",
        "page=1e99",
        "page=-1",
        "page=0",
        "page=%00",
        "page=9" * 40,
        "page=2&page=x",
    ],
)
def test_malformed_query_strings_do_not_break_the_page(client, bob, searchable, query):
    client.force_login(bob)
    response = client.get(f"{catalog_url()}?{query}")
    assert response.status_code == 200
    assert response.context["page"].number >= 1


def test_search_box_keeps_what_was_typed(client, bob, searchable):
    client.force_login(bob)
    html = client.get(catalog_url(), {"q": '"quoted" <b>'}).content.decode()
    assert 'value="&quot;quoted&quot; &lt;b&gt;"' in html
    assert "<b>" not in html.split('id="results"')[1]


# Pagination --------------------------------------------------------------------------------------


def many_profiles(count: int, project, version, prefix: str = "bulk", **fields) -> None:
    """``count`` ready profiles, written in a few statements (what is under test is the
    reading)."""
    profiles_in_bulk(
        ServiceProfile(
            project=project,
            name=f"{prefix}-{project.name}-{i:03d}",
            display_name=f"Bulk {project.name} {i:03d}",
            description="Made in bulk.",
            template_version=version,
            labels={"batch": "bulk"},
            **({"status": "ready"} | fields),
        )
        for i in range(count)
    )


def test_pages_of_twenty_four(client, bob, research, system):
    many_profiles(PAGE_SIZE + 6, research, make_template(system, "tpl"))
    client.force_login(bob)
    first = client.get(catalog_url()).context["page"]
    second = client.get(catalog_url(), {"page": 2}).context["page"]
    assert len(first.object_list) == PAGE_SIZE == 24
    assert len(second.object_list) == 6
    assert not {p.pk for p in first} & {p.pk for p in second}
    assert first.paginator.count == 30


def test_pagination_links_keep_search_and_type(client, bob, research, system):
    many_profiles(PAGE_SIZE + 6, research, make_template(system, "tpl"))
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "bulk", "type": "notebook", "page": 1})
    html = response.content.decode()
    assert 'href="?q=bulk&amp;type=notebook&amp;page=2"' in html
    assert "1–24 of 30" in html
    assert "Page 1 of 2" in html


@pytest.mark.parametrize(("value", "number"), [("abc", 1), ("999", 2), ("2", 2), ("", 1)])
def test_odd_page_numbers_show_a_real_page(client, bob, research, system, value, number):
    many_profiles(PAGE_SIZE + 6, research, make_template(system, "tpl"))
    client.force_login(bob)
    response = client.get(catalog_url(), {"page": value})
    assert response.status_code == 200
    assert response.context["page"].number == number


def test_one_page_has_no_pagination(client, bob, searchable):
    client.force_login(bob)
    assert 'aria-label="Pages"' not in client.get(catalog_url()).content.decode()


# htmx --------------------------------------------------------------------------------------------


def test_htmx_request_gets_only_the_results(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "bio"}, headers={"HX-Request": "true"})
    html = response.content.decode().strip()
    assert response.status_code == 200
    assert html.startswith('<div id="results"') and html.endswith("</div>")
    assert "<html" not in html and 'id="catalog-q"' not in html and "<nav" in html
    assert set(cards(response)) == {"research/cell-lab", "system-catalog/bionemo-lab"}


def test_boosted_request_gets_the_whole_page(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in response.content.decode()


def test_history_restore_gets_the_whole_page(client, bob, searchable):
    client.force_login(bob)
    response = client.get(
        catalog_url(),
        {"q": "bio"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    html = response.content.decode()
    assert "<html" in html and 'id="catalog-q"' in html


def test_the_page_varies_on_the_htmx_header(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url())
    assert "hx-request" in response.get("Vary", "").lower()


# Empty states ------------------------------------------------------------------------------------


def test_empty_catalog_says_so(client, bob, projects):
    client.force_login(bob)
    response = client.get(catalog_url())
    text = text_of(response.content.decode())
    assert shown(response) == set()
    assert "The catalog is empty" in text
    assert "No service profile is available to Research yet." in text
    assert "matches" not in text
    assert tab_counts(response) == dict.fromkeys(ALL_FIVE, 0)


def test_a_search_without_result_says_what_did_not_match(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "quantum"})
    text = text_of(response.content.decode())
    assert "Nothing matches “quantum”." in text
    assert "Clear the search" in text
    assert "The catalog is empty" not in text
    assert re.search(
        r'<a class="[^"]*" href="/projects/research/catalog/">Clear the search</a>',
        response.content.decode(),
    )


def test_a_search_without_result_in_a_tab_names_the_tab(client, bob, searchable):
    client.force_login(bob)
    response = client.get(catalog_url(), {"q": "warehouse", "type": "notebook"})
    assert "Nothing of this type matches “warehouse”." in text_of(response.content.decode())


def test_an_empty_tab_says_no_service_of_this_type(client, bob, research, system):
    make_profile(research, "only", version=make_template(system, "tpl"), status="ready")
    client.force_login(bob)
    response = client.get(catalog_url(), {"type": "jobs"})
    text = text_of(response.content.decode())
    assert "No service of this type is available to Research yet." in text
    assert "The catalog is empty" not in text


# Queries -----------------------------------------------------------------------------------------


def populate(count: int, projects, system, version) -> None:
    """``count`` profiles visible to research, spread over every way of being visible."""
    research, platform, finance = projects["research"], projects["platform"], projects["finance"]
    kinds = [
        (research, {}),
        (platform, {"sharing": "all"}),
        (system, {}),
        (finance, {"sharing": "selected"}),
    ]
    for position, (project, fields) in enumerate(kinds):
        share = count // len(kinds) + (1 if position < count % len(kinds) else 0)
        many_profiles(share, project, version, **fields)
    through = ServiceProfile.shared_with.through
    through.objects.bulk_create(
        through(serviceprofile=profile, project=research)
        for profile in ServiceProfile.objects.filter(project=finance)
    )
    visibility.refresh(ServiceProfile.objects.filter(project=finance).values_list("pk", flat=True))
    # And what research may not see, so the filter has something to leave out.
    many_profiles(count, platform, version, prefix="private")
    many_profiles(count, finance, version, prefix="draft", sharing="all", status="draft")


def catalog_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(catalog_url(), params)
    assert response.status_code == 200
    return len(queries), response


@pytest.mark.parametrize("params", [{}, {"q": "bulk"}, {"type": "notebook"}, {"page": "2"}])
def test_catalog_query_count_does_not_grow_with_the_catalog(client, bob, projects, system, params):
    version = make_template(system, "tpl")
    client.force_login(bob)
    freshness.token()  # made once, by the first page that asks: not a cost of the catalog
    populate(3, projects, system, version)
    small, response = catalog_queries(client, **params)
    assert response.context["page"].paginator.count in {3, 1, 0}
    ServiceProfile.objects.all().delete()
    populate(300, projects, system, version)
    large, response = catalog_queries(client, **params)
    assert response.context["page"].paginator.count == 300
    assert small == large
    assert large <= 8


def test_a_save_rewrites_visibility_only_when_it_writes_what_visibility_reads(projects, system):
    profile = make_profile(projects["platform"], "quiet", version=make_template(system, "tpl"))
    profile.status = "ready"
    with CaptureQueriesContext(connection) as bookkeeping:
        profile.save(update_fields=["revision", "modified_at", "readme_html"])
    assert not [q for q in bookkeeping.captured_queries if "profiles_visibility" in q["sql"]]
    assert not ServiceProfile.objects.in_catalog_of(projects["research"]).filter(pk=profile.pk)
    profile.sharing = "all"
    profile.save(update_fields=["status", "sharing"])
    assert ServiceProfile.objects.in_catalog_of(projects["research"]).filter(pk=profile.pk)


def test_the_visible_set_is_computed_by_the_database(client, bob, projects, system):
    populate(300, projects, system, make_template(system, "tpl"))
    client.force_login(bob)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(catalog_url())
    page = response.context["page"]
    research = projects["research"]
    assert len(page.object_list) == PAGE_SIZE
    assert page.paginator.count == 300
    # The page is chosen from the visibility rows of research and of every project, in the
    # database; then only that page's profiles are read.
    [paging] = [q["sql"] for q in queries.captured_queries if f"LIMIT {PAGE_SIZE}" in q["sql"]]
    assert 'FROM "profiles_visibility"' in paging
    assert f'"profiles_visibility"."project_id" = {research.pk}' in paging
    assert '"profiles_visibility"."everyone"' in paging
    assert "profiles_serviceprofile" not in paging
    cards = [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "profiles_serviceprofile"' in q["sql"] and "COUNT(" not in q["sql"].upper()
    ]
    assert len(cards) == 1
    [ids] = re.findall(r'"profiles_serviceprofile"\."id" IN \(([^)]*)\)', cards[0])
    assert sorted(int(pk) for pk in ids.split(", ")) == sorted(p.pk for p in page.object_list)


def detail_queries(client, profile) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(detail_url(profile.project.name, profile.name))
    assert response.status_code == 200
    return len(queries)


def wide_profile(system, width: int) -> ServiceProfile:
    version = make_template(
        system,
        f"wide-{width}",
        variables=[
            {"name": f"var_{i}", "value": str(i), "description": f"Variable {i}"}
            for i in range(width)
        ]
        + [{"name": "secret", "sensitive": True, "value": "s3cret"}],
        outputs=[{"name": f"out_{i}", "description": f"Output {i}"} for i in range(width)],
    )
    return make_profile(system, f"wide-{width}", version=version, status="ready")


def test_detail_query_count_does_not_grow_with_inputs_and_outputs(client, bob, system):
    client.force_login(bob)
    narrow = detail_queries(client, wide_profile(system, 1))
    wide = detail_queries(client, wide_profile(system, 40))
    assert narrow == wide
    assert wide <= 10


# Detail ------------------------------------------------------------------------------------------

README = """\
# Getting started

Launch a **GPU notebook** with the team's libraries.

## Sizes

| Size  | GPUs | Memory  |
|:------|-----:|:-------:|
| small |    1 | 32 GiB  |
| large |    8 | 256 GiB |

- conda environments
- shared datasets

1. Pick a size
2. Launch

```python
import torch
print(torch.cuda.is_available())
```

> Quota applies per project.

![architecture](https://docs.example.com/arch.png)

Read [the guide](https://docs.example.com/notebooks).
"""


@pytest.fixture
def notebook(cast, projects, notebook_version):
    """A profile platform shares with research, with every kind of input."""
    return make_profile(
        projects["platform"],
        "acme-notebook",
        version=notebook_version,
        actor=cast["alice"],
        status="ready",
        sharing="selected",
        shared_with=[projects["research"]],
        display_name="ACME Notebook",
        description="GPU notebook with the team's libraries.\nSecond line.",
        service_type="notebook",
        icon_url="https://icons.example.com/jupyter.svg",
        readme=README,
        labels={"team": "ml", "example.com/tier": "gold", "empty": ""},
        inputs={
            "notebook_profile": {
                "display_name": "Notebook profile",
                "description": "Libraries pre-installed in the notebook.",
                "value": "rapids",
                "restricted_values": ["pytorch", "rapids"],
            },
            "gpu_count": {"display_name": "GPUs", "description": "How many GPUs to attach."},
            "image": {
                "display_name": "Container image",
                "value": "nvcr.io/nvidia/pytorch:24.10-py3",
                "description": "Image.",
            },
            "hf_token": {"display_name": "Hugging Face token", "value": "hf_profile_secret"},
            "enable_ssh": {"display_name": "SSH access", "override": "notallowed"},
            "region": {"display_name": "Region"},
        },
        outputs={
            "url": {"display_name": "Notebook URL", "description": "Open it here."},
            "token": {"display_name": "Access token", "description": "Log in with it."},
        },
    )


@pytest.fixture
def detail(client, bob, notebook):
    client.force_login(bob)
    response = client.get(detail_url("platform", "acme-notebook"))
    assert response.status_code == 200
    return response.content.decode()


def readme_part(html: str) -> str:
    return re.search(r'<div class="card-body readme">(.*?)</div>\s*</section>', html, re.S).group(1)


def input_rows(html: str) -> dict[str, str]:
    """The inputs list, by display name, each row as text."""
    block = re.search(
        r'<ul class="list-group list-group-flush catalog-inputs">(.*?)</ul>', html, re.S
    )
    rows = re.findall(r"<li class=\"list-group-item\">(.*?)</li>", block.group(1), re.S)
    found = {}
    for row in rows:
        name = re.search(r'<span class="fw-semibold">([^<]+)</span>', row).group(1)
        found[name] = text_of(row)
    return found


def test_detail_header(detail):
    text = text_of(detail)
    assert '<h1 class="h3 mb-1">ACME Notebook</h1>' in detail
    assert "Shared by Platform" in text
    assert '<span class="badge type-badge type-notebook">Notebook</span>' in detail
    assert "Jupyter Notebook environment template · Updated" in text
    assert "revision" not in text.lower()
    assert "GPU notebook with the team&#x27;s libraries.<br>Second line." in detail
    assert 'src="https://icons.example.com/jupyter.svg"' in detail
    assert "<title>ACME Notebook · Catalog · PaaS Studio</title>" in detail


def test_detail_breadcrumb_leads_back_to_the_catalog(detail):
    assert '<a href="/projects/research/catalog/">Catalog</a>' in detail


def test_detail_shows_labels(detail):
    badges = re.findall(
        r'<span class="badge text-bg-light border font-monospace me-1">([^<]+)</span>', detail
    )
    assert sorted(badges) == ["empty", "example.com/tier=gold", "team=ml"]


def test_detail_renders_the_readme(detail):
    readme = readme_part(detail)
    # Heading levels are the renderer's choice (it may push them under the page's own).
    top = re.search(r"<h([1-6])>Getting started</h\1>", readme)
    assert top
    assert f"<h{int(top.group(1)) + 1}>Sizes</h{int(top.group(1)) + 1}>" in readme
    assert "<strong>GPU notebook</strong>" in readme
    assert '<th align="left">Size</th>' in readme
    assert '<th align="right">GPUs</th>' in readme
    assert '<th align="center">Memory</th>' in readme
    assert '<td align="right">8</td>' in readme
    assert "<li>conda environments</li>" in readme
    assert re.search(r"<ol>\s*<li>Pick a size</li>", readme)
    assert '<div class="highlight"><pre>' in readme
    assert '<span class="kn">import</span>' in readme
    assert '<span class="nb">print</span>' in readme
    assert re.search(r"<blockquote>\s*<p>Quota applies per project.</p>\s*</blockquote>", readme)
    assert '<img alt="architecture" src="https://docs.example.com/arch.png">' in readme
    assert (
        '<a href="https://docs.example.com/notebooks" rel="noopener noreferrer nofollow">'
        "the guide</a>" in readme
    )


def test_detail_without_readme_says_so(client, bob, research, system):
    make_profile(research, "bare", version=make_template(system, "tpl"), status="ready")
    client.force_login(bob)
    html = client.get(detail_url("research", "bare")).content.decode()
    assert "The platform team has not written a readme for this service." in html
    assert "Nothing: this service needs no input." in html
    assert "Nothing is shown after launch." in html


def test_detail_lists_the_inputs(detail):
    rows = input_rows(detail)
    assert list(rows) == [
        "Notebook profile",
        "Container image",
        "GPUs",
        "SSH access",
        "Region",
        "Hugging Face token",
    ]
    assert rows["Notebook profile"] == (
        "Notebook profile Text Required Libraries pre-installed in the notebook. "
        "Choose one of: pytorch , rapids · default rapids"
    )
    assert rows["GPUs"] == "GPUs Number Required How many GPUs to attach. Default 1"
    assert rows["Container image"] == (
        "Container image Text Optional Image. Default nvcr.io/nvidia/pytorch:24.10-py3"
    )
    assert rows["SSH access"] == "SSH access Boolean Set by the platform team Value false"
    assert rows["Region"] == "Region Text Set by the platform team Value us-east"
    assert rows["Hugging Face token"] == (
        "Hugging Face token Text Optional Sensitive. Set by the platform team; you may replace it."
    )


def test_detail_never_shows_a_sensitive_default(detail):
    assert "hf_profile_secret" not in detail
    assert "hf_template_secret" not in detail


def test_a_sensitive_input_set_by_the_platform_team_keeps_its_value(client, bob, research, system):
    version = make_template(
        system,
        "locked",
        variables=[
            {
                "name": "api_key",
                "sensitive": True,
                "override": "notallowed",
                "required": True,
                "value": "sk-locked-value",
            }
        ],
    )
    make_profile(
        research,
        "locked",
        version=version,
        status="ready",
        inputs={"api_key": {"display_name": "Service key"}},
    )
    client.force_login(bob)
    html = client.get(detail_url("research", "locked")).content.decode()
    assert "sk-locked-value" not in html
    assert input_rows(html)["Service key"] == (
        "Service key Text Set by the platform team Sensitive. Set by the platform team."
    )


def test_detail_lists_the_outputs(detail):
    block = re.search(r'aria-labelledby="outputs-heading">(.*?)</section>', detail, re.S).group(1)
    assert text_of(block) == (
        "What you will get Notebook URL Open it here. Access token sensitive Log in with it."
    )


def test_detail_shows_the_latest_revision(client, bob, notebook, cast):
    notebook.description = "Now with more GPUs."
    notebook.save()
    assert services.commit_revision(profile=notebook, actor=cast["alice"])
    client.force_login(bob)
    text = text_of(client.get(detail_url("platform", "acme-notebook")).content.decode())
    assert "Now with more GPUs." in text and "revision" not in text.lower()


def test_a_deleted_profile_leaves_the_catalog(client, bob, cast, notebook):
    client.force_login(bob)
    url = detail_url("platform", "acme-notebook")
    assert "acme-notebook" in shown(client.get(catalog_url()))
    assert client.get(url).status_code == 200

    services.delete_profile(profile=notebook, actor=cast["alice"])

    assert "acme-notebook" not in shown(client.get(catalog_url()))
    response = client.get(url)
    assert response.status_code == 404
    assert "ACME Notebook" not in response.content.decode()


def test_a_profile_unshared_leaves_the_catalog(client, bob, cast, notebook):
    client.force_login(bob)
    notebook.sharing = "none"
    notebook.save()
    notebook.shared_with.clear()
    assert "acme-notebook" not in shown(client.get(catalog_url()))
    assert client.get(detail_url("platform", "acme-notebook")).status_code == 404


# The readme is rendered once per revision --------------------------------------------------------


def test_the_detail_page_shows_the_stored_html_not_a_fresh_rendering(client, bob, notebook):
    ServiceProfile.objects.filter(pk=notebook.pk).update(
        readme_html='<p id="stored">Rendered when the revision was saved.</p>'
    )
    client.force_login(bob)
    html = client.get(detail_url("platform", "acme-notebook")).content.decode()
    assert readme_part(html) == '<p id="stored">Rendered when the revision was saved.</p>'
    assert "Getting started" not in html


def test_commit_revision_renders_the_readme_when_it_changes(notebook, cast):
    assert re.search(r"<h[1-6]>Getting started</h[1-6]>", notebook.readme_html)
    notebook.readme = "## Changed\n\n<script>alert(1)</script>"
    notebook.save()
    ServiceProfile.objects.filter(pk=notebook.pk).update(readme_html="stale")

    assert services.commit_revision(profile=notebook, actor=cast["alice"])

    notebook.refresh_from_db()
    assert notebook.revision == 2
    assert re.fullmatch(r"<h([1-6])>Changed</h\1>", notebook.readme_html.strip())
    assert notebook.revisions.get(number=2).document["spec"]["readme"].startswith("## Changed")


def test_commit_without_a_change_keeps_the_stored_html(notebook, cast):
    ServiceProfile.objects.filter(pk=notebook.pk).update(readme_html="<p>kept</p>")
    notebook.refresh_from_db()
    assert not services.commit_revision(profile=notebook, actor=cast["alice"])
    notebook.refresh_from_db()
    assert notebook.readme_html == "<p>kept</p>"
    assert notebook.revision == 1
