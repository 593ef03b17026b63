"""Git repositories holding template code (SPEC §8, the code contract): the one place that runs git.

A template version's code may be the folder ``code_path`` of the git repository
``code_repository`` at ``code_revision`` (a branch, a tag or a commit id). When the version is
activated, :func:`resolve_commit` turns that revision into the full commit id the version pins,
checking that the folder holds a ``paas.sh`` at that commit; :mod:`compute.code` later fetches
exactly that commit's folder for a run, through the same :class:`Mirror`.

Every repository gets a bare mirror on this machine, under the ``COMPUTE_CODE_CACHE`` setting:
``<cache>/<sha256(url)[:16]>/mirror.git``, updated with ``git fetch`` (its branches and tags,
pruned as the repository prunes them), with every pinned commit kept under ``refs/pinned/`` so
that a force-pushed branch does not lose it. One process at a time works on a mirror (a file
lock beside it).

Git runs as the ``git`` command, with list arguments (never a shell), in a clean environment:
``HOME`` an empty temporary folder and ``GIT_CONFIG_NOSYSTEM=1`` (no user or system
configuration is read), no terminal prompts, only the ``file``, ``git``, ``http``, ``https`` and
``ssh`` protocols, and a time limit per git command (``CODE_REPOSITORY_TIMEOUT`` seconds).
Credentials for http(s) repositories come from the ``CODE_REPOSITORY_CREDENTIALS`` setting
(``PAAS_CODE_CREDENTIALS``: a URL prefix to a username and password) and reach git only through
its environment, as an ``Authorization`` header for URLs under that prefix (``GIT_CONFIG_COUNT``,
``GIT_CONFIG_KEY_n``, ``GIT_CONFIG_VALUE_n``): never on a command line, in a message or a log.
ssh repositories use the key of the user running PaaS Studio (OpenSSH reads ``~/.ssh`` from the
user's account, not from ``HOME``), in batch mode.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

logger = logging.getLogger(__name__)

#: A full commit id: SHA-1 (40 hex digits) or SHA-256 (64).
FULL_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
ENTRY = "paas.sh"
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
#: What git may take from the process's environment: proxies, CA certificates, the ssh agent.
PASSED_THROUGH = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
    "GIT_SSH_COMMAND",
    "SSH_AUTH_SOCK",
)
# What git-check-ref-format refuses, plus "@{" (reflog syntax) and "..": a revision is a name
# or a commit id, never an expression.
_NOT_A_REVISION = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|@\{|\.\.|^-|^/|/$|\.lock$|^@$")
_ABBREVIATED = re.compile(r"[0-9a-fA-F]{4,63}")
_ACCESS_REFUSED = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied",
    "access denied",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
)


class RepositoryProblem(Exception):
    """Why a repository, revision or path cannot be used; ``field`` is the version field at fault
    (``code_repository``, ``code_revision`` or ``code_path``), ``message`` one plain sentence."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _GitFailed(Exception):
    def __init__(self, stderr: str = "", *, timed_out: bool = False) -> None:
        super().__init__(stderr)
        self.stderr = stderr
        self.timed_out = timed_out


# The environment ---------------------------------------------------------------------------------


def timeout() -> float:
    """How long one git command may take, in seconds (``CODE_REPOSITORY_TIMEOUT``, default 30)."""
    return float(getattr(settings, "CODE_REPOSITORY_TIMEOUT", 30))


def cache_root() -> Path:
    """Where mirrors (and :mod:`compute.code`'s fetched folders) live on this machine."""
    return Path(getattr(settings, "COMPUTE_CODE_CACHE", Path(settings.BASE_DIR) / "var" / "code"))


def repository_folder(repository: str) -> Path:
    """The cache folder of one repository: ``<cache>/<sha256(url)[:16]>``."""
    return cache_root() / hashlib.sha256(repository.encode()).hexdigest()[:16]


def shown(repository: str) -> str:
    """The repository's URL as a message may show it: without any password."""
    try:
        parts = urlsplit(repository)
        if parts.password is None:
            return repository
        netloc = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=user + netloc))
    except ValueError:
        return repository


@dataclass(frozen=True)
class Credentials:
    prefix: str
    username: str
    password: str


