"""Studio's revision page (issue "Launch"): any revision's document, and a field-by-field diff
against another revision (the component the service page uses too)."""

import pytest
from django.urls import reverse

from profiles import services
from tests.factories import make_profile, make_template


@pytest.fixture
def profile(platform, system, alice):
    version = make_template(
        system, "nb", sharing="all",
        variables=[{"name": "token", "value": "hf_very_secret", "sensitive": True}],
    )  # fmt: skip
    profile = make_profile(platform, "team-notebook", version=version, actor=alice,
                           display_name="Team Notebook", status="ready")  # fmt: skip
    for revision, title in [(1, "Team Notebook 2"), (2, "Team Notebook 3")]:
        services.save_general(profile=profile, actor=alice, expected_revision=revision,
                              changes={"display_name": title})  # fmt: skip
    return profile


def url(number: int, **query) -> str:
    address = reverse("profiles:revision", args=["platform", "team-notebook", number])
    return address + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_a_revision_shows_its_document(client, alice, profile):
    client.force_login(alice)
    html = client.get(url(2)).content.decode()
    assert "displayName: Team Notebook 2" in html
    assert "hf_very_secret" not in html


def test_a_revision_is_compared_with_the_one_before_by_default(client, alice, profile):
    client.force_login(alice)
    response = client.get(url(3))
    assert response.context["diff"] == [
        {"path": "metadata.displayName", "before": "Team Notebook 2", "after": "Team Notebook 3"}
    ]
    assert "Changes from revision 2" in response.content.decode()


def test_any_two_revisions_can_be_compared(client, alice, profile):
    client.force_login(alice)
    response = client.get(url(3, compare=1))
    assert response.context["other"].number == 1
    assert response.context["diff"][0]["before"] == "Team Notebook"


def test_an_unknown_comparison_falls_back_to_the_revision_before(client, alice, profile):
    client.force_login(alice)
    assert client.get(url(3, compare=99)).context["other"].number == 2
    assert client.get(url(3, compare="x")).context["other"].number == 2


def test_the_first_revision_has_nothing_before_it(client, alice, profile):
    client.force_login(alice)
    response = client.get(url(1))
    assert response.context["other"] is None
    assert "nothing before it to compare" in response.content.decode()


def test_a_revision_that_does_not_exist_is_a_404(client, alice, profile):
    client.force_login(alice)
    assert client.get(url(9)).status_code == 404


def test_the_profile_page_links_each_revision(client, alice, profile):
    client.force_login(alice)
    html = client.get(reverse("profiles:view", args=["platform", "team-notebook"])).content
    assert all(url(n) in html.decode() for n in (1, 2, 3))
