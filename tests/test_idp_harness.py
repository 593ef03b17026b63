"""The test identity provider (tests/idp) works as a relying party will use it.

Driven from Python only, with requests, as a browser would go through it: discovery, JWKS, the
authorization code flow with PKCE through the provider's login form, the code exchange, the
RS256 signature of the ID token (checked with cryptography against the JWKS), userinfo, users
changed between two sign-ins, and the requests it must refuse. No database is used.
"""

import base64
import hashlib
import json
import re
import secrets
import socket
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import tests.idp
from tests.idp import (  # noqa: F401
    IdentityProvider,
    IdentityProviderError,
    identity_provider,
    identity_provider_redirect_uris,
    identity_provider_users,
)

TIMEOUT = 10
REDIRECT_URI = tests.idp.DEFAULT_REDIRECT_URIS[0]
SCOPES = "openid email profile groups"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Forms(HTMLParser):
    """The forms of a page: each its action, method and named inputs with their values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.alerts: list[str] = []
        self._in_alert = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            form = {"action": attributes.get("action"), "method": attributes.get("method")}
            self.forms.append(form | {"inputs": {}})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["inputs"][attributes["name"]] = attributes.get("value") or ""
        self._in_alert = attributes.get("role") == "alert"

    def handle_data(self, data):
        if self._in_alert:
            self.alerts.append(data.strip())

    def handle_endtag(self, tag):
        self._in_alert = False


def parse_forms(html: str) -> Forms:
    parser = Forms()
    parser.feed(html)
    return parser


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def follow(session: requests.Session, response: requests.Response) -> requests.Response:
    """Follow the provider's redirects (at most 10) up to a page, or to the redirect URI, which
    is not fetched: the returned response is then the redirect that names it."""
    for _ in range(10):
        if response.status_code not in (302, 303):
            return response
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(REDIRECT_URI):
            return response
        response = session.get(location, allow_redirects=False, timeout=TIMEOUT)
    raise AssertionError("more than 10 redirects")


def start_flow(idp: IdentityProvider, session: requests.Session, **params: str):
    """Send an authorization request (PKCE S256 unless overridden) and follow it; returns
    (response, verifier, state, nonce)."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(8), secrets.token_urlsafe(8)
    query = {
        "client_id": idp.client_id,
        "response_type": "code",
        "scope": SCOPES,
        "redirect_uri": REDIRECT_URI,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    } | params
    query = {key: value for key, value in query.items() if value is not None}
    url = f"{idp.endpoint('auth')}?{urlencode(query)}"
    response = session.get(url, allow_redirects=False, timeout=TIMEOUT)
    return follow(session, response), verifier, state, nonce


def submit_login(session: requests.Session, page: requests.Response, login: str, password=""):
    """Fill the login page's form as a person would and follow where it leads."""
    forms = parse_forms(page.text).forms
    assert len(forms) == 1, page.text
    form = forms[0]
    assert form["method"] == "post"
    assert {"login", "password"} <= set(form["inputs"])
    data = form["inputs"] | {"login": login, "password": password}
    response = session.post(
        urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=TIMEOUT
    )
    return follow(session, response)


def callback_params(response: requests.Response) -> dict[str, str]:
    """The query of the redirect to the redirect URI."""
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def exchange(idp: IdentityProvider, code: str, verifier: str) -> requests.Response:
    """The token request a relying party makes (client_secret_post, as mozilla-django-oidc)."""
    return requests.post(
        idp.endpoint("token"),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": idp.client_id,
            "client_secret": idp.client_secret,
        },
        timeout=TIMEOUT,
    )


