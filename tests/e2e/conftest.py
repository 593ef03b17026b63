"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server.

Chromium comes from the system (``apt-get install chromium``), never from ``playwright install``:
it is found through ``CHROMIUM_PATH`` or on the ``PATH``. Without one every test in this folder
is skipped with the reason, or fails with it when ``REQUIRE_BROWSER_TESTS=1`` (CI sets that, so
a missing browser can never pass a build quietly).

Tests mark themselves ``django_db(transaction=True, serialized_rollback=True)``: transactions so
the live server's thread sees the data they create; serialized rollback so each starts with the
rows the migrations made (the system catalog), which the previous one's flush removed. They run
after every other test, and the ``playwright`` fixture below keeps serialized rollback working
once Playwright's event loop is up.

Fixtures for tests: ``page`` (pytest-playwright's, relative URLs go to the live server),
``login(user)`` and ``screenshot(name)``.
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.factories import PASSWORD

E2E_DIR = Path(__file__).resolve().parent
SCREENSHOT_DIR = E2E_DIR.parent.parent / "test-results" / "screenshots"
LOGIN_PATH = "/accounts/login/"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MISSING_CHROMIUM = (
    "Chromium not found: install it with `apt-get install chromium` or set CHROMIUM_PATH"
)


def find_chromium() -> str | None:
    """CHROMIUM_PATH if set (and only it), else the first Chromium on the PATH or in /usr/bin."""
    configured = os.environ.get("CHROMIUM_PATH", "").strip()
    candidates = (
        [configured]
        if configured
        else [shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"]
    )
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


CHROMIUM = find_chromium()
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER_TESTS", "").strip() == "1"
_fail_reason = pytest.StashKey[str]()


def _is_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(item.path).resolve().parents


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """Mark this folder's tests ``e2e``; skip them (or fail them, in CI) without a Chromium.

    Marking comes before every other plugin (so ``-m e2e`` selects them). Afterwards the browser
    tests are moved to the end of the run, whatever pytest's grouping by parameters did with
    them: each one empties the database when it ends (transactional test), so no test that
    expects the migrations' rows may come after them.
    """
    missing = CHROMIUM is None
    reason = MISSING_CHROMIUM
    if CHROMIUM is None and os.environ.get("CHROMIUM_PATH", "").strip():
        reason = f"{MISSING_CHROMIUM} (CHROMIUM_PATH={os.environ['CHROMIUM_PATH']!r} is not one)"
    for item in items:
        if not _is_e2e(item):
            continue
        item.add_marker(pytest.mark.e2e)
        if missing:
            if REQUIRE_BROWSER:
                item.stash[_fail_reason] = f"{reason}; REQUIRE_BROWSER_TESTS=1 forbids skipping"
            else:
                item.add_marker(pytest.mark.skip(reason=reason))
    result = yield
    items[:] = [item for item in items if not _is_e2e(item)] + [
        item for item in items if _is_e2e(item)
    ]
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail before any fixture tries to launch a browser that is not there."""
    reason = item.stash.get(_fail_reason, None)
    if reason:
        pytest.fail(reason, pytrace=False)


@pytest.fixture(scope="session")
def playwright(request: pytest.FixtureRequest):
    """pytest-playwright's Playwright, and a Django that works in the main thread beside it.

    Playwright's sync API leaves an event loop running in the main thread while it is started.

    - Django would refuse the ORM calls tests and fixtures make there: DJANGO_ALLOW_ASYNC_UNSAFE
      is set for exactly that time (browser tests run last, so no other test sees it).
    - asgiref (behind ``django.db.connections``) would hand out a second set of connection
      objects, lacking what pytest-django prepared on the first (the serialized contents that
      ``serialized_rollback`` restores): the migrations' rows, the system catalog, would be
      missing whenever a plain database test ran before the browser started. Installing the
      same objects in the loop's context keeps one connection per database.
    """
    from django.db import connections

    # Before Playwright starts no loop runs, so these are the thread's own connections, the
    # ones pytest-django prepared. Only then start it: an overriding fixture that requests its
    # own name gets the fixture it overrides, pytest-playwright's.
    outside = {alias: connections[alias] for alias in connections}
    playwright = request.getfixturevalue("playwright")
    for alias, connection in outside.items():
        connections[alias] = connection
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield playwright
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options (``--headed``, ``--slowmo``) plus the system Chromium."""
    args = list(CHROMIUM_ARGS)
    if browser_type_launch_args.get("headless") is False:
        args.remove("--headless")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Relative URLs in ``page.goto`` go to the live server."""
    return live_server.url


@pytest.fixture
def login(page) -> Callable:
    """``login(user)`` signs in through the real form, by its visible labels.

    Waits until the browser has left the login page (where the app sends the user) and returns
    the page. ``expect_success=False`` only submits the form, for tests of the error.
    """

    def _login(user, password: str = PASSWORD, *, expect_success: bool = True):
        username = getattr(user, "username", user)
        page.goto(LOGIN_PATH)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        if expect_success:
            page.wait_for_url(lambda url: LOGIN_PATH not in url)
        return page

    return _login


@pytest.fixture
def screenshot(page) -> Callable:
    """``screenshot("name")`` saves a full-page PNG to test-results/screenshots/name.png."""

    def _screenshot(name: str, target=None) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        (target or page).screenshot(path=path, full_page=True, animations="disabled")
        return path

    return _screenshot
