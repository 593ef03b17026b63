"""The page frame: where users land, the overview and members pages, error pages."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import make_project, make_template, make_user


def test_home_sends_a_user_to_their_first_project(client, bob):
    client.force_login(bob)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:overview", args=["research"])


def test_home_sends_a_superuser_to_the_first_project_by_name(client, superuser):
    client.force_login(superuser)
    assert client.get("/")["Location"] == reverse("catalog:overview", args=["finance"])


def test_user_without_project_is_told_so(client, db):
    client.force_login(make_user("loner"))
    response = client.get("/")
    assert response.status_code == 200
    assert "You are not in any project yet" in response.content.decode()


def test_anonymous_home_goes_to_login(client, db):
    assert client.get("/")["Location"] == "/accounts/login/?next=/"


def test_login_page_has_labelled_fields(client, db):
    html = client.get(reverse("login")).content.decode()
    assert re.search(r'<label\s+for="id_username"', html)
    assert re.search(r'<label\s+for="id_password"', html)
    assert "vendor/bootstrap/css/bootstrap.min.css" in html


def test_logging_in_lands_on_the_first_project(client, alice):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "test-password"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("catalog:overview", args=["platform"])


def test_logout_needs_a_post(client, alice):
    client.force_login(alice)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/").status_code == 302


def test_switcher_lists_only_the_users_projects(client, dave):
    client.force_login(dave)
    html = client.get(reverse("catalog:overview", args=["research"])).content.decode()
    assert reverse("catalog:overview", args=["research"]) in html
    assert reverse("catalog:overview", args=["platform"]) not in html
    assert "system-catalog" not in html


def test_members_menu_entry_only_for_admins(client, dave, bob):
    url = reverse("studio:members", args=["research"])
    client.force_login(dave)
    assert url in client.get(reverse("catalog:overview", args=["research"])).content.decode()
    client.force_login(bob)
    assert url not in client.get(reverse("catalog:overview", args=["research"])).content.decode()


def test_overview_lists_templates_the_project_may_build_on(client, alice, platform, system):
    make_template(system, "sys-tpl")
    make_template(platform, "own-tpl", state="draft")
    make_template(make_project("elsewhere"), "other-tpl")
    client.force_login(alice)
    html = client.get(reverse("catalog:overview", args=["platform"])).content.decode()
    assert "sys-tpl" in html and "own-tpl" in html
    assert "other-tpl" not in html
    assert "none active" in html  # own-tpl has only a draft version


def test_members_page_lists_roles(client, dave, bob):
    client.force_login(dave)
    response = client.get(reverse("studio:members", args=["research"]))
    members = [(m.user.username, m.role) for m in response.context["memberships"]]
    assert members == [("dave", "admin"), ("bob", "member")]


@pytest.mark.parametrize("extra", [3, 30])
def test_overview_query_count_does_not_grow_with_templates(client, superuser, system, extra):
    client.force_login(superuser)
    url = reverse("catalog:overview", args=["platform"])
    for n in range(extra):
        make_template(system, f"tpl-{n}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    # session with the page token, user, project+role, templates, versions, 3 counts, switcher
    assert len(queries) == 9


def test_unknown_url_shows_the_404_page(client, alice):
    client.force_login(alice)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_post_to_a_read_only_page_is_refused(client, alice):
    client.force_login(alice)
    assert client.post(reverse("catalog:overview", args=["platform"])).status_code == 405
