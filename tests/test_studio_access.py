"""SPEC §2 for the PaaS Studio pages: every Studio URL × every kind of user × every project.

Project admins (and superusers) get the page, members 403, outsiders 404 that names nothing,
anonymous users the login page. A profile shared *into* a project is read-only there.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from profiles import urls as studio_urls
from profiles.models import ProfileRevision, ServiceProfile
from tests.factories import make_profile, make_template, profiles_in_bulk

PROJECTS = ["platform", "research", "finance", "system-catalog"]

# user: {project: role}; the superuser ``admin`` is an admin everywhere, anyone else an outsider.
ROLES = {
    "admin": {"platform": "admin", "research": "admin", "finance": "admin"},
    "alice": {"platform": "admin"},
    "dave": {"research": "admin"},
    "bob": {"research": "member"},
    "carol": {"finance": "member"},
}


@dataclass(frozen=True)
class StudioUrl:
    """A Studio URL under ``/projects/<project>/studio/`` and how its admins are answered."""

    name: str
    args: tuple[str, ...] = ()
    # method: what an admin gets (a POST of nothing useful redisplays a form with errors: 400)
    admin: dict[str, int] = field(default_factory=lambda: {"GET": 200})

    @property
    def id(self) -> str:
        return "-".join([self.name, *self.args[-1:]]) if self.name == "profiles:step" else self.name

    def url(self, project: str) -> str:
        return reverse(self.name, args=[project, *self.args])


FORM = {"GET": 200, "POST": 400}
STUDIO_URLS = [
    StudioUrl("profiles:studio_home"),
    StudioUrl("profiles:list"),
    StudioUrl("profiles:new", admin=FORM),
    StudioUrl("profiles:view", ("team-notebook",)),
    StudioUrl("profiles:delete", ("team-notebook",), admin=FORM),
    StudioUrl("profiles:revision", ("team-notebook", "1")),
    StudioUrl("profiles:revision_download", ("team-notebook", "1")),
    StudioUrl("profiles:yaml", ("team-notebook",)),
    StudioUrl("profiles:yaml_download", ("team-notebook",)),
    StudioUrl("profiles:export"),
    *[
        StudioUrl("profiles:step", ("team-notebook", step), admin=FORM)
        for step in ServiceProfile.Step
    ],
    StudioUrl("profiles:shared", ("system-catalog", "jupyter-notebook")),
    StudioUrl("profiles:system"),
    StudioUrl("profiles:clone", ("jupyter-notebook",), admin=FORM),
    StudioUrl("profiles:readme_preview", admin={"POST": 200}),
]


def test_every_studio_url_name_is_in_the_matrix():
    names = {f"{studio_urls.app_name}:{p.name}" for p in studio_urls.urlpatterns}
    assert names == {u.name for u in STUDIO_URLS}
    assert {u.args[-1] for u in STUDIO_URLS if u.name == "profiles:step"} == set(
        ServiceProfile.Step.values
    )


def expected_status(studio_url: StudioUrl, username: str | None, project: str, method: str) -> int:
    if method not in studio_url.admin:
        return 405
    if username is None:
        return 302
    role = ROLES[username].get(project)
    if role is None:
        return 404
    if role == "member":
        return 403
    return studio_url.admin[method]


@pytest.fixture
def studio(cast, projects, system):
    """A ready ``team-notebook`` in every project and one system profile; returns the cast."""
    version = make_template(
        system,
        "small",
        sharing="all",
        variables=[{"name": "gpu_count", "value_type": "number", "value": "1"}],
        outputs=[{"name": "url"}],
    )
    # Straight into the tables: access needs the rows, not their inputs or documents.
    profiles = profiles_in_bulk(
        [
            *[
                ServiceProfile(
                    project=project,
                    name="team-notebook",
                    display_name="Team Notebook",
                    template_version=version,
                    status="ready",
                )
                for project in projects.values()
            ],
            ServiceProfile(
                project=system,
                name="jupyter-notebook",
                display_name="Jupyter Notebook",
                template_version=version,
                status="ready",
            ),
        ]
    )
    ProfileRevision.objects.bulk_create(
        ProfileRevision(profile=profile, number=1, document={}) for profile in profiles
    )
    return cast


# A POST carries a body, so that forms are bound and an admin sees them refused (400).
POST_BODY = {"submitted": "1"}


def request(client, method: str, url: str):
    return client.get(url) if method == "GET" else client.post(url, POST_BODY)


def matrix_params(*, admins: bool):
    for studio_url in STUDIO_URLS:
        for method in ["GET", "POST"]:
            yield pytest.param(studio_url, method, id=f"{studio_url.id}-{method}")


@pytest.mark.parametrize(("studio_url", "method"), list(matrix_params(admins=True)))
def test_access_matrix(client, studio, studio_url, method):
    """One row of the matrix: what each user gets in each project."""
    statuses, expected = {}, {}
    for username, user in studio.items():
        client.force_login(user)
        for project in PROJECTS:
            cell = f"{username}@{project}"
            statuses[cell] = request(client, method, studio_url.url(project)).status_code
            expected[cell] = expected_status(studio_url, username, project, method)
    assert statuses == expected


@pytest.mark.parametrize(("studio_url", "method"), list(matrix_params(admins=False)))
def test_access_matrix_anonymous(client, studio, studio_url, method):
    statuses = {p: request(client, method, studio_url.url(p)).status_code for p in PROJECTS}
    assert statuses == {p: expected_status(studio_url, None, p, method) for p in PROJECTS}


@pytest.mark.parametrize(
    "studio_url", [u for u in STUDIO_URLS if "GET" in u.admin], ids=lambda u: u.id
)
def test_anonymous_get_goes_to_login_and_back(client, studio, studio_url):
    url = studio_url.url("platform")
    response = client.get(url)
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize(
    "studio_url", [u for u in STUDIO_URLS if "POST" in u.admin], ids=lambda u: u.id
)
def test_anonymous_post_goes_to_login_and_saves_nothing(client, studio, studio_url):
    url = studio_url.url("platform")
    response = client.post(url, {"name": "sneaky", "confirm": "team-notebook"})
    assert response["Location"] == f"{reverse('login')}?next={url}"
    assert ServiceProfile.objects.filter(project__name="platform").count() == 1


@pytest.mark.parametrize(
    ("studio_url", "method"),
    [(u, m) for u in STUDIO_URLS for m in u.admin],
    ids=[f"{u.id}-{m}" for u in STUDIO_URLS for m in u.admin],
)
def test_outsider_404_does_not_name_the_project(client, studio, studio_url, method):
    client.force_login(studio["carol"])
    response = request(client, method, studio_url.url("research"))
    assert response.status_code == 404
    html = response.content.decode()
    assert "research" not in html.lower()
    assert "team-notebook" not in html
    assert "Team Notebook" not in html


def test_outsider_cannot_tell_a_real_profile_from_a_missing_one(client, studio):
    client.force_login(studio["carol"])
    real = client.get(reverse("profiles:view", args=["research", "team-notebook"]))
    missing = client.get(reverse("profiles:view", args=["research", "no-such-profile"]))
    assert real.status_code == missing.status_code == 404
    assert real.templates[0].name == missing.templates[0].name == "404.html"


def test_member_403_explains_that_studio_is_for_admins(client, studio):
    client.force_login(studio["bob"])
    response = client.get(reverse("profiles:studio_home", args=["research"]))
    assert response.status_code == 403
    assert "Only this project&#x27;s admins may open this page." in response.content.decode()


def test_readme_preview_get_is_405_for_everyone(client, studio):
    url = reverse("profiles:readme_preview", args=["platform"])
    assert client.get(url).status_code == 405
    client.force_login(studio["alice"])
    assert client.get(url).status_code == 405


def test_admin_post_to_a_read_only_studio_page_is_405(client, studio):
    client.force_login(studio["alice"])
    assert client.post(reverse("profiles:list", args=["platform"])).status_code == 405


def test_superuser_does_not_open_the_system_catalog_as_a_project(client, studio):
    client.force_login(studio["admin"])
    assert client.get(reverse("profiles:list", args=["system-catalog"])).status_code == 404


# A profile shared into a project is read-only there -------------------------------------------


@pytest.fixture
def shared_in(cast, platform, research, notebook_version):
    """alice's ready platform profile, shared with research (where dave is admin)."""
    return make_profile(
        platform,
        "shared-notebook",
        display_name="Shared Notebook",
        description="Platform's notebook, lent to research.",
        version=notebook_version,
        status="ready",
        sharing="selected",
        shared_with=[research],
        actor=cast["alice"],
    )


