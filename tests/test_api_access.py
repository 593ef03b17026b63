"""SPEC §2 over the REST API: the same access rules as the pages, and lists that show it.

Anonymous callers get 401, outsiders 404 (naming nothing), members 403 on service profile
endpoints and on writes (templates and the catalog they may read), admins what they asked for.
The lists show what the caller's project may see, and run a fixed number of SQL queries
whatever the row count.
"""

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from profiles.models import ServiceProfile
from studio.models import ApiKey
from tests.factories import make_profile, make_project, make_template

API = "/apis/paas.envmgmt.io/v1/projects/"
PROJECTS = ["platform", "research", "finance", "system-catalog"]
# user: {project: role}; the superuser ``admin`` is an admin everywhere but the system catalog.
ROLES = {
    "admin": {"platform": "admin", "research": "admin", "finance": "admin"},
    "alice": {"platform": "admin"},
    "dave": {"research": "admin"},
    "bob": {"research": "member"},
    "carol": {"finance": "member"},
}


def api_url(project: str, path: str = "") -> str:
    return f"{API}{project}/{path}"


def key_client(user, **kwargs) -> Client:
    """A client sending a fresh personal API key of ``user`` as X-API-KEY."""
    _, token = ApiKey.issue(user=user, name="tests")
    return Client(headers={"X-API-KEY": token}, **kwargs)


def send(client: Client, method: str, url: str, body=None, **kwargs):
    if body is None:
        return getattr(client, method.lower())(url, **kwargs)
    return getattr(client, method.lower())(
        url, body, content_type=kwargs.pop("content_type", "application/json"), **kwargs
    )


def causes(response) -> dict[str, str]:
    """The field paths of a Status document, each with its (first) message."""
    found = {}
    for cause in response.json().get("details", {}).get("causes", []):
        found.setdefault(cause["field"], cause["message"])
    return found


@dataclass(frozen=True)
class Endpoint:
    """An operation under ``projects/<project>/`` and what a project admin gets from it."""

    method: str
    path: str
    admin: int
    members_read: bool = False  # templates and the catalog: members may read them
    body: object = None

    @property
    def id(self) -> str:
        return f"{self.method}-{self.path}"


# Writes carry a body that fails validation, so an admin's request is answered 400 and the
# matrix changes nothing; an empty merge patch changes nothing either.
ENDPOINTS = [
    Endpoint("GET", "serviceprofiles/", 200),
    Endpoint("POST", "serviceprofiles/", 400, body={}),
    Endpoint("GET", "serviceprofiles/team-notebook", 200),
    Endpoint("PUT", "serviceprofiles/team-notebook", 400, body={}),
    Endpoint("PATCH", "serviceprofiles/team-notebook", 200, body={}),  # writes nothing
    Endpoint("GET", "serviceprofiles/team-notebook/sharing", 200),
    Endpoint("PUT", "serviceprofiles/team-notebook/sharing", 400, body={}),
    Endpoint("POST", "systemprofiles/jupyter-notebook/clone", 400, body={}),
    Endpoint("GET", "environmenttemplates/", 200, members_read=True),
    Endpoint("GET", "environmenttemplates/jupyter-notebook", 200, members_read=True),
    Endpoint("POST", "environmenttemplates/", 405, body={}),
    Endpoint("GET", "catalog/", 200, members_read=True),
    Endpoint("POST", "catalog/", 405, body={}),
]


def expected_status(endpoint: Endpoint, username: str | None, project: str) -> int:
    if username is None:
        return 401
    role = ROLES[username].get(project)
    if role is None:
        return 404
    if role == "member" and not (endpoint.members_read and endpoint.method == "GET"):
        return 403
    return endpoint.admin


@pytest.fixture
def world(cast, projects, system, notebook_version):
    """A ready ``team-notebook`` in every project and the system profile; returns the cast."""
    for project in projects.values():
        make_profile(
            project,
            "team-notebook",
            display_name="Team Notebook",
            version=notebook_version,
            status="ready",
        )
    make_profile(system, "jupyter-notebook", version=notebook_version, status="ready")
    return cast


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_access_matrix(world, endpoint):
    """One row of the matrix: what each user gets in each project, through an API key."""
    statuses, expected = {}, {}
    for username, user in world.items():
        client = key_client(user)
        for project in PROJECTS:
            cell = f"{username}@{project}"
            url = api_url(project, endpoint.path)
            statuses[cell] = send(client, endpoint.method, url, endpoint.body).status_code
            expected[cell] = expected_status(endpoint, username, project)
    assert statuses == expected


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_anonymous_callers_get_401_everywhere(world, endpoint):
    statuses = {
        p: send(Client(), endpoint.method, api_url(p, endpoint.path), endpoint.body).status_code
        for p in PROJECTS
    }
    assert statuses == dict.fromkeys(PROJECTS, 401)


