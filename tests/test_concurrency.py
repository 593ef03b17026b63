"""Writers at the same moment (issue 8): every acknowledged write is kept, and none gets a 500.

The requests go over loopback to pytest-django's live server, which answers each one in its own
thread with its own database connection, as ``make run`` and gunicorn do. On SQLite that needs
a file database (tests/conftest.py makes the test database one); CI runs the same tests on
PostgreSQL. A barrier releases the writers together; every wait is bounded.
"""

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from profiles.models import ServiceProfile
from studio.models import ApiKey
from tests.factories import make_profile

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WRITERS = 20
TIMEOUT = 60  # seconds for any one request, and for all the writers to finish
PLATFORM = "/apis/paas.envmgmt.io/v1/projects/platform/"
PROFILES = PLATFORM + "serviceprofiles/"
TEAM = PROFILES + "team-notebook"
CLONE = PLATFORM + "systemprofiles/jupyter-notebook/clone"


@pytest.fixture
def team_notebook(cast, projects, notebook_version) -> ServiceProfile:
    return make_profile(
        projects["platform"],
        "team-notebook",
        version=notebook_version,
        status="ready",
        actor=cast["alice"],
    )


@pytest.fixture
def send(live_server, cast) -> Callable[..., tuple[int, dict]]:
    """``send(method, path, body)`` as alice with her API key: the status code and JSON body."""
    _, token = ApiKey.issue(user=cast["alice"], name="concurrency")

    def send(method: str, path: str, body=None) -> tuple[int, dict]:
        request = urllib.request.Request(
            live_server.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "X-API-KEY": token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            with error:
                text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, {"text": text.decode(errors="replace")[:500]}

    return send


def at_once(*calls: Callable[[], tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls), timeout=TIMEOUT)
    results: list = [None] * len(calls)

    def run(index: int, call: Callable) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a writer did not finish in time"
    return results


def codes(results: list[tuple[int, dict]]) -> list[int]:
    return sorted(code for code, _ in results)


def patch_key(send, i: int) -> Callable[[], tuple[int, dict]]:
    """A merge patch adding annotation ``key-<i>``, sent without ``metadata.revision``."""
    return lambda: send("PATCH", TEAM, {"metadata": {"annotations": {f"key-{i}": "set"}}})


def keys_kept(send) -> set[str]:
    _, document = send("GET", TEAM)
    return {key for key in document["metadata"]["annotations"] if key.startswith("key-")}


def test_parallel_merge_patches_of_distinct_keys_are_all_kept(team_notebook, send):
    results = at_once(*[patch_key(send, i) for i in range(WRITERS)])
    assert codes(results) == [200] * WRITERS
    assert keys_kept(send) == {f"key-{i}" for i in range(WRITERS)}
    assert send("GET", TEAM)[1]["metadata"]["revision"] == team_notebook.revision + WRITERS


def test_two_replaces_at_the_same_revision_give_one_200_and_one_409(team_notebook, send):
    _, document = send("GET", TEAM)
    document.pop("status")
    first = json.loads(json.dumps(document))
    first["metadata"]["description"] = "First writer."
    second = json.loads(json.dumps(document))
    second["metadata"]["description"] = "Second writer."
    results = at_once(lambda: send("PUT", TEAM, first), lambda: send("PUT", TEAM, second))
    assert codes(results) == [200, 409]
    winner = next(body for code, body in results if code == 200)
    _, saved = send("GET", TEAM)
    assert saved["metadata"]["description"] == winner["metadata"]["description"]
    assert saved["metadata"]["revision"] == document["metadata"]["revision"] + 1


def test_sharing_changed_beside_merge_patches_keeps_every_write(team_notebook, send):
    patches = [patch_key(send, i) for i in range(WRITERS // 2)]
    results = at_once(lambda: send("PUT", f"{TEAM}/sharing", {"type": "all"}), *patches)
    assert codes(results) == [200] * (len(patches) + 1)
    assert keys_kept(send) == {f"key-{i}" for i in range(len(patches))}
    assert send("GET", TEAM)[1]["spec"]["sharing"] == {"type": "all"}


def test_two_clones_to_one_name_give_one_201_and_one_409(team_notebook, system, send):
    make_profile(system, "jupyter-notebook", version=team_notebook.template_version, status="ready")
    results = at_once(*[lambda: send("POST", CLONE, {"name": "my-jupyter"})] * 2)
    assert codes(results) == [201, 409]
    assert ServiceProfile.objects.filter(name="my-jupyter").count() == 1


def test_two_creates_of_one_name_give_one_201_and_one_409(team_notebook, send):
    document = {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ServiceProfile",
        "metadata": {"name": "new-notebook", "displayName": "New Notebook"},
        "spec": {
            "environmentTemplate": {"name": "jupyter-notebook", "version": "v1"},
            "serviceType": "notebook",
        },
    }
    results = at_once(*[lambda: send("POST", PROFILES, document)] * 2)
    assert codes(results) == [201, 409]
    assert ServiceProfile.objects.get(name="new-notebook").revision == 1
