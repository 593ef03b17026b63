"""SPEC §2 as a matrix: every project-scoped URL × every kind of user × every project."""

import pytest
from django.urls import reverse

from profiles.models import EnvironmentTemplate, ServiceProfile
from studio import access
from studio.models import Project
from tests.factories import make_profile, make_project, make_template, make_user

PROJECT_URLS = {
    # url name: minimum role
    "catalog:overview": "member",
    "studio:members": "admin",
}

# user: {project: role}; superusers are admins everywhere, anyone else an outsider.
ROLES = {
    "alice": {"platform": "admin"},
    "dave": {"research": "admin"},
    "bob": {"research": "member"},
    "carol": {"finance": "member"},
}


def expected_status(username: str, project: str, needs: str) -> int:
    if project == "system-catalog" or project == "no-such-project":
        return 404
    role = "admin" if username == "admin" else ROLES[username].get(project)
    if role is None:
        return 404
    if needs == "admin" and role != "admin":
        return 403
    return 200


MATRIX = [
    (url_name, username, project)
    for url_name in PROJECT_URLS
    for username in ["admin", *ROLES]
    for project in ["platform", "research", "finance", "system-catalog", "no-such-project"]
]


@pytest.mark.parametrize(("url_name", "username", "project"), MATRIX)
def test_access_matrix(client, cast, url_name, username, project):
    client.force_login(cast[username])
    response = client.get(reverse(url_name, args=[project]))
    assert response.status_code == expected_status(username, project, PROJECT_URLS[url_name])


@pytest.mark.parametrize("url_name", PROJECT_URLS)
@pytest.mark.parametrize("project", ["platform", "no-such-project"])
def test_anonymous_user_is_sent_to_login(client, projects, url_name, project):
    url = reverse(url_name, args=[project])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_outsider_404_does_not_name_the_project(client, carol, research):
    client.force_login(carol)
    response = client.get(reverse("catalog:overview", args=["research"]))
    assert response.status_code == 404
    assert b"research" not in response.content.lower()
    assert b"Research" not in response.content


def test_member_gets_403_page_that_explains(client, bob):
    client.force_login(bob)
    response = client.get(reverse("studio:members", args=["research"]))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Only this project&#x27;s admins may open this page." in html
    assert reverse("catalog:overview", args=["research"]) in html  # back to this project


def test_inactive_user_is_treated_as_anonymous(client, alice):
    alice.is_active = False
    alice.save()
    client.force_login(alice)
    response = client.get(reverse("catalog:overview", args=["platform"]))
    assert response.status_code == 302


def test_projects_for_user_never_include_system_catalog(cast, system):
    for user in cast.values():
        assert system not in Project.objects.for_user(user)


def test_superuser_sees_every_project_as_admin(superuser):
    roles = {p.name: p.role for p in access.projects_with_role(superuser)}
    assert roles == {"finance": "admin", "platform": "admin", "research": "admin"}


def test_member_role_is_annotated(bob):
    assert [(p.name, p.role) for p in access.projects_with_role(bob)] == [("research", "member")]


# Profiles and templates: what a project may see, use and change -------------------------------


@pytest.fixture
def spread(cast, projects, system, notebook_version):
    """Profiles of every kind of visibility, as seen from research."""
    platform, research, finance = projects["platform"], projects["research"], projects["finance"]
    alice = cast["alice"]
    return {
        "own-draft": make_profile(research, "own-draft", version=notebook_version),
        "own-ready": make_profile(research, "own-ready", version=notebook_version, status="ready"),
        "private": make_profile(platform, "private", version=notebook_version, status="ready"),
        "to-all": make_profile(
            platform, "to-all", version=notebook_version, status="ready", sharing="all"
        ),
        "to-research": make_profile(
            platform,
            "to-research",
            version=notebook_version,
            status="ready",
            sharing="selected",
            shared_with=[research, finance],
            actor=alice,
        ),
        "to-finance": make_profile(
            platform,
            "to-finance",
            version=notebook_version,
            status="ready",
            sharing="selected",
            shared_with=[finance],
        ),
        "draft-to-all": make_profile(
            platform, "draft-to-all", version=notebook_version, sharing="all"
        ),
        "system": make_profile(
            system, "system", version=notebook_version, status="ready", sharing="all"
        ),
        "system-draft": make_profile(system, "system-draft", version=notebook_version),
    }


def names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


def test_project_sees_its_own_and_ready_profiles_shared_into_it(spread, research):
    visible = ServiceProfile.objects.visible_to(research)
    assert names(visible) == {"own-draft", "own-ready", "to-all", "to-research", "system"}


def test_visible_profiles_have_no_duplicates_when_shared_with_several_projects(spread, research):
    visible = ServiceProfile.objects.visible_to(research)
    assert visible.count() == len(names(visible))


def test_catalog_holds_only_ready_profiles(spread, research):
    assert names(ServiceProfile.objects.in_catalog_of(research)) == {
        "own-ready",
        "to-all",
        "to-research",
        "system",
    }


def test_only_the_owning_project_may_change_a_profile(spread, research, platform):
    assert names(ServiceProfile.objects.editable_in(research)) == {"own-draft", "own-ready"}
    assert "to-research" not in names(ServiceProfile.objects.editable_in(research))
    assert "to-research" in names(ServiceProfile.objects.editable_in(platform))


def test_nobody_changes_system_profiles_through_a_project(spread, system):
    assert not ServiceProfile.objects.editable_in(system).exists()


def test_templates_available_to_a_project(cast, projects, system):
    research, platform = projects["research"], projects["platform"]
    make_template(system, "sys-tpl")
    make_template(platform, "platform-private")
    make_template(platform, "platform-to-research", sharing="selected")
    EnvironmentTemplate.objects.get(name="platform-to-research").shared_with.set([research])
    make_template(platform, "platform-to-all", sharing="all")
    make_template(research, "research-own")
    available = names(EnvironmentTemplate.objects.available_to(research))
    assert available == {"sys-tpl", "platform-to-research", "platform-to-all", "research-own"}


def test_a_new_project_sees_system_and_all_shared_profiles_only(spread):
    newcomer = make_project("newcomer")
    make_user("nina", newcomer="member")
    assert names(ServiceProfile.objects.in_catalog_of(newcomer)) == {"to-all", "system"}


def test_a_name_seen_from_a_project_is_its_own_then_the_systems_then_the_first_owners(
    projects, system
):
    research, platform, finance = projects["research"], projects["platform"], projects["finance"]
    make_template(platform, "shared-tpl", sharing="all")
    make_template(finance, "shared-tpl", sharing="all")
    assert EnvironmentTemplate.objects.named_for(research, "shared-tpl").project == finance
    make_template(system, "shared-tpl")
    assert EnvironmentTemplate.objects.named_for(research, "shared-tpl").project == system
    make_template(research, "shared-tpl")
    assert EnvironmentTemplate.objects.named_for(research, "shared-tpl").project == research
    assert EnvironmentTemplate.objects.named_for(research, "no-such-tpl") is None
