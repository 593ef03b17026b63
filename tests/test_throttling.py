"""Guessing is slowed down: sign-in lockouts (django-axes) and a limit on bad API keys.

Wrong passwords for one username from one address lock that username out from that address
(the Django admin's sign-in too) with a page that says for how long; a success resets the count.
Bad X-API-KEYs from one address answer 429 with Retry-After, for every key, until the window
that the first one opened has passed.
"""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.db.models import F
from django.test import Client

from studio.models import ApiKey
from tests.factories import PASSWORD
from tests.test_api_access import API
from tests.test_settings import PRODUCTION, manage

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
WRONG = "Please enter a correct username and password."
HERE, ELSEWHERE = "10.0.0.1", "10.0.0.2"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.API_KEY_FAILURE_LIMIT = 3
    settings.API_KEY_FAILURE_WINDOW = 60
    settings.TRUSTED_PROXY_COUNT = 0


def sign_in(username: str, password: str, *, address: str = HERE, path: str = LOGIN, **extra):
    """One sign-in from ``address``, by a browser of its own; the response and that browser."""
    browser = Client(REMOTE_ADDR=address, **extra)
    data = {"username": username, "password": password}
    if path == ADMIN_LOGIN:
        data["next"] = "/admin/"
    return browser.post(path, data), browser


def fail(times: int, username: str = "alice", **kwargs):
    for _ in range(times):
        response, _ = sign_in(username, "wrong-password", **kwargs)
    return response


def signed_in(browser: Client) -> bool:
    return "_auth_user_id" in browser.session


