"""The PaaS Studio lists: home, service profiles and system profiles (SPEC §5).

Search, filter, order and page through one filter set; htmx asks for the ``#results`` fragment;
profiles shared into the project are read-only; every list runs a constant number of queries.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from profiles.models import ServiceProfile
from profiles.views import PAGE_SIZE
from studio import freshness
from tests.factories import make_profile, make_template, profiles_in_bulk


@pytest.fixture
def version(system):
    return make_template(
        system,
        "small",
        sharing="all",
        variables=[{"name": "gpu_count", "value_type": "number", "value": "1"}],
        outputs=[{"name": "url"}],
    )


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def bulk_profiles(project, names, version, **fields) -> None:
    """Profiles straight into the table: a list needs rows, not inputs or revisions."""
    profiles_in_bulk(
        ServiceProfile(
            project=project,
            name=name,
            display_name=name.replace("-", " ").title(),
            template_version=version,
            **fields,
        )
        for name in names
    )


def list_url(project: str = "platform") -> str:
    return reverse("profiles:list", args=[project])


def listed(response) -> list[str]:
    return [p.name for p in response.context["page"].object_list]


def table_row(html: str, name: str) -> str:
    """The ``<tr>`` of profile ``name`` in the list's HTML."""
    match = re.search(rf'<tr data-profile="{re.escape(name)}">.*?</tr>', html, re.S)
    assert match, name
    return match.group(0)


# Search, filter, order ----------------------------------------------------------------------------


@pytest.fixture
def three(platform, version, alice):
    make_profile(
        platform,
        "alpha-notebook",
        display_name="Alpha",
        description="Pandas and friends, preinstalled.",
        service_type="notebook",
        version=version,
        status="ready",
        actor=alice,
    )
    make_profile(
        platform,
        "beta-inference",
        display_name="Llama Server",
        description="Serves models over HTTP.",
        service_type="inference",
        version=version,
        status="ready",
        actor=alice,
    )
    make_profile(
        platform,
        "gamma-jobs",
        display_name="Nightly Batch",
        description="Runs the ETL every night.",
        service_type="jobs",
        version=version,
        actor=alice,
    )


def test_the_list_shows_the_spec_columns(logged_in, three):
    html = logged_in.get(list_url()).content.decode()
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', html)
    assert headers == ["Unique Name", "Service Type", "Creation Date", "Sharing", "Actions"]


def test_the_actions_menu_of_an_own_profile(logged_in, three):
    row = table_row(logged_in.get(list_url()).content.decode(), "alpha-notebook")
    actions = re.findall(r'class="dropdown-item[^"]*" href="([^"]+)".*?</i> ([^<]+)</a>', row)
    assert actions == [
        (reverse("profiles:view", args=["platform", "alpha-notebook"]), "View"),
        (reverse("profiles:step", args=["platform", "alpha-notebook", "general"]), "Edit"),
        (
            reverse("profiles:step", args=["platform", "alpha-notebook", "sharing"]),
            "Manage Sharing",
        ),
        (reverse("profiles:delete", args=["platform", "alpha-notebook"]), "Delete"),
    ]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("alpha", ["alpha-notebook"]),  # unique name
        ("llama", ["beta-inference"]),  # display name
        ("ETL", ["gamma-jobs"]),  # description
        ("NOTEBOOK", ["alpha-notebook"]),  # any case
        ("llama http", ["beta-inference"]),  # every word, wherever it is
        ("llama etl", []),
        ("  ", ["alpha-notebook", "beta-inference", "gamma-jobs"]),
    ],
)
def test_search_looks_at_unique_name_display_name_and_description(logged_in, three, q, expected):
    assert listed(logged_in.get(list_url(), {"q": q})) == expected


def test_a_search_without_matches_says_so(logged_in, three):
    html = logged_in.get(list_url(), {"q": "zzz"}).content.decode()
    assert "No service profile matches these filters." in html
    assert "Clear filters" in html


def test_an_empty_project_invites_to_create_or_clone(logged_in, db):
    html = logged_in.get(list_url()).content.decode()
    assert "No service profiles yet" in html
    assert reverse("profiles:system", args=["platform"]) in html


def test_service_type_filter(logged_in, three):
    assert listed(logged_in.get(list_url(), {"service_type": "jobs"})) == ["gamma-jobs"]


def test_search_and_filter_combine(logged_in, three):
    response = logged_in.get(list_url(), {"q": "a", "service_type": "inference"})
    assert listed(response) == ["beta-inference"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["alpha-notebook", "beta-inference", "gamma-jobs"]),
        ("-name", ["gamma-jobs", "beta-inference", "alpha-notebook"]),
        ("created", ["alpha-notebook", "beta-inference", "gamma-jobs"]),
        ("-created", ["gamma-jobs", "beta-inference", "alpha-notebook"]),
        ("type", ["beta-inference", "gamma-jobs", "alpha-notebook"]),
    ],
)
def test_ordering(logged_in, three, ordering, expected):
    assert listed(logged_in.get(list_url(), {"ordering": ordering})) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"service_type": "database"},
        pytest.param(
            {"ordering": "secret"},
            marks=pytest.mark.filterwarnings(
                "ignore::django.core.paginator.UnorderedObjectListWarning"
            ),
        ),
        {"ordering": "name,-created"},
        {"q": "x" * 5000},
        {"q": "\x00"},
        {"page": "-1"},
        {"page": "1e9"},
    ],
)
def test_odd_list_queries_do_not_fail(logged_in, three, query):
    assert logged_in.get(list_url(), query).status_code == 200