CHANGE_URLS = [
    ("profiles:view", (), "GET"),
    ("profiles:delete", (), "GET"),
    ("profiles:delete", (), "POST"),
    *[
        ("profiles:step", (step,), method)
        for step in ServiceProfile.Step
        for method in ["GET", "POST"]
    ],
]


@pytest.mark.parametrize(
    ("url_name", "extra", "method"),
    CHANGE_URLS,
    ids=["-".join([name, *extra, method]) for name, extra, method in CHANGE_URLS],
)
def test_admin_of_a_project_shared_into_cannot_change_the_profile(
    client, cast, shared_in, url_name, extra, method
):
    client.force_login(cast["dave"])
    statuses = {
        project: request(
            client, method, reverse(url_name, args=[project, "shared-notebook", *extra])
        ).status_code
        for project in ["research", "platform"]
    }
    assert statuses == {"research": 404, "platform": 404}


def test_posts_from_an_admin_shared_into_change_nothing(client, cast, shared_in, research):
    client.force_login(cast["dave"])
    for step, body in [
        ("general", {"display_name": "Hijacked", "revision": 1}),
        ("sharing", {"sharing": "all", "revision": 1}),
    ]:
        client.post(reverse("profiles:step", args=["research", "shared-notebook", step]), body)
    client.post(
        reverse("profiles:delete", args=["research", "shared-notebook"]),
        {"confirm": "shared-notebook"},
    )
    shared_in.refresh_from_db()
    assert (shared_in.display_name, shared_in.sharing, shared_in.revision) == (
        "Shared Notebook",
        "selected",
        1,
    )
    assert list(shared_in.shared_with.all()) == [research]


