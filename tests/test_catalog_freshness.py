"""The catalog's results are kept between requests (studio.freshness) and never outlive a write:
after each kind of committed write, the very next catalog and Studio list request shows it.

These tests commit (``transactional_db``), so the page cache is the real one, as in production.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from profiles.models import ServiceProfile
from studio.models import Membership
from tests.factories import make_profile, make_template

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
