"""The PaaS Studio home (templates/profiles/studio_home.html): with no profiles it says so and
offers New Service Profile, without an empty "Recently changed:" list above that."""

import pytest
from django.urls import reverse

from tests.factories import make_profile


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


def home_url() -> str:
    return reverse("profiles:studio_home", args=["platform"])


def test_with_no_profiles_there_is_no_recently_changed_list(logged_in):
    html = logged_in.get(home_url()).content.decode()
    assert "Recently changed" not in html
    assert 'class="list-group"' not in html
    assert "This project has no service profiles yet." in html


def test_with_profiles_the_recently_changed_list_names_them(
    logged_in, platform, alice, notebook_version
):
    make_profile(platform, "team-notebook", version=notebook_version, actor=alice)
    html = logged_in.get(home_url()).content.decode()
    assert "1 profile in this project, 1 still draft. Recently changed:" in html
    assert 'href="/projects/platform/studio/service-profiles/team-notebook/"' in html
    assert "This project has no service profiles yet." not in html
