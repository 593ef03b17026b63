"""Personal API keys: made and revoked on the API Keys page, sent by scripts as X-API-KEY.

A key is shown once, when it is made, and stored only as a SHA-256 fingerprint; a revoked key
gets 401. Browser sessions work too, with Django's CSRF protection on every unsafe request.
"""

import hashlib
import io
import json
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from profiles.models import ServiceProfile
from studio.models import ApiKey
from tests.factories import make_profile
from tests.test_api_access import API, api_url, causes

KEYS_URL = "/accounts/api-keys/"
TOKEN = re.compile(r"pst_[A-Za-z0-9_-]{43}")


@pytest.fixture
def alice_browser(client, alice):
    client.force_login(alice)
    return client


def create_key(browser: Client, name: str = "CI deploy") -> tuple:
    """Make a key on the API Keys page; the response and the token it shows."""
    response = browser.post(KEYS_URL, {"name": name})
    found = TOKEN.findall(response.content.decode())
    return response, found[0] if found else None


def new_document(name: str = "from-a-script") -> dict:
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ServiceProfile",
        "metadata": {"name": name, "displayName": "From a script"},
        "spec": {
            "environmentTemplate": {"name": "jupyter-notebook", "version": "v1"},
            "serviceType": "notebook",
        },
    }


# The API Keys page -------------------------------------------------------------------------


def test_the_api_keys_page_is_at_accounts_api_keys():
    assert reverse("studio:api_keys") == KEYS_URL


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(KEYS_URL)
    assert response["Location"] == f"{reverse('login')}?next={KEYS_URL}"


def test_the_page_lists_no_keys_at_first(alice_browser):
    assert "You have no API keys yet." in alice_browser.get(KEYS_URL).content.decode()


def test_creating_a_key_shows_its_token(alice_browser):
    _, token = create_key(alice_browser)
    assert token is not None


def test_the_new_token_is_shown_in_a_labelled_field(alice_browser):
    response, token = create_key(alice_browser)
    html = response.content.decode()
    assert '<label class="visually-hidden" for="new-key-token">New API key</label>' in html
    assert f'id="new-key-token" class="form-control font-monospace" value="{token}"' in html


def test_the_page_that_shows_a_token_is_not_cached(alice_browser):
    response, _ = create_key(alice_browser)
    assert "no-store" in response["Cache-Control"]


def test_a_token_is_never_shown_twice(alice_browser):
    _, token = create_key(alice_browser)
    assert token not in alice_browser.get(KEYS_URL).content.decode()


def test_making_another_key_does_not_show_the_first_again(alice_browser):
    _, first = create_key(alice_browser, "first")
    response, second = create_key(alice_browser, "second")
    assert first not in response.content.decode()
    assert second != first


def test_the_page_lists_a_key_by_name_and_prefix(alice_browser):
    _, token = create_key(alice_browser, "laptop")
    html = alice_browser.get(KEYS_URL).content.decode()
    assert "<td>laptop</td>" in html
    assert f'<td class="font-monospace">{token[:12]}…</td>' in html


def test_the_database_stores_only_a_fingerprint(alice_browser):
    _, token = create_key(alice_browser)
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(token.encode()).hexdigest()


def test_the_database_holds_the_token_nowhere_in_clear(alice_browser):
    _, token = create_key(alice_browser)
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert token not in dump.getvalue()
    assert token[12:] not in dump.getvalue()


def test_a_key_without_a_name_is_refused(alice_browser):
    response, token = create_key(alice_browser, "")
    assert response.status_code == 400
    assert token is None
    assert not ApiKey.objects.exists()


