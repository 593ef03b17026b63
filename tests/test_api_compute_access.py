"""SPEC §2 and §8 over the compute API: every operation × every kind of user × every project.

Everyone in a project reads its compute instances and registers one; only the owner, the
project's admins and superusers change or remove one (403 for another member, who can see it).
A member sees and destroys their own services (another member's is a 404); the project's
admins every one. Outsiders get 404 naming nothing, anonymous callers 401. Lists run a fixed
number of queries whatever the row count.
"""

from dataclasses import dataclass, field

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from compute import services as compute
from compute.models import ComputeInstance, Service
from tests.factories import make_profile, make_user
from tests.test_api_access import api_url, key_client, send
from tests.test_compute_instances import HOST_KEY

PROJECTS = ["research", "platform", "finance", "system-catalog"]
USERS = ["admin", "dave", "bob", "other", "carol", None]  # other: a second member of research
# In research: who each user is to bob's instance and service.
RESEARCH = {"admin": "admin", "dave": "admin", "bob": "owner", "other": "member"}
# Where each user belongs besides research (the superuser everywhere but the system catalog).
ELSEWHERE = {"admin": {"platform", "finance"}, "carol": {"finance"}}


@dataclass(frozen=True)
class Endpoint:
    """An operation, and what each role in research gets from it (``lists``: its list, so
    that anyone in another project gets 200 there too, where nothing of research's is)."""

    method: str
    path: str
    answers: dict[str, int]
    body: object = None
    lists: bool = False
    elsewhere: int = field(default=404)

    @property
    def id(self) -> str:
        return f"{self.method}-{self.path}"


EVERYONE = dict.fromkeys(["admin", "owner", "member"])


def each(status: int) -> dict[str, int]:
    return dict.fromkeys(EVERYONE, status)


# Writes carry a body that fails validation (400) or hit a refusal that changes nothing (409:
# the instance has a live service, the service's deploy has not finished), so the matrix
# changes nothing; an empty merge patch writes the instance as it is.
ENDPOINTS = [
    Endpoint("GET", "computeinstances/", each(200), lists=True),
    Endpoint("POST", "computeinstances/", each(400), body={}, lists=True, elsewhere=400),
    Endpoint("GET", "computeinstances/bobs-box", each(200)),
    Endpoint("PUT", "computeinstances/bobs-box", {**each(400), "member": 403}, body={}),
    Endpoint("PATCH", "computeinstances/bobs-box", {**each(200), "member": 403}, body={}),
    Endpoint("DELETE", "computeinstances/bobs-box", {**each(409), "member": 403}),
    Endpoint("POST", "computeinstances/bobs-box", each(405), body={}),
    Endpoint("GET", "services/", each(200), lists=True),
    Endpoint("POST", "services/", each(400), body={}, lists=True, elsewhere=400),
    Endpoint("GET", "services/bobs", {**each(200), "member": 404}),
    Endpoint("DELETE", "services/bobs", {**each(409), "member": 404}),
    Endpoint("PUT", "services/bobs", each(405), body={}),
    Endpoint("GET", "services/bobs/runs/", {**each(200), "member": 404}),
]


def expected_status(endpoint: Endpoint, username: str | None, project: str) -> int:
    if username is None:
        return 401
    if project == "research":
        role = RESEARCH.get(username)
        return 404 if role is None else endpoint.answers[role]
    if project not in ELSEWHERE.get(username, set()):
        return 404  # an outsider, or the system catalog
    if endpoint.lists:
        return 200 if endpoint.method == "GET" else endpoint.elsewhere
    return 405 if endpoint.answers == each(405) else 404  # nothing of that name there


@pytest.fixture
def world(cast, research, notebook_version, dave, bob):
    """bob's ssh instance ``bobs-box`` in research with his service ``bobs`` on it, pending
    (its deploy queued); a second member ``other``; returns every user by name."""
    other = make_user("other", research="member")
    profile = make_profile(research, "team-notebook", version=notebook_version, actor=dave,
                           status="ready")  # fmt: skip
    instance = ComputeInstance.objects.create(
        project=research, name="bobs-box", display_name="Bob's box", owner=bob,
        connection="ssh", host="gpu.example.com", port=22, username="ubuntu", host_key=HOST_KEY,
    )  # fmt: skip
    compute.launch(project=research, actor=bob, profile=profile, name="bobs", instance=instance,
                   submitted={})  # fmt: skip
    return {**cast, "other": other}