def move_attempts_back(**delta) -> None:
    """Time travel: the recorded failures happened ``delta`` earlier."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(**delta))


# Sign-in ----------------------------------------------------------------------------------


def test_below_the_limit_a_wrong_password_is_only_wrong(alice):
    response = fail(2)
    assert response.status_code == 200
    assert WRONG in response.content.decode()
    assert fail(1).status_code == 429


def test_the_failure_that_reaches_the_limit_locks_out(alice):
    response = fail(3)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()


def test_the_right_password_is_refused_once_locked_out(alice):
    fail(3)
    response, browser = sign_in("alice", PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not signed_in(browser)


def test_the_lockout_page_is_the_sign_in_page_with_retry_after(alice):
    fail(3)
    response, _ = sign_in("alice", PASSWORD)
    assert response.templates[0].name == "registration/login.html"
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert 'value="alice"' in response.content.decode()


def test_the_page_says_how_many_minutes_are_left(alice):
    fail(3)
    move_attempts_back(minutes=10, seconds=30)
    response, _ = sign_in("alice", PASSWORD)
    assert "Try again in 5 minutes." in response.content.decode()


def test_retrying_while_locked_out_does_not_extend_the_lockout(alice):
    fail(3)
    move_attempts_back(minutes=14)
    assert fail(2).status_code == 429
    move_attempts_back(minutes=1, seconds=1)
    response, browser = sign_in("alice", PASSWORD)
    assert response.status_code == 302
    assert signed_in(browser)


def test_after_the_cool_off_the_right_password_works(alice):
    fail(3)
    assert sign_in("alice", PASSWORD)[0].status_code == 429
    move_attempts_back(minutes=15, seconds=1)
    response, browser = sign_in("alice", PASSWORD)
    assert response.status_code == 302
    assert signed_in(browser)


def test_a_success_resets_the_count(alice):
    fail(2)
    assert sign_in("alice", PASSWORD)[0].status_code == 302
    assert fail(2).status_code == 200  # counting from zero again
    assert fail(1).status_code == 429


def test_the_same_user_from_another_address_is_not_locked_out(alice):
    fail(3)
    assert sign_in("alice", PASSWORD)[0].status_code == 429
    response, browser = sign_in("alice", PASSWORD, address=ELSEWHERE)
    assert response.status_code == 302
    assert signed_in(browser)


def test_another_user_from_the_same_address_is_not_locked_out(alice, bob):
    fail(3, "alice")
    assert sign_in("alice", PASSWORD)[0].status_code == 429
    assert sign_in("bob", PASSWORD)[0].status_code == 302


def test_the_admin_sign_in_locks_out_too(superuser):
    response = fail(3, "admin", path=ADMIN_LOGIN)
    assert response.status_code == 429
    response, browser = sign_in("admin", PASSWORD, path=ADMIN_LOGIN)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not signed_in(browser)


def test_a_lockout_on_the_admin_sign_in_holds_on_the_studio_sign_in(superuser):
    fail(3, "admin", path=ADMIN_LOGIN)
    assert sign_in("admin", PASSWORD)[0].status_code == 429


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(settings, alice):
    settings.TRUSTED_PROXY_COUNT = 1
    for spoofed in ["1.1.1.1", "2.2.2.2", "3.3.3.3"]:  # what the client claims changes nothing
        fail(1, address="192.0.2.10", HTTP_X_FORWARDED_FOR=f"{spoofed}, {HERE}")
    locked, _ = sign_in("alice", PASSWORD, address="192.0.2.10", HTTP_X_FORWARDED_FOR=HERE)
    other, _ = sign_in("alice", PASSWORD, address="192.0.2.10", HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert (locked.status_code, other.status_code) == (429, 302)


# API keys ---------------------------------------------------------------------------------


def key_client(token: str, address: str = HERE) -> Client:
    return Client(headers={"X-API-KEY": token}, REMOTE_ADDR=address)


@pytest.fixture
def good_key(alice) -> str:
    return ApiKey.issue(user=alice, name="tests")[1]


def send_bad_keys(times: int, address: str = HERE):
    for _ in range(times):
        response = key_client("pst_not-a-key", address).get(API)
    return response


def test_after_the_limit_a_bad_key_gets_429_with_retry_after(db):
    assert [send_bad_keys(1).status_code for _ in range(3)] == [401, 401, 401]
    response = send_bad_keys(1)
    assert response.status_code == 429
    assert 55 <= int(response["Retry-After"]) <= 60


def test_the_429_is_a_status_document(db):
    send_bad_keys(3)
    document = send_bad_keys(1).json()
    assert (document["kind"], document["code"], document["reason"]) == (
        "Status",
        429,
        "TooManyRequests",
    )
    assert "Too many invalid API keys" in document["message"]


def test_even_a_good_key_gets_429_from_a_locked_out_address(good_key):
    send_bad_keys(3)
    response = key_client(good_key).get(API)
    assert response.status_code == 429
    assert "Retry-After" in response


def test_a_good_key_from_another_address_still_works(good_key):
    send_bad_keys(3)
    assert key_client(good_key).get(API).status_code == 429
    assert key_client(good_key, ELSEWHERE).get(API).status_code == 200


def test_the_count_expires_with_its_window(good_key, monkeypatch):
    send_bad_keys(3)
    assert key_client(good_key).get(API).status_code == 429
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert key_client(good_key).get(API).status_code == 200
    assert send_bad_keys(1).status_code == 401  # a new window, counting from one


def test_failures_in_different_windows_do_not_add_up(good_key, monkeypatch):
    send_bad_keys(2)
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    send_bad_keys(2)
    assert key_client(good_key).get(API).status_code == 200
    send_bad_keys(1)
    assert key_client(good_key).get(API).status_code == 429


def test_requests_without_a_key_are_not_counted(db):
    for _ in range(5):
        assert Client(REMOTE_ADDR=HERE).get(API).status_code == 401
    assert send_bad_keys(3).status_code == 401
    assert send_bad_keys(1).status_code == 429


def test_bad_keys_count_even_when_each_request_is_a_transaction(db, monkeypatch):
    # With ATOMIC_REQUESTS a 401 rolls the view's transaction back; the count must survive it.
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    send_bad_keys(3)
    assert send_bad_keys(1).status_code == 429


def test_a_limit_of_zero_turns_the_api_key_limit_off(settings, db):
    settings.API_KEY_FAILURE_LIMIT = 0
    assert send_bad_keys(10).status_code == 401


# Configuration ----------------------------------------------------------------------------


def test_the_limits_come_from_the_environment():
    env = PRODUCTION | {
        "AXES_FAILURE_LIMIT": "7",
        "AXES_COOLOFF_MINUTES": "30",
        "API_KEY_FAILURE_LIMIT": "20",
        "API_KEY_FAILURE_WINDOW": "120",
    }
    code = (
        "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME,"
        " s.API_KEY_FAILURE_LIMIT, s.API_KEY_FAILURE_WINDOW, s.TRUSTED_PROXY_COUNT)"
    )
    result = manage("shell", "--no-imports", "-c", code, **env)
    assert result.stdout.split() == ["7", "0:30:00", "20", "120", "1"], result.stderr