def test_a_key_needs_the_csrf_token_to_be_made(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(KEYS_URL, {"name": "sneaky"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_a_user_sees_only_their_own_keys(alice_browser, dave):
    ApiKey.issue(user=dave, name="dave's secret script")
    assert "dave&#x27;s secret script" not in alice_browser.get(KEYS_URL).content.decode()


# Revoking -----------------------------------------------------------------------------------


def revoke_url(key: ApiKey) -> str:
    return reverse("studio:api_key_revoke", args=[key.pk])


def test_a_revoked_key_gets_401(alice_browser):
    _, token = create_key(alice_browser)
    alice_browser.post(revoke_url(ApiKey.objects.get()))
    response = Client(headers={"X-API-KEY": token}).get(API)
    assert response.status_code == 401


def test_a_revoked_key_is_told_why(alice_browser):
    _, token = create_key(alice_browser)
    alice_browser.post(revoke_url(ApiKey.objects.get()))
    response = Client(headers={"X-API-KEY": token}).get(API)
    assert response.json()["message"] == "Invalid or revoked API key."


def test_revoking_shows_the_key_as_revoked(alice_browser):
    create_key(alice_browser)
    response = alice_browser.post(revoke_url(ApiKey.objects.get()), follow=True)
    html = response.content.decode()
    assert "Revoked the API key “CI deploy”. Scripts using it now get 401." in html
    assert "Revoked 20" in html


def test_revoking_needs_a_post(alice_browser):
    create_key(alice_browser)
    key = ApiKey.objects.get()
    assert alice_browser.get(revoke_url(key)).status_code == 405
    key.refresh_from_db()
    assert key.is_active


def test_nobody_revokes_another_users_key(alice_browser, dave):
    key, token = ApiKey.issue(user=dave, name="dave's")
    assert alice_browser.post(revoke_url(key)).status_code == 404
    assert Client(headers={"X-API-KEY": token}).get(API).status_code == 200


def test_revoking_one_key_leaves_the_others_working(alice_browser):
    _, kept = create_key(alice_browser, "kept")
    create_key(alice_browser, "revoked")
    alice_browser.post(revoke_url(ApiKey.objects.get(name="revoked")))
    assert Client(headers={"X-API-KEY": kept}).get(API).status_code == 200


# X-API-KEY ----------------------------------------------------------------------------------


def test_a_key_acts_as_its_user(alice_browser):
    _, token = create_key(alice_browser)
    response = Client(headers={"X-API-KEY": token}).get(API)
    assert [p["metadata"]["name"] for p in response.json()["items"]] == ["platform"]


def test_a_key_records_when_it_was_last_used(alice_browser):
    _, token = create_key(alice_browser)
    Client(headers={"X-API-KEY": token}).get(API)
    assert ApiKey.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "token", ["pst_not-a-real-key", "", " ", "Bearer x"], ids=["unknown", "empty", "blank", "other"]
)
def test_anything_but_a_live_key_gets_401(alice, token):
    response = Client(headers={"X-API-KEY": token}).get(API)
    assert response.status_code == 401


def test_the_key_of_a_deactivated_user_gets_401(alice):
    _, token = ApiKey.issue(user=alice, name="old")
    alice.is_active = False
    alice.save()
    assert Client(headers={"X-API-KEY": token}).get(API).status_code == 401


def test_a_bad_key_is_401_even_with_a_valid_session(alice_browser):
    response = alice_browser.get(API, headers={"X-API-KEY": "pst_not-a-real-key"})
    assert response.status_code == 401


def test_a_key_needs_no_csrf_token(alice, notebook_version):
    _, token = ApiKey.issue(user=alice, name="script")
    client = Client(enforce_csrf_checks=True, headers={"X-API-KEY": token})
    response = client.post(
        api_url("platform", "serviceprofiles/"),
        json.dumps(new_document()),
        content_type="application/json",
    )
    assert response.status_code == 201


# Browser sessions ---------------------------------------------------------------------------


@pytest.fixture
def csrf_browser(alice, platform, system, notebook_version):
    """alice's browser, enforcing CSRF, with the CSRF cookie of a page it loaded.

    platform has a ready ``team-notebook`` and the system catalog a ``jupyter-notebook``.
    """
    make_profile(platform, "team-notebook", version=notebook_version, status="ready")
    make_profile(system, "jupyter-notebook", version=notebook_version, status="ready")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    browser.get(KEYS_URL)
    return browser


def test_a_session_reads_the_api(alice_browser):
    assert alice_browser.get(api_url("platform", "serviceprofiles/")).status_code == 200


def test_a_session_post_without_the_csrf_token_is_403(csrf_browser):
    response = csrf_browser.post(
        api_url("platform", "serviceprofiles/"),
        json.dumps(new_document()),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not ServiceProfile.objects.filter(name="from-a-script").exists()


def test_a_session_403_for_csrf_says_so(csrf_browser):
    response = csrf_browser.post(
        api_url("platform", "serviceprofiles/"),
        json.dumps(new_document()),
        content_type="application/json",
    )
    assert "CSRF" in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "serviceprofiles/team-notebook", {}),
        ("patch", "serviceprofiles/team-notebook", {}),
        ("delete", "serviceprofiles/team-notebook", None),
        ("put", "serviceprofiles/team-notebook/sharing", {"type": "all"}),
        ("post", "systemprofiles/jupyter-notebook/clone", {"name": "cloned"}),
    ],
    ids=["put", "patch", "delete", "sharing", "clone"],
)
def test_every_unsafe_session_request_needs_the_csrf_token(csrf_browser, method, path, body):
    kwargs = {"content_type": "application/json"} if body is not None else {}
    data = json.dumps(body) if body is not None else None
    args = [api_url("platform", path)] + ([data] if data is not None else [])
    assert getattr(csrf_browser, method)(*args, **kwargs).status_code == 403
    assert ServiceProfile.objects.get(project__name="platform").revision == 1


def test_a_session_post_with_the_csrf_token_is_accepted(csrf_browser):
    response = csrf_browser.post(
        api_url("platform", "serviceprofiles/"),
        json.dumps(new_document()),
        content_type="application/json",
        headers={"X-CSRFToken": csrf_browser.cookies["csrftoken"].value},
    )
    assert response.status_code == 201


def test_a_session_of_a_member_gets_the_same_403_as_a_key(client, bob, research):
    client.force_login(bob)
    response = client.get(api_url("research", "serviceprofiles/"))
    assert response.status_code == 403
    assert causes(response) == {}