def _under(repository: str, prefix: str) -> bool:
    """Whether ``repository`` is under the URL ``prefix``: same scheme, host and port, and a path
    below the prefix's (by whole path segments: ``https://h/team`` is not under ``https://h/te``).
    """
    try:
        url, base = urlsplit(repository), urlsplit(prefix)
        same_place = (url.scheme.lower(), url.hostname, url.port) == (
            base.scheme.lower(),
            base.hostname,
            base.port,
        )
    except ValueError:
        return False
    if not same_place or url.scheme.lower() not in ("http", "https") or not base.hostname:
        return False
    folder = base.path if base.path.endswith("/") else base.path + "/"
    return url.path == base.path or (url.path or "/").startswith(folder)


def credentials_for(repository: str) -> Credentials | None:
    """The configured credentials of the longest URL prefix ``repository`` is under, if any."""
    configured = getattr(settings, "CODE_REPOSITORY_CREDENTIALS", None) or {}
    prefixes = [prefix for prefix in configured if _under(repository, prefix)]
    if not prefixes:
        return None
    prefix = max(prefixes, key=len)
    entry = configured[prefix]
    return Credentials(prefix, str(entry.get("username", "")), str(entry.get("password", "")))


def git_environment(repository: str, *, home: str) -> dict[str, str]:
    """The whole environment git runs in for ``repository``, with ``home`` as its ``HOME``.

    Credentials configured for the repository's URL become an ``http.<prefix>.extraHeader``
    through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_0``/``GIT_CONFIG_VALUE_0``; nothing else of
    them leaves this function.
    """
    env = {name: os.environ[name] for name in PASSED_THROUGH if os.environ.get(name)}
    env |= {
        "PATH": os.environ.get("PATH") or os.defpath,
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "GIT_SSH_COMMAND": env.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        "GIT_CONFIG_COUNT": "0",
    }
    found = credentials_for(repository)
    if found is not None:
        token = base64.b64encode(f"{found.username}:{found.password}".encode()).decode("ascii")
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{found.prefix}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
        }
    return env


def _redacted(text: str, repository: str) -> str:
    found = credentials_for(repository)
    if found is not None:
        for secret in (found.password, base64.b64encode(found.password.encode()).decode()):
            if secret:
                text = text.replace(secret, "***")
    return text