def test_the_project_list_is_401_for_anonymous_callers(world):
    assert Client().get(API).status_code == 401


def test_a_401_is_a_status_document(world):
    response = Client().get(api_url("platform", "serviceprofiles/"))
    assert response.json()["kind"] == "Status"
    assert response.json()["code"] == 401


def test_a_401_says_how_to_authenticate(world):
    response = Client().get(api_url("platform", "serviceprofiles/"))
    assert response["WWW-Authenticate"] == "X-API-KEY"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_outsider_404_names_nothing(world, endpoint):
    response = send(key_client(world["carol"]), endpoint.method, api_url("research", endpoint.path))
    assert response.status_code == 404
    text = response.content.decode()
    assert "research" not in text.lower()
    assert "team-notebook" not in text
    assert "Team Notebook" not in text


def test_outsider_cannot_tell_a_real_profile_from_a_missing_one(world):
    client = key_client(world["carol"])
    real = client.get(api_url("research", "serviceprofiles/team-notebook"))
    missing = client.get(api_url("research", "serviceprofiles/no-such-profile"))
    assert (real.status_code, real.content) == (missing.status_code, missing.content)


def test_outsider_cannot_tell_a_real_project_from_a_missing_one(world):
    client = key_client(world["carol"])
    real = client.get(api_url("research", "serviceprofiles/"))
    missing = client.get(api_url("no-such-project", "serviceprofiles/"))
    assert (real.status_code, real.content) == (missing.status_code, missing.content)


def test_member_403_explains_that_service_profiles_are_for_admins(world):
    response = key_client(world["bob"]).get(api_url("research", "serviceprofiles/"))
    assert response.status_code == 403
    assert response.json()["message"] == "Only the project's admins may do this."


@pytest.mark.parametrize("username", ["bob", "carol"])
def test_non_admins_cannot_delete_a_profile(world, username):
    response = key_client(world[username]).delete(
        api_url("research", "serviceprofiles/team-notebook")
    )
    assert response.status_code == {"bob": 403, "carol": 404}[username]
    assert ServiceProfile.objects.filter(project__name="research", name="team-notebook").exists()


def test_anonymous_callers_cannot_delete_a_profile(world):
    response = Client().delete(api_url("research", "serviceprofiles/team-notebook"))
    assert response.status_code == 401
    assert ServiceProfile.objects.filter(project__name="research", name="team-notebook").exists()


@pytest.mark.parametrize("username", ["admin", "dave"])
def test_admins_delete_a_profile(world, username):
    response = key_client(world[username]).delete(
        api_url("research", "serviceprofiles/team-notebook")
    )
    assert response.status_code == 204
    assert not ServiceProfile.objects.filter(project__name="research", name="team-notebook")


def test_nobody_reaches_the_system_catalog_project_through_the_api(world):
    response = key_client(world["admin"]).get(api_url("system-catalog", "serviceprofiles/"))
    assert response.status_code == 404


# A profile shared into a project: listed there, changed only by its owner's admins ------------


@pytest.fixture
def shared_in(world, projects, notebook_version):
    """platform's ``lab-notebook``, ready and shared with research."""
    return make_profile(
        projects["platform"],
        "lab-notebook",
        version=notebook_version,
        status="ready",
        sharing="selected",
        shared_with=[projects["research"]],
    )


def test_a_profile_shared_into_a_project_is_listed_there_with_its_owner(world, shared_in):
    response = key_client(world["dave"]).get(api_url("research", "serviceprofiles/"))
    listed = {(i["metadata"]["project"], i["metadata"]["name"]) for i in response.json()["items"]}
    assert ("platform", "lab-notebook") in listed


def test_a_profile_shared_into_a_project_can_be_read_there(world, shared_in):
    response = key_client(world["dave"]).get(api_url("research", "serviceprofiles/lab-notebook"))
    assert response.status_code == 200
    assert response.json()["metadata"]["project"] == "platform"