def state() -> list[dict]:
    """Every instance and service row, but when each was last saved (an empty merge patch
    saves the instance as it is)."""
    rows = [
        *ComputeInstance.objects.order_by("pk").values(),
        *Service.objects.order_by("pk").values(),
    ]
    for row in rows:
        del row["modified_at"]
    return rows


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_access_matrix(world, endpoint):
    """One row of the matrix: what each user gets in each project, through an API key."""
    before = state()
    statuses, expected = {}, {}
    for username in USERS:
        client = key_client(world[username]) if username else Client()
        for project in PROJECTS:
            cell = f"{username}@{project}"
            url = api_url(project, endpoint.path)
            statuses[cell] = send(client, endpoint.method, url, endpoint.body).status_code
            expected[cell] = expected_status(endpoint, username, project)
    assert statuses == expected
    assert state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_outsider_404_names_nothing(world, endpoint):
    response = send(key_client(world["carol"]), endpoint.method, api_url("research", endpoint.path),
                    endpoint.body)  # fmt: skip
    assert response.status_code == 404
    text = response.content.decode()
    assert "research" not in text.lower()
    assert "bobs" not in text


def test_an_outsider_cannot_tell_a_real_instance_from_a_missing_one(world):
    client = key_client(world["carol"])
    real = client.get(api_url("research", "computeinstances/bobs-box"))
    missing = client.get(api_url("research", "computeinstances/no-such-box"))
    assert (real.status_code, real.content) == (missing.status_code, missing.content)


def test_another_member_cannot_tell_a_service_from_a_missing_one(world):
    client = key_client(world["other"])
    real = client.get(api_url("research", "services/bobs"))
    missing = client.get(api_url("research", "services/no-such-service"))
    assert (real.status_code, real.content) == (missing.status_code, missing.content)


def test_an_instance_registered_by_a_member_is_theirs_to_change(world):
    client = key_client(world["other"])
    document = client.get(api_url("research", "computeinstances/bobs-box")).json()
    document["metadata"]["name"] = "others-box"
    assert (
        send(client, "POST", api_url("research", "computeinstances/"), document).status_code == 201
    )
    patched = send(client, "PATCH", api_url("research", "computeinstances/others-box"),
                   {"spec": {"gpus": "1x L4"}})  # fmt: skip
    assert patched.status_code == 200
    assert ComputeInstance.objects.get(name="others-box").owner == world["other"]


# Lists run a fixed number of queries, whatever the row count ----------------------------------


def queries_for(client: Client, url: str) -> int:
    client.get(url)  # the first request also records the key's last use
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_rows(count: int, world: dict, start: int) -> None:
    profile = Service.objects.get(name="bobs").profile
    research = profile.project
    for n in range(start, start + count):
        owner = world["bob"] if n % 2 else world["dave"]
        instance = ComputeInstance.objects.create(
            project=research, name=f"box-{n}", display_name=f"Box {n}", owner=owner,
            connection="ssh", host="h.example.com", port=22, username="u", host_key=HOST_KEY,
        )  # fmt: skip
        compute.launch(project=research, actor=owner, profile=profile, name=f"svc-{n}",
                       instance=instance, submitted={})  # fmt: skip


@pytest.mark.parametrize("path", ["computeinstances/", "services/"], ids=lambda p: p[:-1])
@pytest.mark.parametrize("username", ["dave", "bob"])
def test_a_list_runs_the_same_queries_for_few_rows_and_many(world, path, username):
    client = key_client(world[username])
    url = api_url("research", path)
    add_rows(1, world, 0)
    few = queries_for(client, url)
    add_rows(5, world, 1)
    assert queries_for(client, url) == few