def run_git(
    args: list[str], *, repository: str, git_dir: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``git <args>`` (on the bare repository ``git_dir``) for ``repository``.

    Returns the finished process (stdout as bytes, stderr as text); raises ``_GitFailed`` when
    git fails (with ``check``) or takes longer than :func:`timeout`. On the time limit, git and
    everything it started (ssh, the https helper) are killed.
    """
    command = ["git", *([f"--git-dir={git_dir}"] if git_dir else []), *args]
    with tempfile.TemporaryDirectory(prefix="paas-git-home-") as home:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=git_environment(repository, home=home),
                cwd=home,
                start_new_session=True,
            )
        except OSError as error:
            raise RepositoryProblem(
                "code_repository",
                f"git cannot be run on this machine ({error.strerror or error}).",
            ) from None
        try:
            stdout, stderr = process.communicate(timeout=timeout())
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise _GitFailed(timed_out=True) from None
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    result = subprocess.CompletedProcess(
        command, process.returncode, stdout, stderr.decode("utf-8", "replace")
    )
    if check and result.returncode != 0:
        raise _GitFailed(result.stderr)
    return result


def _unreachable(repository: str, failure: _GitFailed) -> RepositoryProblem:
    url = shown(repository)
    if failure.timed_out:
        return RepositoryProblem(
            "code_repository",
            f"The repository {url} did not answer within {timeout():g} "
            f"second{'' if timeout() == 1 else 's'}.",
        )
    logger.info("git could not fetch %s: %s", url, _redacted(failure.stderr, repository)[-2000:])
    reason = failure.stderr.lower()
    if "host key verification failed" in reason:
        return RepositoryProblem(
            "code_repository",
            f"The host key of {url} is not known here: add it to the known_hosts of the account "
            "PaaS Studio runs as.",
        )
    if any(sign in reason for sign in _ACCESS_REFUSED):
        return RepositoryProblem(
            "code_repository",
            f"The repository {url} refused access: the platform has no working credentials for it.",
        )
    return RepositoryProblem(
        "code_repository", f"The repository {url} cannot be reached, or is not a git repository."
    )


# Paths and revisions -----------------------------------------------------------------------------


def normal_path(path: str) -> str:
    """``code_path`` as a path inside the repository: ``a/b`` ("" for its root)."""
    parts = [part for part in (path or "").replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts or any(ord(c) < 32 for c in path or ""):
        raise RepositoryProblem(
            "code_path", "Give the path of a folder inside the repository, without “..”."
        )
    return "/".join(parts)


def _where(path: str) -> str:
    return f"folder “{path}”" if path else "repository's root folder"


# The mirror --------------------------------------------------------------------------------------


class Mirror:
    """The bare mirror of one repository on this machine; open it with :meth:`opened`."""

    def __init__(self, repository: str) -> None:
        self.repository = repository
        self.folder = repository_folder(repository)
        self.git_dir = self.folder / "mirror.git"

    @classmethod
    @contextlib.contextmanager
    def opened(cls, repository: str) -> Iterator[Mirror]:
        """The repository's mirror, made if need be, locked against other processes until the
        block ends. Raises RepositoryProblem for a URL git may not use."""
        if not re.match(r"(?i)(https?|ssh|git|file)://", repository or ""):
            raise RepositoryProblem(
                "code_repository",
                "Give the repository as an https://, ssh://, git:// or file:// URL.",
            )
        mirror = cls(repository)
        try:
            mirror.folder.mkdir(parents=True, exist_ok=True)
            lock = open(mirror.folder / "mirror.lock", "a")  # noqa: SIM115 (closed below)
        except OSError as error:
            raise RepositoryProblem(
                "code_repository",
                f"This machine cannot keep a copy of {shown(repository)}: "
                f"{error.strerror or error}.",
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                mirror._make()
                yield mirror
            except _GitFailed as failure:
                # Not fetching (that says what went wrong itself): git failed on the copy here.
                if failure.timed_out:
                    raise _unreachable(repository, failure) from None
                logger.warning(
                    "git failed on the mirror of %s: %s",
                    shown(repository),
                    _redacted(failure.stderr, repository)[-2000:],
                )
                raise RepositoryProblem(
                    "code_repository",
                    f"git failed on this machine's copy of {shown(repository)}.",
                ) from None
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_git(list(args), repository=self.repository, git_dir=self.git_dir, check=check)

    def _make(self) -> None:
        if (self.git_dir / "HEAD").is_file():
            return
        building = Path(tempfile.mkdtemp(prefix="mirror.git.tmp-", dir=self.folder))
        try:
            run_git(["init", "--bare", "--quiet", str(building)], repository=self.repository)
            for key, value in [
                ("gc.auto", "0"),  # pinned commits are never pruned away
                ("core.logAllRefUpdates", "false"),
                ("fetch.fsckObjects", "false"),
            ]:
                run_git(["config", key, value], repository=self.repository, git_dir=building)
            # No default branch of its own: "HEAD" is asked of the repository.
            run_git(
                ["symbolic-ref", "HEAD", "refs/paas/none"],
                repository=self.repository,
                git_dir=building,
            )
            os.rename(building, self.git_dir)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise

    # Fetching ----------------------------------------------------------------------------------

    def fetch(self) -> None:
        """Bring the mirror's branches and tags up to date with the repository's."""
        try:
            self.git(
                "fetch",
                "--quiet",
                "--prune",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
                self.repository,
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            )
        except _GitFailed as failure:
            raise _unreachable(self.repository, failure) from None

    def fetch_commit(self, commit: str) -> bool:
        """Ask the repository for one commit by its id; whether it came."""
        try:
            self.git(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
                self.repository,
                f"+{commit}:refs/pinned/{commit}",
            )
        except _GitFailed as failure:
            if failure.timed_out:
                raise _unreachable(self.repository, failure) from None
            return False
        return self.commit_of(commit) is not None

    def fetch_head(self) -> str | None:
        """The commit the repository's default branch (its ``HEAD``) is at."""
        try:
            self.git(
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
                self.repository,
                "+HEAD:refs/paas/remote-head",
            )
        except _GitFailed as failure:
            if failure.timed_out:
                raise _unreachable(self.repository, failure) from None
            return None
        return self.commit_of("refs/paas/remote-head")

    # Reading -----------------------------------------------------------------------------------

    def commit_of(self, revision: str) -> str | None:
        """The full id of the commit ``revision`` names in the mirror (tags peeled), or None."""
        result = self.git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}",
            check=False,
        )  # fmt: skip
        commit = result.stdout.decode().strip()
        return commit if result.returncode == 0 and FULL_COMMIT.fullmatch(commit) else None

    def is_ambiguous(self, revision: str) -> bool:
        result = self.git("rev-parse", "--verify", "--end-of-options", revision, check=False)
        return "ambiguous" in result.stderr

    def keep(self, commit: str) -> None:
        """Keep ``commit`` in the mirror even when no branch or tag leads to it any more."""
        self.git("update-ref", f"refs/pinned/{commit}", commit)

    def ensure_commit(self, commit: str) -> None:
        """Have ``commit`` (a full id) in the mirror, fetching it if need be."""
        if self.commit_of(commit) == commit:
            return
        self.fetch()
        if self.commit_of(commit) != commit and not self.fetch_commit(commit):
            raise RepositoryProblem(
                "code_revision", f"The repository {shown(self.repository)} has no commit {commit}."
            )

    def check_folder(self, commit: str, path: str) -> None:
        """Refuse a ``path`` that is not a folder holding a ``paas.sh`` file at ``commit``."""
        at = f"{shown(self.repository)} at commit {commit[:12]}"
        tree = f"{commit}:{path}" if path else f"{commit}^{{tree}}"
        kind = self.git("cat-file", "-t", tree, check=False)
        if kind.returncode != 0:
            raise RepositoryProblem("code_path", f"There is no folder “{path}” in {at}.")
        if kind.stdout.decode().strip() != "tree":
            raise RepositoryProblem("code_path", f"“{path}” is not a folder in {at}.")
        listed = self.git("ls-tree", "-z", "--end-of-options", tree, "--", ENTRY).stdout
        entry = listed.split(b"\0")[0].decode("utf-8", "replace")
        mode = entry.split(" ", 1)[0]
        if not entry:
            raise RepositoryProblem("code_path", f"The {_where(path)} has no {ENTRY} in {at}.")
        if mode not in ("100644", "100755"):
            raise RepositoryProblem(
                "code_path", f"{ENTRY} in the {_where(path)} is not a plain file in {at}."
            )

    def archive(self, commit: str, path: str, output: Path) -> None:
        """Write the files of ``path`` at ``commit`` as a tar file (modes as git stores them)."""
        tree = f"{commit}:{path}" if path else commit
        self.git("archive", "--format=tar", f"--output={output}", "--end-of-options", tree)


