"""The cast of SPEC §7: projects platform, research and finance; admin, alice, dave, bob, carol.

alice administers platform, dave administers research, bob is a member of research, carol a
member of finance, admin is a superuser. Templates and profiles come from tests.factories.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from compute.models import ComputeInstance
from tests.factories import make_project, make_template, make_user, system_catalog


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, tmp_path_factory):
    """On SQLite, test in a database file of this run's own, as ``make run`` serves one.

    In memory, Django would hand the live server the test's own connection, so the concurrency
    tests (test_concurrency.py) could never have two writers at once.
    """
    from django.db import connections

    database = connections["default"].settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3" and not database["TEST"].get("NAME"):
        database["TEST"]["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _page_cache(request, settings):
    """Cached page parts are renewed when a write commits (studio.freshness). A test whose
    database work is committed (``transactional_db``, ``live_server``) runs with the real page
    cache, emptied first; one inside a rolled-back transaction, where nothing commits, keeps no
    page parts (but reads the token, as every page does)."""
    from studio import freshness

    marker = request.node.get_closest_marker("django_db")
    commits = marker is not None and marker.kwargs.get("transaction", False)
    if commits or {"transactional_db", "live_server"} & set(request.fixturenames):
        freshness.forget()
    else:
        settings.CACHES = settings.CACHES | {
            freshness.PAGES: {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
        }
        if marker is not None or "db" in request.fixturenames:
            # As in a running installation, the token exists before a page reads it: making
            # it is no cost of the page a test counts the queries of.
            request.getfixturevalue("db")
            freshness.token()


@pytest.fixture(autouse=True)
def _example_repositories(monkeypatch, settings, tmp_path_factory):
    """Test data names repositories on git.example.com, which does not exist: activating a
    version of one pins a made-up commit instead of asking git. ``file://`` repositories (as
    tests/test_code_*.py make them) are resolved with git, into a cache of the test run's own."""
    from urllib.parse import urlsplit

    from profiles import repositories

    settings.COMPUTE_CODE_CACHE = str(tmp_path_factory.mktemp("code-cache"))
    real = repositories.resolve_commit

    def resolve(repository: str, revision: str, path: str) -> str:
        if urlsplit(repository).hostname == "git.example.com":
            return "0" * 40
        return real(repository, revision, path)

    monkeypatch.setattr(repositories, "resolve_commit", resolve)


@pytest.fixture
def platform(db):
    return make_project("platform", display_name="Platform")


@pytest.fixture
def research(db):
    return make_project("research", display_name="Research")


@pytest.fixture
def finance(db):
    return make_project("finance", display_name="Finance")


@pytest.fixture
def projects(platform, research, finance):
    return {"platform": platform, "research": research, "finance": finance}


@pytest.fixture
def system(db):
    return system_catalog()


@pytest.fixture
def superuser(projects):
    return make_user("admin", superuser=True)


@pytest.fixture
def alice(projects):
    return make_user("alice", platform="admin")


@pytest.fixture
def dave(projects):
    return make_user("dave", research="admin")


@pytest.fixture
def bob(projects):
    return make_user("bob", research="member")


@pytest.fixture
def carol(projects):
    return make_user("carol", finance="member")


@pytest.fixture
def cast(superuser, alice, dave, bob, carol):
    return {"admin": superuser, "alice": alice, "dave": dave, "bob": bob, "carol": carol}


@pytest.fixture
def notebook_version(system):
    """``jupyter-notebook`` v1 in the system catalog, with the variables of SPEC §7."""
    return make_template(
        system,
        "jupyter-notebook",
        sharing="all",
        variables=[
            {
                "name": "notebook_profile",
                "value": "pytorch",
                "required": True,
                "override": "restricted",
                "restricted_values": ["pytorch", "tensorflow", "rapids"],
            },
            {"name": "image", "value": "nvcr.io/nvidia/pytorch:24.10-py3"},
            {"name": "gpu_count", "value_type": "number", "value": "1", "required": True},
            {"name": "enable_ssh", "value_type": "boolean", "value": "false"},
            {"name": "region", "value": "us-east", "override": "notallowed"},
            {"name": "hf_token", "sensitive": True, "value": "hf_template_secret"},
        ],
        outputs=[
            {"name": "url", "description": "Notebook URL"},
            {"name": "token", "description": "Access token", "sensitive": True},
        ],
    )


def pytest_report_header(config):
    from django.db import connection

    settings = connection.settings_dict
    where = settings["NAME"] if connection.vendor == "sqlite" else settings.get("HOST") or "socket"
    return f"database: {connection.vendor} ({where})"


@pytest.fixture
def workstation(research):
    """A ``local`` compute instance of research: services run on this machine's workers."""
    return ComputeInstance.objects.create(
        project=research, name="demo-workstation", display_name="Demo workstation",
        connection="local",
    )  # fmt: skip


ROOT = Path(django_settings.BASE_DIR)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def workers(tmp_path) -> Iterator[Callable[[str], subprocess.Popen]]:
    """``workers(id, **settings)`` starts a real ``manage.py db_worker`` on the test database
    (for tests marked transaction=True, whose rows it can see), with a 3 s lease and any other
    settings given as environment variables; all are killed at the end."""
    started: list[subprocess.Popen] = []
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "COMPUTE_LOCAL_ROOT": str(tmp_path / "services"),
        "COMPUTE_RUN_LEASE_SECONDS": "3",
        "COMPUTE_RUN_TIME_LIMIT": "60",
    }

    def start(worker_id: str, **settings: str) -> subprocess.Popen:
        """Start worker ``worker_id``; ``settings`` are more environment settings for it."""
        process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1", "--no-reload",
             "--no-startup-delay", "--worker-id", worker_id],
            cwd=ROOT, env=env | settings, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