def test_the_projects_own_profile_wins_over_a_shared_one_of_the_same_name(
    world, shared_in, projects, notebook_version
):
    make_profile(projects["research"], "lab-notebook", version=notebook_version)
    response = key_client(world["dave"]).get(api_url("research", "serviceprofiles/lab-notebook"))
    assert response.json()["metadata"]["project"] == "research"


def test_an_unshared_profile_of_another_project_cannot_be_read(world, projects, notebook_version):
    make_profile(projects["platform"], "private-notebook", version=notebook_version, status="ready")
    response = key_client(world["dave"]).get(
        api_url("research", "serviceprofiles/private-notebook")
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "serviceprofiles/lab-notebook", {}),
        ("PATCH", "serviceprofiles/lab-notebook", {"metadata": {"description": "mine now"}}),
        ("DELETE", "serviceprofiles/lab-notebook", None),
        ("PUT", "serviceprofiles/lab-notebook/sharing", {"type": "none"}),
    ],
    ids=["put", "patch", "delete", "sharing"],
)
def test_a_profile_shared_into_a_project_cannot_be_changed_there(
    world, shared_in, method, path, body
):
    response = send(key_client(world["dave"]), method, api_url("research", path), body)
    assert response.status_code == 404
    shared_in.refresh_from_db()
    assert (shared_in.revision, shared_in.sharing, shared_in.description) == (1, "selected", "")


# The project list ------------------------------------------------------------------------------


@pytest.mark.parametrize("username", list(ROLES))
def test_the_project_list_holds_the_callers_projects_with_their_role(world, username):
    response = key_client(world[username]).get(API)
    roles = {i["metadata"]["name"]: i["status"]["role"] for i in response.json()["items"]}
    assert roles == ROLES[username]


def test_the_project_list_counts_its_items(world):
    response = key_client(world["admin"]).get(API)
    assert response.json()["kind"] == "ProjectList"
    assert response.json()["metadata"]["count"] == 3


# The service profile list ----------------------------------------------------------------------


@pytest.fixture
def listed(cast, projects, system, notebook_version):
    """Profiles platform may list, and some it may not; returns alice's client."""
    platform, research = projects["platform"], projects["research"]

    def make(project, name, service_type="notebook", status="ready", **fields):
        return make_profile(
            project,
            name,
            version=notebook_version,
            service_type=service_type,
            status=status,
            **fields,
        )

    make(platform, "alpha-notebook", description="GPU notebook for the vision team")
    make(platform, "beta-inference", "inference", display_name="Beta LLM")
    make(platform, "gamma-jobs", "jobs", status="draft")
    make(research, "delta-shared", "custom", sharing="all")
    make(research, "epsilon-selected", sharing="selected", shared_with=[platform])
    make(research, "zeta-private")
    make(research, "eta-draft-shared", status="draft", sharing="all")
    make(system, "theta-system", "inference")
    return key_client(cast["alice"])


def names(response) -> list[str]:
    return [item["metadata"]["name"] for item in response.json()["items"]]