def verified_claims(idp: IdentityProvider, id_token: str) -> dict:
    """The ID token's claims, once its RS256 signature is checked against the provider's JWKS."""
    header_part, payload_part, signature_part = id_token.split(".")
    header = json.loads(b64url_decode(header_part))
    assert header["alg"] == "RS256"
    keys = requests.get(idp.endpoint("jwks"), timeout=TIMEOUT).json()["keys"]
    (key,) = [key for key in keys if key["kid"] == header["kid"]]
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(b64url_decode(key["e"])), int.from_bytes(b64url_decode(key["n"]))
    ).public_key()
    public_key.verify(  # raises InvalidSignature
        b64url_decode(signature_part),
        f"{header_part}.{payload_part}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(b64url_decode(payload_part))


def sign_in(idp: IdentityProvider, session: requests.Session, login: str) -> dict:
    """A whole sign-in: authorization request, login form (unless the provider's session
    cookie spares it), code exchange. Returns the token response with ``claims`` (verified ID
    token), ``state``, ``nonce`` and ``saw_login_page``."""
    response, verifier, state, nonce = start_flow(idp, session)
    saw_login_page = response.status_code == 200
    if saw_login_page:
        response = submit_login(session, response, login)
    params = callback_params(response)
    assert params["state"] == state
    assert params["iss"] == idp.issuer
    tokens = exchange(idp, params["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    result = tokens.json()
    result["claims"] = verified_claims(idp, result["id_token"])
    return result | {"state": state, "nonce": nonce, "saw_login_page": saw_login_page}


def test_discovery_names_the_issuer_and_its_endpoints(identity_provider):
    document = requests.get(identity_provider.discovery_url, timeout=TIMEOUT).json()

    issuer = identity_provider.issuer
    assert issuer.startswith("http://127.0.0.1:")
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == f"{issuer}/auth"
    assert document["token_endpoint"] == f"{issuer}/token"
    assert document["userinfo_endpoint"] == f"{issuer}/me"
    assert document["jwks_uri"] == f"{issuer}/jwks"
    assert document["end_session_endpoint"] == f"{issuer}/session/end"
    assert "code" in document["response_types_supported"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"openid", "email", "profile", "groups"} <= set(document["scopes_supported"])
    assert {"groups", "email", "email_verified"} <= set(document["claims_supported"])


def test_jwks_has_an_rs256_signing_key(identity_provider):
    keys = requests.get(identity_provider.endpoint("jwks"), timeout=TIMEOUT).json()["keys"]

    assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [("RSA", "RS256", "sig")]
    assert keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only


def test_code_flow_with_pkce_issues_a_signed_id_token_with_groups(identity_provider):
    session = requests.Session()

    page, verifier, state, nonce = start_flow(identity_provider, session)
    assert page.status_code == 200
    assert urlsplit(page.url).path.startswith("/interaction/")
    assert "Sign in" in page.text
    response = submit_login(session, page, "erin")
    params = callback_params(response)
    assert params["state"] == state
    tokens = exchange(identity_provider, params["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    claims = verified_claims(identity_provider, body["id_token"])

    assert body["token_type"] == "Bearer"
    assert claims["iss"] == identity_provider.issuer
    assert claims["aud"] == "paas-studio"
    assert claims["sub"] == "erin"
    assert claims["nonce"] == nonce
    assert claims["email"] == "erin@example.com"
    assert claims["email_verified"] is True
    assert claims["name"] == "Erin Example"
    assert claims["preferred_username"] == "erin"
    assert claims["groups"] == ["research-team"]

    userinfo = requests.get(
        identity_provider.endpoint("me"),
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json() == {
        "sub": "erin",
        "email": "erin@example.com",
        "email_verified": True,
        "name": "Erin Example",
        "preferred_username": "erin",
        "groups": ["research-team"],
    }

    # A code is good once.
    assert exchange(identity_provider, params["code"], verifier).json()["error"] == "invalid_grant"


def test_claims_follow_the_scopes_asked_for(identity_provider):
    session = requests.Session()

    page, verifier, _, _ = start_flow(identity_provider, session, scope="openid email")
    params = callback_params(submit_login(session, page, "frank"))
    tokens = exchange(identity_provider, params["code"], verifier).json()
    claims = verified_claims(identity_provider, tokens["id_token"])

    assert claims["sub"] == "frank"
    assert claims["email"] == "frank@example.com"
    assert claims["email_verified"] is False
    assert "groups" not in claims
    assert "name" not in claims


def test_changed_groups_reach_the_next_sign_in(identity_provider):
    first = sign_in(identity_provider, requests.Session(), "erin")
    assert first["claims"]["groups"] == ["research-team"]

    identity_provider.set_user("erin", groups=["finance-team", "platform-team"])
    again = requests.Session()
    second = sign_in(identity_provider, again, "erin")
    # In the same browser the provider's session cookie skips the login page; the claims are
    # read again all the same.
    identity_provider.set_user("erin", groups=[])
    third = sign_in(identity_provider, again, "erin")

    assert second["saw_login_page"] is True
    assert second["claims"]["groups"] == ["finance-team", "platform-team"]
    assert third["saw_login_page"] is False
    assert third["claims"]["groups"] == []


def test_a_login_not_among_the_users_is_refused(identity_provider):
    session = requests.Session()
    page, _, _, _ = start_flow(identity_provider, session)

    refused = submit_login(session, page, "mallory")

    assert refused.status_code == 401
    assert parse_forms(refused.text).alerts == ["Unknown login or wrong password."]
    # The same page lets the person try again, with a login that exists.
    assert callback_params(submit_login(session, refused, "erin"))["code"]


def test_a_password_is_checked_for_a_user_that_has_one(identity_provider):
    identity_provider.set_user("grace", email="grace@example.com", password="open-sesame")
    session = requests.Session()
    page, _, _, _ = start_flow(identity_provider, session)

    assert submit_login(session, page, "grace", "wrong").status_code == 401
    page, _, _, _ = start_flow(identity_provider, session)
    assert callback_params(submit_login(session, page, "grace", "open-sesame"))["code"]


def test_cancel_returns_access_denied(identity_provider):
    session = requests.Session()
    page, _, state, _ = start_flow(identity_provider, session)
    (cancel,) = re.findall(r'<a href="([^"]+)">Cancel</a>', page.text)

    response = session.get(urljoin(page.url, cancel), allow_redirects=False, timeout=TIMEOUT)
    params = callback_params(follow(session, response))

    assert params["error"] == "access_denied"
    assert params["state"] == state


@pytest.mark.parametrize(
    "pkce",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
    ],
    ids=["no-pkce", "plain"],
)
def test_an_authorization_request_without_s256_pkce_is_refused(identity_provider, pkce):
    response, _, _, _ = start_flow(identity_provider, requests.Session(), **pkce)

    params = callback_params(response)
    assert params["error"] == "invalid_request"
    assert re.search("PKCE|code_challenge", params["error_description"]), params
    assert "code" not in params


def test_a_wrong_code_verifier_is_refused(identity_provider):
    session = requests.Session()
    page, _, _, _ = start_flow(identity_provider, session)
    params = callback_params(submit_login(session, page, "erin"))

    response = exchange(identity_provider, params["code"], pkce_pair()[0])

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_the_client_secret_is_checked(identity_provider):
    session = requests.Session()
    page, verifier, _, _ = start_flow(identity_provider, session)
    params = callback_params(submit_login(session, page, "erin"))
    identity_provider.client_secret = "not-the-secret"

    response = exchange(identity_provider, params["code"], verifier)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_an_unregistered_redirect_uri_is_not_redirected_to(identity_provider):
    response, _, _, _ = start_flow(
        identity_provider, requests.Session(), redirect_uri="http://127.0.0.1:9/elsewhere/"
    )

    assert response.status_code == 400
    assert "redirect_uri" in response.text


def test_stop_ends_the_process_and_frees_the_port(tmp_path):
    idp = IdentityProvider().start(tmp_path)
    process, port = idp.process, idp.port
    assert requests.get(idp.discovery_url, timeout=TIMEOUT).status_code == 200

    idp.stop()
    idp.stop()  # again: nothing to do

    assert process.returncode == 0  # SIGTERM is a clean exit
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_missing_node_modules_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(tests.idp, "NODE_MODULES", tmp_path / "node_modules")

    with pytest.raises(IdentityProviderError, match=r"npm ci --prefix tests/idp"):
        IdentityProvider().start(tmp_path)