def resolve_commit(repository: str, revision: str, path: str) -> str:
    """The full commit id ``revision`` names in ``repository``, whose folder ``path`` holds a
    ``paas.sh``.

    ``revision`` is a branch, a tag (an annotated tag is peeled to its commit), ``HEAD`` (the
    repository's default branch) or a full or abbreviated commit id. The repository's mirror is
    brought up to date first, so a branch gives the commit it is at now. Raises
    RepositoryProblem: ``code_repository`` when the repository cannot be reached,
    ``code_revision`` when it has no such revision, ``code_path`` when the path is not a folder
    with a ``paas.sh`` at that commit.
    """
    path = normal_path(path)
    revision = (revision or "").strip()
    url = shown(repository)
    if not revision:
        raise RepositoryProblem(
            "code_revision", "Give the branch, tag or commit id of the code to use."
        )
    if _NOT_A_REVISION.search(revision):
        raise RepositoryProblem("code_revision", f"“{revision}” is not a branch, tag or commit id.")
    with Mirror.opened(repository) as mirror:
        mirror.fetch()
        if revision == "HEAD":
            commit = mirror.fetch_head()
        else:
            commit = mirror.commit_of(revision)
            if commit is None and FULL_COMMIT.fullmatch(revision.lower()):
                # Not on a branch or tag: a commit the repository may still give by its id.
                wanted = revision.lower()
                commit = wanted if mirror.fetch_commit(wanted) else None
        if commit is None:
            if _ABBREVIATED.fullmatch(revision) and mirror.is_ambiguous(revision):
                raise RepositoryProblem(
                    "code_revision",
                    f"“{revision}” is the start of more than one commit id in {url}; "
                    "give more of its digits.",
                )
            raise RepositoryProblem(
                "code_revision", f"The repository {url} has no branch, tag or commit “{revision}”."
            )
        mirror.check_folder(commit, path)
        mirror.keep(commit)
    return commit