@pytest.mark.filterwarnings("ignore::django.core.paginator.UnorderedObjectListWarning")
def test_an_unknown_ordering_falls_back_to_unique_name_order(logged_in, three):
    response = logged_in.get(list_url(), {"ordering": "secret"})
    assert response.context["page"].paginator.object_list.ordered


def test_drafts_show_a_draft_badge(logged_in, three):
    html = logged_in.get(list_url()).content.decode()
    assert "Draft</span>" in table_row(html, "gamma-jobs")
    assert "Draft</span>" not in table_row(html, "alpha-notebook")


# Pagination ---------------------------------------------------------------------------------------


@pytest.fixture
def twenty_five(platform, version):
    bulk_profiles(platform, [f"profile-{n:02}" for n in range(25)], version)


def test_the_list_pages_by_twenty(logged_in, twenty_five):
    response = logged_in.get(list_url())
    assert PAGE_SIZE == 20
    assert response.context["page"].paginator.num_pages == 2
    assert listed(response) == [f"profile-{n:02}" for n in range(20)]
    assert "Page 1 of 2" in response.content.decode()


def test_page_two_shows_the_rest(logged_in, twenty_five):
    response = logged_in.get(list_url(), {"page": 2})
    assert listed(response) == [f"profile-{n:02}" for n in range(20, 25)]


@pytest.mark.parametrize(("page_number", "number"), [("999", 2), ("abc", 1), ("0", 2), ("", 1)])
def test_a_page_out_of_range_or_not_a_number_does_not_fail(
    logged_in, twenty_five, page_number, number
):
    response = logged_in.get(list_url(), {"page": page_number})
    assert response.status_code == 200
    assert response.context["page"].number == number


def test_page_links_keep_the_filters(logged_in, twenty_five):
    html = logged_in.get(list_url(), {"q": "profile", "ordering": "name"}).content.decode()
    assert 'href="?q=profile&amp;ordering=name&amp;page=2"' in html


# htmx ---------------------------------------------------------------------------------------------


