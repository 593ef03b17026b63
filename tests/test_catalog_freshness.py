"""The catalog's results are kept between requests (studio.freshness) and never outlive a write:
after each kind of committed write, the very next catalog and Studio list request shows it.

These tests commit (``transactional_db``), so the page cache is the real one, as in production.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from profiles.models import ServiceProfile
from studio.models import Membership
from tests.factories import make_profile, make_template
from tests.test_api_access import api_url, key_client

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def estate(projects, system, alice, bob, client):
    version = make_template(system, "tpl")
    shared = make_profile(projects["platform"], "shared-one", version=version, status="ready")
    client.force_login(bob)
    return {"version": version, "shared": shared, **projects}


def catalog(client, **params) -> str:
    response = client.get(reverse("catalog:list", args=["research"]), params)
    assert response.status_code == 200
    return response.content.decode()


def studio_list(client) -> str:
    response = client.get(reverse("profiles:list", args=["platform"]))
    assert response.status_code == 200
    return response.content.decode()


def profile_reads(client) -> tuple[int, str]:
    """How many queries of a catalog request read profile rows, and the page."""
    with CaptureQueriesContext(connection) as captured:
        page = catalog(client)
    return sum("profiles_serviceprofile" in q["sql"] for q in captured.captured_queries), page


def test_a_repeated_request_is_served_from_the_kept_results(
    estate, client, django_assert_max_num_queries
):
    catalog(client)
    with django_assert_max_num_queries(7):
        reads, _ = profile_reads(client)
    assert reads == 0


def test_creating_a_shared_profile_shows_it(estate, client):
    assert "Brand New" not in catalog(client)
    make_profile(
        estate["platform"],
        "brand-new",
        display_name="Brand New",
        version=estate["version"],
        status="ready",
        sharing="all",
    )
    assert "Brand New" in catalog(client)


def test_editing_shows_the_new_name(estate, client):
    catalog(client)
    profile = ServiceProfile.objects.get(name="shared-one")
    profile.sharing = "all"
    profile.save()
    page = catalog(client)
    assert "Shared One" in page
    profile.display_name = "Renamed Notebook"
    profile.save()
    page = catalog(client)
    assert "Renamed Notebook" in page and "Shared One" not in page


def test_sharing_and_unsharing_show_at_once(estate, client):
    profile = estate["shared"]
    assert "Shared One" not in catalog(client)
    profile.sharing = "selected"
    profile.save()
    profile.shared_with.set([estate["research"]])
    assert "Shared One" in catalog(client)
    profile.shared_with.set([estate["finance"]])
    assert "Shared One" not in catalog(client)


def test_finishing_a_draft_shows_it_and_deleting_hides_it(estate, client):
    draft = make_profile(
        estate["platform"],
        "draft-one",
        display_name="Draft One",
        version=estate["version"],
        sharing="all",
    )
    draft.status = "draft"
    draft.save()
    assert "Draft One" not in catalog(client)
    draft.status = "ready"
    draft.save()
    assert "Draft One" in catalog(client)
    assert "Draft One" in catalog(client, type=draft.service_type)
    draft.delete()
    assert "Draft One" not in catalog(client)
    assert "Draft One" not in catalog(client, type=draft.service_type)


def test_a_membership_change_shows_at_once(estate, client, bob):
    catalog(client)
    Membership.objects.filter(user=bob, project=estate["research"]).delete()
    assert client.get(reverse("catalog:list", args=["research"])).status_code == 404
    Membership.objects.create(user=bob, project=estate["research"], role="member")
    assert client.get(reverse("catalog:list", args=["research"])).status_code == 200


def test_the_studio_list_shows_a_write_at_once(estate, client, alice):
    client.force_login(alice)
    assert "Shared One" in studio_list(client)
    estate["shared"].display_name = "Studio Rename"
    estate["shared"].save()
    assert "Studio Rename" in studio_list(client)


# The Studio list of research, as its admin dave sees it: its own profiles, drafts included,
# and those other projects make available to it.


@pytest.fixture
def research_admin(estate, client, dave):
    client.force_login(dave)
    return client


def research_list(client, **params) -> str:
    response = client.get(reverse("profiles:list", args=["research"]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_a_repeated_list_request_reads_no_profile(research_admin):
    research_list(research_admin)
    with CaptureQueriesContext(connection) as captured:
        research_list(research_admin)
    assert not [q for q in captured.captured_queries if "profiles_" in q["sql"]]


def test_the_list_shows_a_created_profile_and_hides_a_deleted_one(estate, research_admin):
    assert "brand-new" not in research_list(research_admin)
    made = make_profile(estate["research"], "brand-new", version=estate["version"])
    assert "brand-new" in research_list(research_admin)
    assert "brand-new" in research_list(research_admin, q="brand")
    made.delete()
    assert "brand-new" not in research_list(research_admin)
    assert "brand-new" not in research_list(research_admin, q="brand")


def test_the_list_shows_sharing_and_unsharing_at_once(estate, research_admin):
    profile = estate["shared"]
    assert "shared-one" not in research_list(research_admin)
    profile.sharing = "selected"
    profile.save()
    profile.shared_with.set([estate["research"]])
    assert "shared-one" in research_list(research_admin)
    profile.shared_with.set([estate["finance"]])
    assert "shared-one" not in research_list(research_admin)
    profile.sharing = "all"
    profile.save()
    assert "shared-one" in research_list(research_admin, ordering="-created")
    profile.sharing = "none"
    profile.save()
    assert "shared-one" not in research_list(research_admin, ordering="-created")


def test_the_list_shows_an_edit_and_a_finished_draft_at_once(estate, research_admin):
    own = make_profile(estate["research"], "own-one", version=estate["version"])
    own.status = "draft"
    own.save()
    assert "Draft</span>" in research_list(research_admin, q="own-one")
    own.status = "ready"
    own.display_name = "Own Renamed"
    own.save()
    page = research_list(research_admin, q="own-one")
    assert "Own Renamed" in page and "Draft</span>" not in page
    other = estate["shared"]
    other.sharing = "all"
    other.status = "draft"
    other.save()
    assert "shared-one" not in research_list(research_admin)  # another project's draft
    other.status = "ready"
    other.save()
    assert "shared-one" in research_list(research_admin)


def test_the_list_answers_a_membership_change_at_once(estate, research_admin, dave):
    research_list(research_admin)
    membership = Membership.objects.get(user=dave, project=estate["research"])
    membership.role = "member"
    membership.save()
    assert research_admin.get(reverse("profiles:list", args=["research"])).status_code == 403
    membership.delete()
    assert research_admin.get(reverse("profiles:list", args=["research"])).status_code == 404


def test_a_rolled_back_write_keeps_the_kept_results(estate, client):
    from django.db import transaction

    profile = estate["shared"]
    profile.sharing = "all"
    profile.save()
    assert "Shared One" in catalog(client)
    with pytest.raises(RuntimeError), transaction.atomic():
        profile.display_name = "Never Saved"
        profile.save()
        raise RuntimeError
    reads, page = profile_reads(client)
    assert reads == 0  # nothing committed: the kept results stand
    assert "Shared One" in page and "Never Saved" not in page


# The page frame (project switcher, menus) is kept per user and page, under the same token.


def switcher(page: str) -> str:
    return page.split('aria-labelledby="project-switcher"')[1].split("</ul>")[0]


def test_the_frame_shows_a_membership_or_project_change_at_once(estate, client, bob):
    assert "Finance" not in switcher(catalog(client))
    Membership.objects.create(user=bob, project=estate["finance"], role="member")
    assert "Finance" in switcher(catalog(client))
    estate["finance"].display_name = "Money Matters"
    estate["finance"].save()
    assert "Money Matters" in switcher(catalog(client))
    Membership.objects.filter(user=bob, project=estate["finance"]).delete()
    assert "Money Matters" not in switcher(catalog(client))


def test_each_user_gets_their_own_frame(estate, client, dave):
    assert "Signed in as <strong>bob</strong>" in catalog(client)
    client.force_login(dave)
    page = catalog(client)
    assert "Signed in as <strong>dave</strong>" in page and "<strong>bob</strong>" not in page
    assert "Service Profiles" in page  # dave administers research: the Studio menu shows


def logout_token(page: str) -> str:
    form = page.split('id="logout-form"')[1]
    return form.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]


def test_a_kept_frame_signs_out_with_the_sessions_own_csrf_token(estate, client, bob):
    """The frame is kept per user, but a user signs in from more than one browser: each must
    sign out with its own CSRF token, which the kept frame must not hold."""
    catalog(client)  # the first browser's frame is kept
    other = Client(enforce_csrf_checks=True)
    other.force_login(bob)
    page = catalog(other)
    response = other.post(reverse("logout"), {"csrfmiddlewaretoken": logout_token(page)})
    assert response.status_code == 302
    assert other.get(reverse("catalog:list", args=["research"])).status_code == 302
    assert client.get(reverse("catalog:list", args=["research"])).status_code == 200


# The API's profile lists are kept too, per project and query.


def api_names(client, project: str, path: str, **params) -> list[str]:
    response = client.get(api_url(project, path), params)
    assert response.status_code == 200
    return [item["metadata"]["name"] for item in response.json()["items"]]


def test_a_repeated_api_list_request_reads_no_profile(estate, bob):
    api = key_client(bob)
    api_names(api, "research", "catalog/")
    with CaptureQueriesContext(connection) as captured:
        api_names(api, "research", "catalog/")
    assert not [q for q in captured.captured_queries if "profiles_" in q["sql"]]


def test_the_api_lists_show_each_kind_of_write_at_once(estate, bob, dave):
    member, admin = key_client(bob), key_client(dave)
    profile = estate["shared"]
    assert "shared-one" not in api_names(member, "research", "catalog/")
    assert "shared-one" not in api_names(admin, "research", "serviceprofiles/")
    profile.sharing = "selected"
    profile.save()
    profile.shared_with.set([estate["research"]])
    assert "shared-one" in api_names(member, "research", "catalog/", q="shared")
    assert "shared-one" in api_names(admin, "research", "serviceprofiles/")
    profile.display_name = "Renamed Over The API"
    profile.save()
    response = member.get(api_url("research", "catalog/"))
    assert "Renamed Over The API" in response.content.decode()
    profile.shared_with.set([])
    assert "shared-one" not in api_names(member, "research", "catalog/", q="shared")
    made = make_profile(estate["research"], "own-new", version=estate["version"])
    assert "own-new" in api_names(admin, "research", "serviceprofiles/")
    made.delete()
    assert "own-new" not in api_names(admin, "research", "serviceprofiles/")


def test_an_api_list_names_a_renamed_author_at_once(estate, alice):
    api = key_client(alice)
    profile = estate["shared"]
    profile.created_by = alice
    profile.save()
    listed = api.get(api_url("platform", "serviceprofiles/")).json()["items"]
    assert [i["status"]["createdBy"] for i in listed if i["metadata"]["name"] == "shared-one"] == [
        "alice"
    ]
    alice.username = "alice-renamed"
    alice.save()
    listed = api.get(api_url("platform", "serviceprofiles/")).json()["items"]
    assert [i["status"]["createdBy"] for i in listed if i["metadata"]["name"] == "shared-one"] == [
        "alice-renamed"
    ]