def test_the_list_holds_own_profiles_and_ready_ones_shared_in(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"))
    assert names(response) == [
        "alpha-notebook",
        "beta-inference",
        "delta-shared",
        "epsilon-selected",
        "gamma-jobs",
        "theta-system",
    ]


def test_the_list_is_a_service_profile_list_with_its_count(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"))
    assert response.json()["apiVersion"] == "paas.envmgmt.io/v1"
    assert response.json()["kind"] == "ServiceProfileList"
    assert response.json()["metadata"] == {"count": 6}


def test_the_list_items_are_whole_profile_documents(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"))
    item = response.json()["items"][0]
    assert item["kind"] == "ServiceProfile"
    assert set(item) == {"apiVersion", "kind", "metadata", "spec", "status"}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("vision", ["alpha-notebook"]),
        ("llm", ["beta-inference"]),
        ("notebook GPU", ["alpha-notebook"]),
        ("nothing-like-this", []),
    ],
)
def test_the_list_searches_names_display_names_and_descriptions(listed, q, expected):
    assert names(listed.get(api_url("platform", "serviceprofiles/"), {"q": q})) == expected


def test_the_list_filters_by_service_type(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"), {"serviceType": "inference"})
    assert names(response) == ["beta-inference", "theta-system"]


def test_the_list_pages_with_limit_and_offset(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"), {"limit": 2, "offset": 1})
    assert names(response) == ["beta-inference", "delta-shared"]


def test_a_page_counts_every_match_not_just_the_page(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"), {"limit": 2})
    assert response.json()["metadata"]["count"] == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "1.5"}, "offset"),
        ({"serviceType": "gaming"}, "serviceType"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(listed, params, field):
    response = listed.get(api_url("platform", "serviceprofiles/"), params)
    assert response.status_code == 400
    assert list(causes(response)) == [field]


def test_a_limit_of_unicode_digits_is_400(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"), {"limit": "²"})
    assert response.status_code == 400


def test_an_offset_past_any_row_is_not_a_server_error(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"), {"offset": "1" + "0" * 20})
    assert response.status_code in {200, 400}


def test_a_search_with_a_nul_character_is_400_naming_q(listed):
    response = listed.get(api_url("platform", "serviceprofiles/"), {"q": "a\x00b"})
    assert list(causes(response)) == ["q"]


# Templates and the catalog, which members may read ---------------------------------------------


@pytest.fixture
def templates(cast, projects, system, notebook_version):
    make_template(projects["research"], "research-own")
    make_template(projects["research"], "research-shared", sharing="all")
    make_template(projects["platform"], "platform-own")
    make_template(projects["finance"], "finance-private")
    return cast


def template_names(response) -> list[str]:
    return [(i["metadata"]["project"], i["metadata"]["name"]) for i in response.json()["items"]]


def test_members_list_the_templates_their_project_may_use(templates):
    response = key_client(templates["bob"]).get(api_url("research", "environmenttemplates/"))
    assert template_names(response) == [
        ("system-catalog", "jupyter-notebook"),
        ("research", "research-own"),
        ("research", "research-shared"),
    ]


def test_the_template_list_counts_its_items(templates):
    response = key_client(templates["bob"]).get(api_url("research", "environmenttemplates/"))
    assert response.json()["kind"] == "EnvironmentTemplateList"
    assert response.json()["metadata"] == {"count": 3}


def test_a_template_shared_with_all_is_readable_in_other_projects(templates):
    response = key_client(templates["carol"]).get(
        api_url("finance", "environmenttemplates/research-shared")
    )
    assert response.json()["metadata"]["project"] == "research"


def test_another_projects_private_template_is_404(templates):
    response = key_client(templates["carol"]).get(
        api_url("finance", "environmenttemplates/research-own")
    )
    assert response.status_code == 404


def test_a_template_document_leaves_out_sensitive_values(templates):
    response = key_client(templates["bob"]).get(
        api_url("research", "environmenttemplates/jupyter-notebook")
    )
    variables = {v["name"]: v for v in response.json()["spec"]["versions"][0]["variables"]}
    assert "value" not in variables["hf_token"]
    assert "hf_template_secret" not in response.content.decode()


def test_the_catalog_holds_ready_profiles_only(listed, projects, cast):
    response = key_client(cast["alice"]).get(api_url("platform", "catalog/"))
    assert sorted(names(response)) == [
        "alpha-notebook",
        "beta-inference",
        "delta-shared",
        "epsilon-selected",
        "theta-system",
    ]


def test_members_read_the_catalog(listed, cast):
    response = key_client(cast["bob"]).get(api_url("research", "catalog/"))
    assert sorted(names(response)) == [
        "delta-shared",
        "epsilon-selected",
        "theta-system",
        "zeta-private",
    ]


# Lists run a fixed number of queries, whatever the row count --------------------------------


def queries_for(client: Client, url: str) -> int:
    client.get(url)  # the first request also records the key's last use
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_rows(count: int, projects: dict, version, system) -> None:
    """``count`` more of everything a list shows: profiles, shared ones, templates."""
    for _ in range(count):
        project = make_project()
        make_profile(projects["platform"], version=version, status="ready")
        make_profile(
            projects["platform"],
            version=version,
            status="ready",
            sharing="selected",
            shared_with=[projects["research"], project],
        )
        make_profile(projects["research"], version=version, status="ready", sharing="all")
        make_profile(system, version=version, status="ready")
        template = make_template(
            projects["platform"],
            variables=[{"name": "size", "value": "1"}],
            outputs=[{"name": "url"}],
            sharing="selected",
        )
        template.template.shared_with.add(project)
        make_template(projects["research"], sharing="all", outputs=[{"name": "url"}])


@pytest.mark.parametrize(
    "path", ["serviceprofiles/", "catalog/", "environmenttemplates/"], ids=lambda p: p[:-1]
)
def test_a_list_runs_the_same_queries_for_few_rows_and_many(
    cast, projects, system, notebook_version, path
):
    client = key_client(cast["alice"])
    url = api_url("platform", path)
    add_rows(1, projects, notebook_version, system)
    few = queries_for(client, url)
    add_rows(5, projects, notebook_version, system)
    assert queries_for(client, url) == few


def test_the_project_list_runs_the_same_queries_for_few_projects_and_many(cast, projects):
    client = key_client(cast["admin"])
    few = queries_for(client, API)
    for _ in range(5):
        make_project()
    assert queries_for(client, API) == few


def test_a_shared_in_profile_names_no_other_project_it_is_shared_with(
    world, projects, notebook_version
):
    make_profile(
        projects["platform"],
        "wide-notebook",
        version=notebook_version,
        status="ready",
        sharing="selected",
        shared_with=[projects["research"], projects["finance"]],
    )
    as_dave = key_client(world["dave"])
    detail = as_dave.get(api_url("research", "serviceprofiles/wide-notebook")).json()
    assert detail["spec"]["sharing"] == {"type": "selected", "projects": ["research"]}
    owner = key_client(world["alice"]).get(api_url("platform", "serviceprofiles/wide-notebook"))
    assert owner.json()["spec"]["sharing"]["projects"] == ["finance", "research"]


# Whom a profile or template is shared with is its owners' business (SPEC §2, issue 8) -------


def catalog_item(client: Client, project: str, name: str) -> dict:
    items = client.get(api_url(project, "catalog/")).json()["items"]
    return next(i for i in items if i["metadata"]["name"] == name)


@pytest.fixture
def shared_by_research(world, projects, notebook_version):
    """A research profile and template shared with finance and platform."""
    make_profile(
        projects["research"],
        "lab-notebook",
        version=notebook_version,
        status="ready",
        sharing="selected",
        shared_with=[projects["finance"], projects["platform"]],
    )
    template = make_template(projects["research"], "lab-template", sharing="selected").template
    template.shared_with.set([projects["finance"], projects["platform"]])
    return world


def test_a_member_sees_no_sharing_of_their_own_projects_profile_in_the_catalog(
    shared_by_research,
):
    shown = catalog_item(key_client(shared_by_research["bob"]), "research", "lab-notebook")
    assert "sharing" not in shown["spec"]


def test_the_catalog_shows_no_sharing_of_a_profile_shared_in(shared_by_research):
    shown = catalog_item(key_client(shared_by_research["carol"]), "finance", "lab-notebook")
    assert "sharing" not in shown["spec"]


def test_the_catalog_shows_no_sharing_even_to_the_owners_admins(shared_by_research):
    shown = catalog_item(key_client(shared_by_research["dave"]), "research", "lab-notebook")
    assert "sharing" not in shown["spec"]


def test_a_member_sees_the_sharing_type_of_their_projects_template_but_no_names(
    shared_by_research,
):
    client = key_client(shared_by_research["bob"])
    detail = client.get(api_url("research", "environmenttemplates/lab-template")).json()
    listed = client.get(api_url("research", "environmenttemplates/")).json()["items"]
    in_list = next(i for i in listed if i["metadata"]["name"] == "lab-template")
    assert detail["spec"]["sharing"] == in_list["spec"]["sharing"] == {"type": "selected"}


def test_another_projects_member_sees_only_their_own_project_in_a_templates_sharing(
    shared_by_research,
):
    client = key_client(shared_by_research["carol"])
    detail = client.get(api_url("finance", "environmenttemplates/lab-template")).json()
    assert detail["spec"]["sharing"] == {"type": "selected", "projects": ["finance"]}


def test_the_owners_admin_sees_whom_a_template_is_shared_with(shared_by_research):
    client = key_client(shared_by_research["dave"])
    detail = client.get(api_url("research", "environmenttemplates/lab-template")).json()
    assert detail["spec"]["sharing"] == {"type": "selected", "projects": ["finance", "platform"]}


def test_the_owners_admin_sees_whom_a_profile_is_shared_with(shared_by_research):
    client = key_client(shared_by_research["dave"])
    detail = client.get(api_url("research", "serviceprofiles/lab-notebook")).json()
    assert detail["spec"]["sharing"] == {"type": "selected", "projects": ["finance", "platform"]}