def test_admin_of_a_project_shared_into_sees_it_read_only(client, cast, shared_in):
    client.force_login(cast["dave"])
    response = client.get(
        reverse("profiles:shared", args=["research", "platform", "shared-notebook"])
    )
    assert response.status_code == 200
    assert response.context["profile"] == shared_in
    assert response.context["editable"] is False
    html = response.content.decode()
    assert "Shared Notebook" in html
    assert "Platform&#x27;s notebook, lent to research." in html
    assert "Shared by Platform · read-only" in html
    assert "/studio/service-profiles/shared-notebook/" not in html  # no Edit, Sharing, Delete


def test_shared_profile_view_refuses_what_is_not_shared_into_the_project(
    client, cast, shared_in, platform, notebook_version
):
    make_profile(platform, "private", version=notebook_version, status="ready")
    make_profile(platform, "draft-to-all", version=notebook_version, sharing="all")
    client.force_login(cast["dave"])
    for owner, name in [
        ("platform", "private"),
        ("platform", "draft-to-all"),
        ("research", "shared-notebook"),
        ("finance", "shared-notebook"),
    ]:
        url = reverse("profiles:shared", args=["research", owner, name])
        assert client.get(url).status_code == 404, url


def test_own_profile_is_not_shown_through_the_shared_view(client, cast, shared_in):
    client.force_login(cast["alice"])
    url = reverse("profiles:shared", args=["platform", "platform", "shared-notebook"])
    assert client.get(url).status_code == 404


def test_only_system_profiles_can_be_cloned(client, cast, shared_in):
    client.force_login(cast["dave"])
    response = client.post(
        reverse("profiles:clone", args=["research", "shared-notebook"]), {"name": "mine"}
    )
    assert response.status_code == 404
    assert not ServiceProfile.objects.filter(name="mine").exists()
