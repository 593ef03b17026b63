"""Whole pages and signed-in users kept under the pages token (studio.kept_pages): a kept page costs
one query, is never another request's (its CSRF token, its messages, its htmx shape, its
viewer), and a session stops signing its user in the moment the user changes or goes.

These tests commit (``transactional_db``), so the page cache is the real one, as in production.
"""

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from studio.models import Membership
from tests.factories import PASSWORD, make_profile, make_template, make_user

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CATALOG = reverse("catalog:list", args=["research"])
STUDIO_LIST = reverse("profiles:list", args=["research"])


@pytest.fixture
def estate(projects, system, bob, dave):
    version = make_template(system, "tpl")
    make_profile(projects["research"], "own-one", version=version, status="ready")
    return projects


def signed_in(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def csrf_tokens(page: str) -> set[str]:
    """Every CSRF token the page carries: in forms and in htmx's request headers."""
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)) | set(
        re.findall(r'"X-CSRFToken": "([^"]+)"', page)
    )


@pytest.mark.parametrize("url", [CATALOG, STUDIO_LIST])
def test_a_kept_page_costs_one_query(estate, dave, url, django_assert_num_queries):
    client = signed_in(dave)
    first = client.get(url).content.decode()
    with django_assert_num_queries(1):  # the session, read with the token
        again = client.get(url).content.decode()
    assert csrf_tokens(first) and len(csrf_tokens(again)) == 1
    assert again.replace(csrf_tokens(again).pop(), "") == first.replace(
        csrf_tokens(first).pop(), ""
    )


def test_a_kept_page_carries_the_next_requests_own_csrf_token(estate, bob):
    first, second = signed_in(bob), signed_in(bob, enforce_csrf_checks=True)
    first_tokens = csrf_tokens(first.get(CATALOG).content.decode())
    kept = second.get(CATALOG).content.decode()
    (token,) = csrf_tokens(kept)
    assert token not in first_tokens
    # The token the kept page gave is good for the second session's own forms (signing out).
    response = second.post(reverse("logout"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert second.get(CATALOG).status_code == 302  # signed out: to the sign-in page


def test_each_viewer_has_their_own_kept_page(estate, bob):
    erin = make_user("erin", research="member")
    signed_in(bob).get(CATALOG)
    page = signed_in(erin).get(CATALOG).content.decode()
    assert "erin" in page and "bob" not in page


def test_a_fragment_and_the_whole_page_are_kept_apart(estate, bob):
    client = signed_in(bob)
    fragment = client.get(CATALOG, headers={"HX-Request": "true"}).content.decode()
    page = client.get(CATALOG).content.decode()
    again = client.get(CATALOG, headers={"HX-Request": "true"}).content.decode()
    assert "<html" in page and "<html" not in fragment and "<html" not in again
    response = client.get(CATALOG)
    assert "HX-Request" in response["Vary"] and response["Content-Type"].startswith("text/html")


def test_a_message_shows_once_and_is_not_kept(estate, dave):
    client = signed_in(dave)
    client.get(STUDIO_LIST)
    deleted = client.post(
        reverse("profiles:delete", args=["research", "own-one"]), {"confirm": "own-one"}
    )
    assert deleted.status_code == 302
    notice = "Deleted own-one. It is no longer available to anyone."
    assert notice in client.get(STUDIO_LIST).content.decode()
    assert notice not in client.get(STUDIO_LIST).content.decode()
    assert notice not in client.get(STUDIO_LIST).content.decode()


def test_a_message_waiting_is_shown_over_a_kept_page(estate, bob):
    from django.contrib import messages
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpRequest, HttpResponse

    client = signed_in(bob)
    client.get(CATALOG)  # kept; no write follows
    storage, carrier = CookieStorage(HttpRequest()), HttpResponse()
    storage.add(messages.INFO, "Something to tell you once.")
    storage.update(carrier)
    client.cookies[storage.cookie_name] = carrier.cookies[storage.cookie_name].value
    assert "Something to tell you once." in client.get(CATALOG).content.decode()
    assert "Something to tell you once." not in client.get(CATALOG).content.decode()


# A kept user: the session row is read on every request; who it signs in is kept.


def test_a_password_changed_elsewhere_signs_other_sessions_out(estate, bob):
    client = signed_in(bob)
    assert client.get(CATALOG).status_code == 200
    bob.set_password("another-long-password")
    bob.save()
    response = client.get(CATALOG)
    assert response.status_code == 302 and response["Location"].startswith(
        reverse(settings.LOGIN_URL)
    )


def test_a_deactivated_or_deleted_user_is_signed_out_at_once(estate, bob, dave):
    bobs, daves = signed_in(bob), signed_in(dave)
    assert bobs.get(CATALOG).status_code == daves.get(STUDIO_LIST).status_code == 200
    bob.is_active = False
    bob.save()
    assert bobs.get(CATALOG).status_code == 302
    Membership.objects.filter(user=dave).delete()
    assert daves.get(STUDIO_LIST).status_code == 404  # still signed in, in no project
    dave.delete()
    assert daves.get(STUDIO_LIST).status_code == 302


def test_a_signed_out_session_cookie_signs_no_one_in(estate, bob):
    client = signed_in(bob)
    assert client.get(CATALOG).status_code == 200
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = cookie
    assert replay.get(CATALOG).status_code == 302


def test_a_session_past_its_expiry_signs_no_one_in(estate, bob):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = signed_in(bob)
    assert client.get(CATALOG).status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get(CATALOG).status_code == 302


def test_signing_in_with_a_password_still_works(estate, bob):
    client = Client()
    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert "bob" in client.get(CATALOG).content.decode()