def test_an_htmx_request_gets_only_the_results_fragment(logged_in, three):
    response = logged_in.get(list_url(), {"q": "alpha"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.strip().startswith('<div id="results"')
    assert 'data-profile="alpha-notebook"' in html
    assert 'data-profile="beta-inference"' not in html
    assert 'name="q"' not in html  # the filter form stays on the page


def test_a_boosted_htmx_request_gets_the_whole_page(logged_in, three):
    response = logged_in.get(list_url(), headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in response.content.decode()


def test_the_filter_form_works_without_javascript_and_with_htmx(logged_in, three):
    html = logged_in.get(list_url()).content.decode()
    form_tag = re.search(r'<form method="get"[^>]*>', html).group(0)
    assert 'hx-target="#results"' in form_tag
    assert 'hx-push-url="true"' in form_tag


# Profiles shared into the project -----------------------------------------------------------------


@pytest.fixture
def shared_in(platform, research, finance, version, alice):
    """Seen from research: platform's profile shared with it, and ones it must not see."""
    make_profile(
        platform,
        "shared-notebook",
        display_name="Shared Notebook",
        version=version,
        status="ready",
        sharing="selected",
        shared_with=[research],
        actor=alice,
    )
    make_profile(platform, "private-notebook", version=version, status="ready")
    make_profile(platform, "draft-for-all", version=version, sharing="all")
    make_profile(
        finance, "finance-to-all", display_name="Finance Tool", version=version, status="ready",
        sharing="all",
    )  # fmt: skip
    make_profile(research, "own-notebook", version=version, status="ready")


def test_the_list_holds_own_profiles_and_ready_ones_shared_into_the_project(
    client, dave, shared_in
):
    client.force_login(dave)
    assert listed(client.get(list_url("research"))) == [
        "finance-to-all",
        "own-notebook",
        "shared-notebook",
    ]


def test_a_shared_in_profile_shows_its_source_and_only_a_view_action(client, dave, shared_in):
    client.force_login(dave)
    row = table_row(client.get(list_url("research")).content.decode(), "shared-notebook")
    assert "from Platform" in row
    assert "Shared with this project" in row
    actions = re.findall(r'class="dropdown-item[^"]*" href="([^"]+)"', row)
    assert actions == [reverse("profiles:shared", args=["research", "platform", "shared-notebook"])]
    assert "Edit" not in row and "Delete" not in row and "Manage Sharing" not in row


def test_the_owner_sees_the_sharing_it_chose(logged_in, shared_in):
    html = logged_in.get(list_url()).content.decode()
    assert "Selected Projects (1)" in table_row(html, "shared-notebook")
    assert "All Projects" in table_row(html, "draft-for-all")
    assert "None" in table_row(html, "private-notebook")


def test_a_system_profile_is_listed_from_system(client, dave, shared_in, system, version):
    make_profile(system, "jupyter-notebook", version=version, status="ready")
    client.force_login(dave)
    row = table_row(client.get(list_url("research")).content.decode(), "jupyter-notebook")
    assert "from System" in row


# System profiles and the Studio home --------------------------------------------------------------


@pytest.fixture
def catalog(system, platform, version):
    make_profile(
        system,
        "jupyter-notebook",
        display_name="Jupyter Notebook",
        description="Notebooks on GPUs.",
        version=version,
        status="ready",
    )
    make_profile(
        system,
        "vllm-inference",
        display_name="vLLM Inference",
        service_type="inference",
        version=version,
        status="ready",
    )
    make_profile(system, "unfinished", version=version)
    make_profile(platform, "platform-to-all", version=version, status="ready", sharing="all")


def system_listed(response) -> list[str]:
    return [p.name for p in response.context["page"].object_list]


def test_system_profiles_lists_ready_system_profiles_only(logged_in, catalog):
    response = logged_in.get(reverse("profiles:system", args=["platform"]))
    assert system_listed(response) == ["jupyter-notebook", "vllm-inference"]


def test_each_system_profile_offers_clone_and_view(logged_in, catalog):
    html = logged_in.get(reverse("profiles:system", args=["platform"])).content.decode()
    assert reverse("profiles:clone", args=["platform", "jupyter-notebook"]) in html
    assert (
        reverse("profiles:shared", args=["platform", "system-catalog", "jupyter-notebook"]) in html
    )


def test_system_profiles_search_and_filter(logged_in, catalog):
    url = reverse("profiles:system", args=["platform"])
    assert system_listed(logged_in.get(url, {"q": "gpus"})) == ["jupyter-notebook"]
    assert system_listed(logged_in.get(url, {"service_type": "inference"})) == ["vllm-inference"]


def test_system_profiles_htmx_gets_the_results_fragment(logged_in, catalog):
    response = logged_in.get(
        reverse("profiles:system", args=["platform"]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<div id="results"')


def test_studio_home_shows_system_profiles_and_recent_own_ones(logged_in, catalog, platform):
    make_profile(platform, "own-draft", version=ServiceProfile.objects.first().template_version)
    response = logged_in.get(reverse("profiles:studio_home", args=["platform"]))
    html = response.content.decode()
    assert [p.name for p in response.context["system_profiles"]] == [
        "jupyter-notebook",
        "vllm-inference",
    ]
    assert response.context["system_count"] == 2
    assert [p.name for p in response.context["recent"]] == ["own-draft", "platform-to-all"]
    assert response.context["counts"] == {"total": 2, "drafts": 1}
    assert "2 profiles in this project, 1 still draft." in html
    assert "New Service Profile" in html


# A constant number of queries ---------------------------------------------------------------------


def spread_of(n: int, platform, finance, system, version, start: int = 0) -> None:
    """``n`` profiles as platform sees them: own (some shared), shared in, and system ones."""
    names = [f"p-{i:03}" for i in range(start, start + n)]
    bulk_profiles(platform, names[0::3], version, status="ready", sharing="selected")
    for profile in ServiceProfile.objects.filter(name__in=names[0::3]):
        profile.shared_with.set([finance])
    bulk_profiles(finance, names[1::3], version, status="ready", sharing="all")
    bulk_profiles(system, names[2::3], version, status="ready")


def queries_for(client, url: str, headers: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers or {})
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("url_name", ["profiles:list", "profiles:studio_home"])
def test_studio_lists_run_the_same_queries_for_3_and_60_profiles(
    logged_in, platform, finance, system, version, url_name
):
    url = reverse(url_name, args=["platform"])
    freshness.token()  # made once, by the first page that asks: not a cost of the list
    spread_of(3, platform, finance, system, version)
    with_three = queries_for(logged_in, url)
    spread_of(57, platform, finance, system, version, start=3)
    assert queries_for(logged_in, url) == with_three


def test_the_htmx_list_runs_the_same_queries_for_3_and_60_profiles(
    logged_in, platform, finance, system, version
):
    freshness.token()
    spread_of(3, platform, finance, system, version)
    with_three = queries_for(logged_in, list_url(), {"HX-Request": "true"})
    spread_of(57, platform, finance, system, version, start=3)
    assert queries_for(logged_in, list_url(), {"HX-Request": "true"}) == with_three


def test_system_profiles_run_the_same_queries_for_3_and_60_profiles(logged_in, system, version):
    url = reverse("profiles:system", args=["platform"])
    bulk_profiles(system, [f"s-{i:03}" for i in range(3)], version, status="ready")
    with_three = queries_for(logged_in, url)
    bulk_profiles(system, [f"s-{i:03}" for i in range(3, 60)], version, status="ready")
    assert queries_for(logged_in, url) == with_three
