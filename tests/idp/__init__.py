"""A real OpenID Connect identity provider for tests: oidc-provider (Node.js) on 127.0.0.1.

Tests that sign in through OpenID Connect need a provider that behaves like a real one
(discovery, JWKS, authorization code flow with PKCE, RS256 ID tokens, userinfo), not a mock.
``provider.mjs`` beside this file is one, on the certified ``oidc-provider`` package pinned in
``package.json``; this module starts it for a test and stops it after.

Install once (CI does the same): ``npm ci --prefix tests/idp``. Without ``tests/idp/node_modules``
the fixtures fail and say so.

Use, in a test module (importing the fixtures makes them available, as elsewhere in tests/)::

    from tests.idp import identity_provider, identity_provider_redirect_uris

    @pytest.fixture
    def identity_provider_redirect_uris(live_server):
        # The browser must reach the relying party on the same host name as this URI names.
        return [f"{live_server.url}/oidc/callback/"]

    def test_sign_in(identity_provider):
        identity_provider.issuer          # "http://127.0.0.1:PORT"
        identity_provider.client_id       # "paas-studio"
        identity_provider.client_secret
        identity_provider.set_user("erin", groups=["finance-team"])   # takes effect at once

Or, without fixtures: ``with IdentityProvider(redirect_uris=[...]).start(tmp_path) as idp: ...``.

The provider's pages, for a browser: its login page has inputs labelled "Login" (name
``login``) and "Password" (name ``password``, checked only for a user given a ``password``) and
a button "Sign in"; a login not among the users is refused on the same page with "Unknown login
or wrong password." (status 401). Consent is automatic: there is no consent page. A "Cancel" link
ends the flow with ``error=access_denied`` at the redirect URI. The provider keeps its own
session cookie (``_session``), so a second sign-in in the same browser context goes straight
through without the login page unless the relying party asks with ``prompt=login``.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

IDP_DIR = Path(__file__).resolve().parent
PROVIDER_SCRIPT = IDP_DIR / "provider.mjs"
NODE_MODULES = IDP_DIR / "node_modules"
INSTALL_COMMAND = "npm ci --prefix tests/idp"

CLIENT_ID = "paas-studio"
DEFAULT_REDIRECT_URIS = ("http://127.0.0.1:8000/oidc/callback/",)
DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "erin": {
        "email": "erin@example.com",
        "email_verified": True,
        "name": "Erin Example",
        "groups": ["research-team"],
    },
    "frank": {
        "email": "frank@example.com",
        "email_verified": False,
        "name": "Frank Example",
        "groups": [],
    },
}

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class IdentityProviderError(RuntimeError):
    """The provider could not be started; the message carries the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class IdentityProvider:
    """One oidc-provider process, its config file and its log.

    ``redirect_uris`` are the client's registered redirect URIs (fixed at start); ``users`` map
    a login to its claims (``email``, ``email_verified``, ``name``, ``groups``, any other claim
    of the email/profile scopes, and optionally ``password``). Users live in the config file,
    which the provider reads again on every account lookup: ``set_user`` and ``remove_user``
    change them for the next sign-in, token exchange or userinfo call without a restart.
    """

    def __init__(
        self,
        redirect_uris: Sequence[str] = DEFAULT_REDIRECT_URIS,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str | None = None,
        token_endpoint_auth_method: str = "client_secret_post",
    ) -> None:
        self.redirect_uris = list(redirect_uris)
        source = DEFAULT_USERS if users is None else users
        self.users = {login: dict(claims) for login, claims in source.items()}
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.token_endpoint_auth_method = token_endpoint_auth_method
        self.port: int | None = None
        self.config_path: Path | None = None
        self.log_path: Path | None = None
        self.process: subprocess.Popen | None = None

    @property
    def issuer(self) -> str:
        """``http://127.0.0.1:PORT``, as the provider names itself (no trailing slash)."""
        if self.port is None:
            raise IdentityProviderError("the identity provider is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        """The provider's discovery document."""
        return f"{self.issuer}/.well-known/openid-configuration"

    def endpoint(self, name: str) -> str:
        """An endpoint by oidc-provider's path: ``auth``, ``token``, ``me`` (userinfo), ``jwks``,
        ``session/end``. Discovery lists the same URLs; this spares a test fetching it."""
        return f"{self.issuer}/{name}"

    def log(self) -> str:
        """Everything the provider printed so far (stdout and stderr)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def _config(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "clients": [
                {
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "redirect_uris": self.redirect_uris,
                    "token_endpoint_auth_method": self.token_endpoint_auth_method,
                }
            ],
            "users": self.users,
        }

    def _write_config(self) -> None:
        """Replace the config file whole (write, then rename), so the provider never reads half
        of one."""
        assert self.config_path is not None
        partial = self.config_path.with_suffix(".partial")
        partial.write_text(json.dumps(self._config(), indent=2))
        os.replace(partial, self.config_path)

    def set_user(self, login: str, **claims: Any) -> None:
        """Add user ``login`` or update its claims (those given replace the old values)."""
        self.users.setdefault(login, {}).update(claims)
        if self.config_path is not None:
            self._write_config()

    def remove_user(self, login: str) -> None:
        """Forget ``login``: its next sign-in is refused, its sessions stop resolving."""
        self.users.pop(login, None)
        if self.config_path is not None:
            self._write_config()

    def start(self, directory: Path, timeout: float = START_TIMEOUT) -> "IdentityProvider":
        """Write the config into ``directory`` and start node; return once it printed READY.

        Raises IdentityProviderError if node or tests/idp/node_modules is missing, or if the
        provider exits or is not ready within ``timeout`` seconds. A port taken between picking
        and binding is retried with another, up to three times.
        """
        if self.process is not None:
            raise IdentityProviderError("the identity provider is already started")
        node = shutil.which("node")
        if node is None:
            raise IdentityProviderError("node is not on the PATH: Node.js 20 or newer is needed")
        if not (NODE_MODULES / "oidc-provider").is_dir():
            raise IdentityProviderError(
                f"{NODE_MODULES} is missing: run `{INSTALL_COMMAND}` (from the repository root)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        self.config_path = directory / "idp-config.json"
        self.log_path = directory / "idp.log"
        for attempt in range(3):
            self.port = free_port()
            self._write_config()
            if self._launch(node, timeout):
                return self
            if "EADDRINUSE" not in self.log() or attempt == 2:
                break
        log = self.log()
        self.port = None
        raise IdentityProviderError(f"the identity provider did not start; its log:\n{log[-4000:]}")

    def _launch(self, node: str, timeout: float) -> bool:
        """Start the process and wait for its READY line; False (and no process) if it fails."""
        assert self.log_path is not None and self.config_path is not None
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [node, str(PROVIDER_SCRIPT), str(self.config_path)],
                cwd=IDP_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ready = f"READY {self.issuer}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready in self.log().splitlines():
                return True
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        """Terminate the provider (SIGTERM, then SIGKILL after STOP_TIMEOUT s); idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT)

    def __enter__(self) -> "IdentityProvider":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def identity_provider_redirect_uris() -> list[str]:
    """The client's redirect URIs; override this fixture in a test module to register others
    (typically ``[f"{live_server.url}/oidc/callback/"]``)."""
    return list(DEFAULT_REDIRECT_URIS)


@pytest.fixture
def identity_provider_users() -> dict[str, dict[str, Any]]:
    """The provider's users (erin: research-team, verified email; frank: unverified email);
    override this fixture in a test module for others."""
    return {login: dict(claims) for login, claims in DEFAULT_USERS.items()}


@pytest.fixture
def identity_provider(
    tmp_path: Path,
    identity_provider_redirect_uris: list[str],
    identity_provider_users: dict[str, dict[str, Any]],
) -> Iterator[IdentityProvider]:
    """A started IdentityProvider with client ``paas-studio`` and the users above; stopped at
    the end of the test. Fails (does not skip) when tests/idp/node_modules is missing."""
    provider = IdentityProvider(identity_provider_redirect_uris, identity_provider_users)
    failure = None
    try:
        provider.start(tmp_path / "idp")
    except IdentityProviderError as error:
        failure = str(error)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    try:
        yield provider
    finally:
        provider.stop()
