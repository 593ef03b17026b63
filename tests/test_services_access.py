"""SPEC §2 and §8 for the service pages: every URL × every kind of user × every project.

A member sees and destroys their own services (another member's is a 404, like a private
workspace); the project's admins see and destroy every one; only the owner reveals a sensitive
output (403 for anyone else who can see the service); outsiders get 404, anonymous users the
login page.
"""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from compute import services as compute
from compute.models import ComputeInstance, Service
from profiles.models import TemplateVersion
from tests.factories import make_profile, make_template, make_user

PROJECTS = ["research", "platform", "finance", "system-catalog"]
USERS = ["admin", "dave", "bob", "other", "carol", None]  # other: a second member of research


@pytest.fixture
def world(research, system, dave, bob, superuser, carol):
    make_user("other", research="member")
    version = make_template(system, "echo", outputs=[{"name": "pw", "sensitive": True}])
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline="#!/bin/sh\ntrue\n"
    )
    profile = make_profile(research, "echo", version=version, actor=dave, status="ready")
    instance = ComputeInstance.objects.create(
        project=research, name="box", display_name="Box", connection="local"
    )
    service = compute.launch(project=research, actor=bob, profile=profile, name="bobs",
                             instance=instance, submitted={})  # fmt: skip
    Service.objects.filter(pk=service.pk).update(
        state="running",
        outputs=[{"name": "pw", "displayName": "PW", "sensitive": True}],
        output_secrets=json.dumps({"pw": "x"}),
    )
    service.runs.update(state="succeeded")
    return profile


RESEARCH = {"admin": "admin", "dave": "admin", "bob": "owner", "other": "member"}


def expected(name: str, answers: dict[str, int], user: str, project: str) -> int:
    if project == "system-catalog":
        return 404
    if project != "research":  # nothing of research's is there; its members see its list
        belongs = user == "admin" or (user, project) == ("carol", "finance")
        if name == "compute:profile_services" and belongs:  # an empty list: admins only
            return 200 if user == "admin" else 403
        return 200 if belongs and name == "compute:services" else 404
    return answers.get(RESEARCH.get(user, ""), 404)


# (url name, args after the project, method, what each role gets)
URLS = [
    ("compute:launch", ["research", "echo"], "GET",
     {"admin": 200, "owner": 200, "member": 200}),
    ("compute:services", [], "GET", {"admin": 200, "owner": 200, "member": 200}),
    ("compute:service", ["bobs"], "GET", {"admin": 200, "owner": 200, "member": 404}),
    ("compute:destroy", ["bobs"], "GET", {"admin": 200, "owner": 200, "member": 404}),
    ("compute:redeploy", ["bobs"], "GET", {"admin": 200, "owner": 200, "member": 404}),
    # Nothing is in progress: the cancel is refused with a message on the service's page.
    ("compute:cancel", ["bobs"], "POST", {"admin": 302, "owner": 302, "member": 404}),
    ("compute:reveal_output", ["bobs", "pw"], "POST",
     {"admin": 403, "owner": 200, "member": 404}),
    ("compute:profile_services", ["echo"], "GET", {"admin": 200, "owner": 403, "member": 403}),
]  # fmt: skip
MATRIX = [(url, user, project) for url in URLS for user in USERS for project in PROJECTS]


@pytest.mark.parametrize(
    ("url", "user", "project"),
    MATRIX,
    ids=[f"{u[0]}-{user}-{p}" for u, user, p in MATRIX],
)
def test_access_matrix(client, world, url, user, project):
    name, args, method, answers = url
    if user:
        client.force_login(get_user_model().objects.get(username=user))
    address = reverse(name, args=[project, *args])
    response = client.get(address) if method == "GET" else client.post(address)
    if user is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        return
    assert response.status_code == expected(name, answers, user, project)


def test_every_service_url_is_in_the_matrix():
    from compute import urls

    named = {f"compute:{p.name}" for p in urls.urlpatterns if getattr(p, "name", None)}
    assert named == {url[0] for url in URLS}


@pytest.mark.parametrize(
    ("name", "args"), [("compute:reveal_output", ["bobs", "pw"]), ("compute:cancel", ["bobs"])]
)
def test_post_only_urls_refuse_get(client, world, bob, name, args):
    client.force_login(bob)
    assert client.get(reverse(name, args=["research", *args])).status_code == 405


def test_destroy_is_post_or_get_only(client, world, bob):
    client.force_login(bob)
    assert client.put(reverse("compute:destroy", args=["research", "bobs"])).status_code == 405
