"""Query parameters and content negotiation keep to the schema (issue 8): a value the schema
does not list, or an empty one, is a 400 Status document naming the parameter; an Accept the
API cannot answer is a 406 Status document."""

import pytest

from tests.factories import make_profile
from tests.test_api_access import api_url, causes, key_client

PROFILES = api_url("platform", "serviceprofiles/")
TEAM = api_url("platform", "serviceprofiles/team-notebook")
CATALOG = api_url("platform", "catalog/")
TEMPLATES = api_url("platform", "environmenttemplates/")


@pytest.fixture
def alice(cast, projects, notebook_version):
    make_profile(projects["platform"], "team-notebook", version=notebook_version, status="ready")
    return key_client(cast["alice"])


def is_status(response, code: int) -> bool:
    document = response.json()
    return (response.status_code, document["kind"], document["code"]) == (code, "Status", code)


@pytest.mark.parametrize(
    "url", [TEAM, PROFILES, CATALOG, TEMPLATES, "/apis/paas.envmgmt.io/v1/projects/"]
)
def test_an_unknown_format_is_400_naming_format_not_404(alice, url):
    response = alice.get(url, {"format": "AAA"})
    assert is_status(response, 400)
    assert list(causes(response)) == ["format"]


def test_an_empty_format_is_400_naming_format(alice):
    response = alice.get(TEAM + "?format=")
    assert (is_status(response, 400), list(causes(response))) == (True, ["format"])


def test_the_400_for_a_bad_format_is_json(alice):
    assert alice.get(TEAM, {"format": "xml"})["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("format", "media_type"), [("json", "application/json"), ("yaml", "application/yaml")]
)
def test_a_listed_format_is_answered(alice, format, media_type):
    response = alice.get(TEAM, {"format": format})
    assert (response.status_code, response["Content-Type"].split(";")[0]) == (200, media_type)


@pytest.mark.parametrize("url", [PROFILES, CATALOG])
def test_an_empty_service_type_is_400_naming_service_type(alice, url):
    response = alice.get(url + "?serviceType=")
    assert (is_status(response, 400), list(causes(response))) == (True, ["serviceType"])


@pytest.mark.parametrize("url", [PROFILES, CATALOG])
def test_an_unknown_service_type_is_400_naming_service_type(alice, url):
    response = alice.get(url, {"serviceType": "gpu"})
    assert (is_status(response, 400), list(causes(response))) == (True, ["serviceType"])


@pytest.mark.parametrize("url", [PROFILES, CATALOG])
def test_a_listed_service_type_filters(alice, url):
    response = alice.get(url, {"serviceType": "custom"})
    assert (response.status_code, response.json()["metadata"]["count"]) == (200, 0)


def test_a_bad_query_parameter_is_called_a_bad_request_not_a_bad_document(alice):
    response = alice.get(PROFILES, {"limit": "0"})
    assert response.json()["message"] == "The request is invalid."


def test_an_accept_header_for_neither_json_nor_yaml_is_406_as_a_status_document(alice):
    response = alice.get(TEAM, headers={"Accept": "text/html"})
    assert is_status(response, 406)


# URLs the API does not have -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        api_url("platform", "nothing/"),
        api_url("platform", "serviceprofiles/team-notebook/"),
        api_url("pl%C2%9Catform", "serviceprofiles/"),
        "/apis/paas.envmgmt.io/v2/",
    ],
    ids=["unknown-collection", "trailing-slash", "not-a-slug", "other-version"],
)
def test_a_url_the_api_does_not_have_is_a_404_status_document(alice, url):
    response = alice.get(url)
    assert (is_status(response, 404), response["Content-Type"]) == (True, "application/json")


def test_a_post_to_a_url_without_its_slash_is_a_404_status_document_not_a_redirect(alice):
    response = alice.post(PROFILES.rstrip("/"), "{}", content_type="application/json")
    assert is_status(response, 404)


def test_anonymous_callers_get_401_for_a_url_the_api_does_not_have(db, client):
    response = client.get(api_url("platform", "nothing/"))
    assert is_status(response, 401)


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        (PROFILES, "limt"),
        (CATALOG, "page"),
        (TEMPLATES, "q"),
        (TEAM, "limit"),
        ("/apis/paas.envmgmt.io/v1/projects/", "q"),
    ],
)
def test_a_query_parameter_the_operation_does_not_take_is_400_naming_it(alice, url, parameter):
    response = alice.get(url, {parameter: "1"})
    assert is_status(response, 400)
    assert list(causes(response)) == [parameter]


def test_an_unknown_query_parameter_on_a_write_is_refused_and_nothing_changes(alice):
    response = alice.patch(
        TEAM + "?dryRun=1",
        {"metadata": {"displayName": "Changed"}},
        content_type="application/json",
    )
    assert (is_status(response, 400), list(causes(response))) == (True, ["dryRun"])
    assert alice.get(TEAM).json()["metadata"]["displayName"] != "Changed"


def test_an_anonymous_caller_with_an_unknown_query_parameter_gets_401(client, db):
    assert client.get(PROFILES, {"limt": "1"}).status_code == 401
