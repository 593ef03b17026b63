"""Repository code of a template version (SPEC §3, §8): its URL, and its revision pinned.

A version with its code in a git repository pins the commit its revision names when it becomes
active, through the Django admin (the version page and the template page's rows) or by applying
an EnvironmentTemplate document; a revision git cannot resolve, or a commit without the folder
and its paas.sh, is refused at its field and nothing is saved. Every test works on real git
repositories made under tmp_path and reached through file:// URLs.
"""

import base64
import http.server
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from profiles import applying, repositories
from profiles.documents import DocumentError
from profiles.models import EnvironmentTemplate, TemplateVersion
from profiles.repositories import RepositoryProblem, git_environment, resolve_commit
from profiles.serializers import TemplateDocumentSerializer
from profiles.validators import validate_repository_url
from tests.test_admin import formset_data, page_data, refused, row_errors

SCRIPT = '#!/bin/sh\necho "$1"\n'


class Origin:
    """A bare repository under ``root`` (reached as ``file://``) and a work clone to commit from."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.bare = root / "origin.git"
        self.work = root / "work"
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Template Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Template Author",
            "GIT_COMMITTER_EMAIL": "author@example.com",
        }
        self.git("init", "--bare", "--quiet", str(self.bare))
        self.git("init", "--quiet", "--initial-branch=main", str(self.work))
        self.git("remote", "add", "origin", str(self.bare), cwd=self.work)

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def git(self, *args: str, cwd: Path | None = None) -> str:
        result = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    def commit(self, files: dict[str, str | None], *, executable=("paas.sh",)) -> str:
        """Write (or, for None, delete) ``files``, commit, push to main; the commit id."""
        for name, text in files.items():
            file = self.work / name
            if text is None:
                file.unlink()
                continue
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(text)
            file.chmod(0o755 if file.name in executable else 0o644)
        self.git("add", "--all", cwd=self.work)
        self.git("commit", "--quiet", "--allow-empty", "-m", f"change {files}", cwd=self.work)
        self.git("push", "--quiet", "--force", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return self.git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name: str, commit: str, *, annotated: bool = False) -> str:
        """Tag ``commit`` (lightweight, or annotated); the tag object's id for an annotated one."""
        args = ["-a", "-m", f"release {name}"] if annotated else []
        self.git("tag", *args, name, commit, cwd=self.work)
        self.git("push", "--quiet", "origin", f"refs/tags/{name}", cwd=self.work)
        return self.git("rev-parse", f"refs/tags/{name}", cwd=self.work)

    def branch(self, name: str, commit: str) -> None:
        self.git(
            "push", "--quiet", "--force", "origin", f"{commit}:refs/heads/{name}", cwd=self.work
        )


def make_origin(root: Path) -> tuple[Origin, dict[str, str]]:
    """An origin with two commits on main (``notebook/`` with paas.sh), tags and a branch."""
    origin = Origin(root)
    first = origin.commit(
        {
            "notebook/paas.sh": SCRIPT,
            "notebook/README.md": "first\n",
            "no-entry/README.md": "no paas.sh here\n",
            "top.txt": "a file, not a folder\n",
        }
    )
    origin.tag("v1.0", first)
    origin.tag("release-1", first, annotated=True)
    second = origin.commit({"notebook/README.md": "second\n"})
    origin.branch("stable", first)
    return origin, {"first": first, "second": second}


@pytest.fixture(autouse=True)
def code_cache(settings, tmp_path):
    settings.COMPUTE_CODE_CACHE = str(tmp_path / "cache")
    settings.CODE_REPOSITORY_CREDENTIALS = {}
    return tmp_path / "cache"


@pytest.fixture
def origin(tmp_path):
    return make_origin(tmp_path / "repos")


# The URL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/templates.git",
        "http://git.internal:8080/templates.git",
        "ssh://git@git.example.com/templates.git",
        "ssh://git@gitserver:2222/srv/templates.git",
        "git://git.example.com/templates.git",
        "file:///srv/git/templates.git",
        "file://localhost/srv/git/templates.git",
    ],
)
def test_a_repository_url_of_an_allowed_scheme_is_accepted(url):
    validate_repository_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("git@git.example.com:templates.git", "ssh://", id="scp-like"),
        pytest.param("ftp://git.example.com/t.git", "ssh://, git:// or file://", id="ftp"),
        pytest.param("javascript:alert(1)", "valid URL", id="javascript"),
        pytest.param("ext::sh -c touch% /tmp/x", "valid URL", id="ext-transport"),
        pytest.param("not a url", "valid URL", id="words"),
        pytest.param("file://server/srv/t.git", "names a folder on this machine", id="file-host"),
        pytest.param("file://", "names a folder on this machine", id="file-no-path"),
        pytest.param("https:///t.git", "valid URL", id="no-host"),
        pytest.param("ssh://-oProxyCommand=x/t.git", "valid URL", id="option-host"),
        pytest.param("https://bob:s3cret@git.example.com/t.git", "Leave the password", id="pw"),
        pytest.param(" https://git.example.com/t.git", "valid URL", id="space"),
    ],
)
def test_a_repository_url_breaking_the_rule_is_refused(url, message):
    with pytest.raises(ValidationError) as caught:
        validate_repository_url(url)
    assert message in " ".join(caught.value.messages)


def test_the_repository_url_keeps_its_maximum_length(system):
    template = EnvironmentTemplate.objects.create(project=system, name="t", display_name="T")
    version = TemplateVersion(
        template=template,
        name="v1",
        code_repository="https://git.example.com/" + "a" * 200,
        code_path="x",
        code_revision="main",
    )
    with pytest.raises(ValidationError) as caught:
        version.full_clean()
    assert "at most 200 characters" in " ".join(caught.value.message_dict["code_repository"])


# Resolving a revision ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        pytest.param("main", "second", id="branch"),
        pytest.param("stable", "first", id="other-branch"),
        pytest.param("v1.0", "first", id="lightweight-tag"),
        pytest.param("release-1", "first", id="annotated-tag"),
        pytest.param("HEAD", "second", id="default-branch"),
    ],
)
def test_a_name_resolves_to_its_commit(origin, revision, expected):
    repository, commits = origin
    repository.git("symbolic-ref", "HEAD", "refs/heads/main", cwd=repository.bare)
    assert resolve_commit(repository.url, revision, "notebook") == commits[expected]


def test_an_annotated_tag_gives_its_commit_not_the_tag_object(tmp_path):
    repository = Origin(tmp_path / "repos")
    commit = repository.commit({"notebook/paas.sh": SCRIPT})
    tag_object = repository.tag("v2", commit, annotated=True)
    assert tag_object != commit
    assert resolve_commit(repository.url, "v2", "notebook") == commit


def test_a_commit_id_full_or_abbreviated_resolves_to_the_full_id(origin):
    repository, commits = origin
    first = commits["first"]
    assert resolve_commit(repository.url, first, "notebook") == first
    assert resolve_commit(repository.url, first[:10], "notebook") == first
    assert resolve_commit(repository.url, first.upper(), "notebook") == first


def test_a_commit_on_no_branch_or_tag_any_more_still_resolves_by_its_id(tmp_path):
    repository = Origin(tmp_path / "repos")
    old = repository.commit({"notebook/paas.sh": SCRIPT})
    repository.git("commit", "--quiet", "--amend", "-m", "rewritten", cwd=repository.work)
    repository.git(
        "push", "--quiet", "--force", "origin", "HEAD:refs/heads/main", cwd=repository.work
    )
    assert resolve_commit(repository.url, old, "notebook") == old


def test_the_repository_root_is_a_folder_too(tmp_path):
    repository = Origin(tmp_path / "repos")
    commit = repository.commit({"paas.sh": SCRIPT})
    assert resolve_commit(repository.url, "main", "") == commit
    assert resolve_commit(repository.url, "main", "/") == commit


@pytest.mark.parametrize(
    ("revision", "path", "field", "message"),
    [
        pytest.param(
            "nope", "notebook", "code_revision", "no branch, tag or commit “nope”", id="rev"
        ),
        pytest.param("0" * 40, "notebook", "code_revision", "no branch, tag or commit", id="sha"),
        pytest.param("main~1", "notebook", "code_revision", "is not a branch, tag", id="expr"),
        pytest.param("--output=x", "notebook", "code_revision", "is not a branch", id="option"),
        pytest.param("", "notebook", "code_revision", "Give the branch, tag or commit", id="none"),
        pytest.param("main", "missing", "code_path", "There is no folder “missing”", id="folder"),
        pytest.param("main", "no-entry", "code_path", "has no paas.sh", id="no-entry"),
        pytest.param("main", "top.txt", "code_path", "“top.txt” is not a folder", id="file"),
        pytest.param("main", "../etc", "code_path", "without “..”", id="dotdot"),
    ],
)
def test_what_cannot_be_resolved_names_the_field_at_fault(origin, revision, path, field, message):
    repository, _ = origin
    with pytest.raises(RepositoryProblem) as caught:
        resolve_commit(repository.url, revision, path)
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_folder_whose_paas_sh_is_not_a_file_is_refused(tmp_path):
    repository = Origin(tmp_path / "repos")
    repository.commit({"notebook/paas.sh/inner": "a folder named paas.sh\n"})
    with pytest.raises(RepositoryProblem) as caught:
        resolve_commit(repository.url, "main", "notebook")
    assert (caught.value.field, "is not a plain file" in caught.value.message) == (
        "code_path",
        True,
    )


def test_an_unreachable_repository_is_the_repositorys_fault(tmp_path):
    url = (tmp_path / "nowhere.git").as_uri()
    with pytest.raises(RepositoryProblem) as caught:
        resolve_commit(url, "main", "notebook")
    assert caught.value.field == "code_repository"
    assert caught.value.message == (
        f"The repository {url} cannot be reached, or is not a git repository."
    )


def test_a_repository_that_does_not_answer_is_given_up_after_the_timeout(settings):
    settings.CODE_REPOSITORY_TIMEOUT = 1
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never answers
        port = server.getsockname()[1]
        with pytest.raises(RepositoryProblem) as caught:
            resolve_commit(f"git://127.0.0.1:{port}/templates.git", "main", "notebook")
    assert caught.value.field == "code_repository"
    assert "did not answer within 1 second." in caught.value.message


# Credentials -------------------------------------------------------------------------------------

CREDENTIALS = {"https://git.example.com/team/": {"username": "deploy", "password": "pa55-w0rd"}}


def test_credentials_reach_git_only_through_its_environment(settings, tmp_path, monkeypatch):
    settings.CODE_REPOSITORY_CREDENTIALS = CREDENTIALS
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-git")
    env = git_environment("https://git.example.com/team/templates.git", home=str(tmp_path))
    token = base64.b64encode(b"deploy:pa55-w0rd").decode()
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://git.example.com/team/.extraHeader"
    assert env["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {token}"
    assert (env["HOME"], env["GIT_CONFIG_NOSYSTEM"], env["GIT_TERMINAL_PROMPT"]) == (
        str(tmp_path),
        "1",
        "0",
    )
    assert "AWS_SECRET_ACCESS_KEY" not in env


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/teammates/templates.git",  # a neighbour, not under the prefix
        "https://git.example.com.evil.example/team/templates.git",
        "http://git.example.com/team/templates.git",  # another scheme
        "ssh://git@git.example.com/team/templates.git",
    ],
)
def test_credentials_go_only_to_urls_under_their_prefix(settings, tmp_path, url):
    settings.CODE_REPOSITORY_CREDENTIALS = CREDENTIALS
    env = git_environment(url, home=str(tmp_path))
    assert env["GIT_CONFIG_COUNT"] == "0"
    assert "pa55-w0rd" not in repr(env)
    assert base64.b64encode(b"deploy:pa55-w0rd").decode() not in repr(env)


class _Recording(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.end_headers()

    def log_message(self, *args):
        pass


def test_credentials_are_sent_as_a_header_and_never_shown(settings, monkeypatch, caplog):
    for name in repositories.PASSED_THROUGH:
        monkeypatch.delenv(name, raising=False)  # no proxy between git and the test's server
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recording)
    _Recording.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        prefix = f"http://127.0.0.1:{server.server_port}/"
        settings.CODE_REPOSITORY_CREDENTIALS = {
            prefix: {"username": "deploy", "password": "pa55-w0rd"}
        }
        with pytest.raises(RepositoryProblem) as caught:
            resolve_commit(prefix + "templates.git", "main", "notebook")
    finally:
        server.shutdown()
        server.server_close()
    token = base64.b64encode(b"deploy:pa55-w0rd").decode()
    assert _Recording.seen and all(header == f"Basic {token}" for _, header in _Recording.seen)
    assert caught.value.field == "code_repository"
    assert "refused access" in caught.value.message
    for text in (caught.value.message, caplog.text):
        assert "pa55-w0rd" not in text
        assert token not in text


def test_a_command_line_of_git_never_holds_the_credentials(settings, tmp_path, monkeypatch):
    """A ``git`` first on PATH writes down each command line, then runs the real git."""
    settings.CODE_REPOSITORY_CREDENTIALS = {
        "https://127.0.0.1:9/": {"username": "deploy", "password": "pa55-w0rd"}
    }
    bin_folder, log = tmp_path / "bin", tmp_path / "commands.log"
    bin_folder.mkdir()
    wrapper = bin_folder / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {shutil.which("git")} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(RepositoryProblem):
        resolve_commit("https://127.0.0.1:9/templates.git", "main", "notebook")
    commands = log.read_text()
    assert "fetch" in commands
    assert "pa55-w0rd" not in commands
    assert base64.b64encode(b"deploy:pa55-w0rd").decode() not in commands


# Activation in the Django admin ------------------------------------------------------------------


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def template(system):
    return EnvironmentTemplate.objects.create(
        project=system, name="notebook", display_name="Notebook", sharing="all"
    )


def version_data(template, url: str, **fields) -> dict:
    return (
        {
            "template": template.pk,
            "name": "v1",
            "state": "active",
            "code_repository": url,
            "code_path": "notebook",
            "code_revision": "main",
            "code_inline": "",
        }
        | fields
        | formset_data("variables", [])
        | formset_data("outputs", [])
    )


def add_version(client, data):
    return client.post(reverse("admin:profiles_templateversion_add"), data)


def change_url(version) -> str:
    return reverse("admin:profiles_templateversion_change", args=[version.pk])


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        pytest.param("main", "second", id="branch"),
        pytest.param("v1.0", "first", id="lightweight-tag"),
        pytest.param("release-1", "first", id="annotated-tag"),
        pytest.param("commit", "first", id="commit-id"),
    ],
)
def test_activating_a_version_in_the_admin_pins_its_commit(
    superuser_client, template, origin, revision, expected
):
    repository, commits = origin
    revision = commits["first"] if revision == "commit" else revision
    response = add_version(
        superuser_client, version_data(template, repository.url, code_revision=revision)
    )
    assert response.status_code == 302
    version = template.versions.get(name="v1")
    assert (version.state, version.code_revision, version.code_commit) == (
        "active",
        revision,
        commits[expected],
    )


def test_a_version_row_of_the_template_page_is_pinned_too(superuser_client, system, origin):
    repository, commits = origin
    data = {
        "project": system.pk,
        "name": "notebook",
        "display_name": "Notebook",
        "description": "",
        "sharing": "all",
    } | formset_data(
        "versions",
        [
            {
                "name": "v1",
                "state": "active",
                "code_repository": repository.url,
                "code_path": "notebook",
                "code_revision": "stable",
            }
        ],
    )
    response = superuser_client.post(reverse("admin:profiles_environmenttemplate_add"), data)
    assert response.status_code == 302
    version = TemplateVersion.objects.get(template__name="notebook", name="v1")
    assert version.code_commit == commits["first"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        pytest.param(
            {"code_revision": "nope"}, "code_revision", "no branch, tag or commit", id="rev"
        ),
        pytest.param({"code_path": "missing"}, "code_path", "There is no folder", id="folder"),
        pytest.param({"code_path": "no-entry"}, "code_path", "has no paas.sh", id="no-entry"),
        pytest.param({"unreachable": True}, "code_repository", "cannot be reached", id="repo"),
    ],
)
def test_activation_the_repository_refuses_is_refused_at_the_field(
    superuser_client, template, origin, tmp_path, fields, field, message
):
    repository, _ = origin
    url = (
        (tmp_path / "nowhere.git").as_uri() if fields.pop("unreachable", False) else repository.url
    )
    response = add_version(superuser_client, version_data(template, url, **fields))
    assert message in refused(response)[field]
    assert not TemplateVersion.objects.exists()


def test_a_refused_row_of_the_template_page_saves_nothing(superuser_client, system, origin):
    repository, _ = origin
    data = {
        "project": system.pk,
        "name": "notebook",
        "display_name": "Notebook",
        "description": "",
        "sharing": "all",
    } | formset_data(
        "versions",
        [
            {
                "name": "v1",
                "state": "active",
                "code_repository": repository.url,
                "code_path": "no-entry",
                "code_revision": "main",
            }
        ],
    )
    response = superuser_client.post(reverse("admin:profiles_environmenttemplate_add"), data)
    assert "has no paas.sh" in row_errors(response, "versions-0")["code_path"]
    assert not EnvironmentTemplate.objects.filter(name="notebook").exists()


def test_a_draft_is_not_resolved_and_is_pinned_when_activated(
    superuser_client, template, origin, tmp_path
):
    repository, commits = origin
    unreachable = (tmp_path / "nowhere.git").as_uri()
    data = version_data(template, unreachable, state="draft")
    assert add_version(superuser_client, data).status_code == 302
    version = template.versions.get(name="v1")
    assert version.code_commit == ""

    page = page_data(superuser_client.get(change_url(version)))
    page |= {"state": "active"}
    assert (
        "cannot be reached"
        in refused(superuser_client.post(change_url(version), page))["code_repository"]
    )
    page |= {"code_repository": repository.url}
    assert superuser_client.post(change_url(version), page).status_code == 302
    version.refresh_from_db()
    assert (version.state, version.code_commit) == ("active", commits["second"])


def test_an_active_version_keeps_its_commit_when_the_branch_moves_on(
    superuser_client, template, origin
):
    repository, commits = origin
    assert add_version(superuser_client, version_data(template, repository.url)).status_code == 302
    version = template.versions.get(name="v1")
    assert version.code_commit == commits["second"]

    repository.commit({"notebook/README.md": "third\n"})  # main moves on
    page = page_data(superuser_client.get(change_url(version)))
    assert superuser_client.post(change_url(version), page).status_code == 302
    version.refresh_from_db()
    assert version.code_commit == commits["second"]

    shutil.rmtree(repository.bare)  # saving it unchanged asks nothing of the repository
    assert superuser_client.post(change_url(version), page).status_code == 302
    version.refresh_from_db()
    assert version.code_commit == commits["second"]


def test_changing_the_code_of_an_active_version_pins_it_again(superuser_client, template, origin):
    repository, commits = origin
    assert add_version(superuser_client, version_data(template, repository.url)).status_code == 302
    version = template.versions.get(name="v1")
    third = repository.commit({"other/paas.sh": SCRIPT})
    page = page_data(superuser_client.get(change_url(version)))
    assert (
        superuser_client.post(change_url(version), page | {"code_path": "other"}).status_code == 302
    )
    version.refresh_from_db()
    assert (version.code_path, version.code_commit) == ("other", third)
    assert version.code_commit != commits["second"]


def test_a_version_going_back_to_draft_keeps_its_commit(superuser_client, template, origin):
    repository, commits = origin
    assert add_version(superuser_client, version_data(template, repository.url)).status_code == 302
    version = template.versions.get(name="v1")
    page = page_data(superuser_client.get(change_url(version)))
    assert (
        superuser_client.post(change_url(version), page | {"state": "disabled"}).status_code == 302
    )
    version.refresh_from_db()
    assert (version.state, version.code_commit) == ("disabled", commits["second"])


def test_the_commit_is_shown_read_only_on_the_version_page(superuser_client, template, origin):
    repository, commits = origin
    add_version(superuser_client, version_data(template, repository.url))
    version = template.versions.get(name="v1")
    response = superuser_client.get(change_url(version))
    assert "code_commit" not in response.context["adminform"].form.fields
    assert commits["second"] in response.text
    forged = page_data(response) | {"code_commit": "f" * 40}
    assert superuser_client.post(change_url(version), forged).status_code == 302
    version.refresh_from_db()
    assert version.code_commit == commits["second"]


# Activation by applying a document ---------------------------------------------------------------


def template_document(url: str, *versions: dict) -> dict:
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "EnvironmentTemplate",
        "metadata": {"name": "notebook", "project": "system-catalog", "displayName": "Notebook"},
        "spec": {
            "sharing": {"type": "all"},
            "versions": [
                {
                    "name": f"v{index}",
                    "state": "active",
                    "code": {"repository": url, "path": "notebook", "revision": "main"} | version,
                }
                for index, version in enumerate(versions, start=1)
            ],
        },
    }


def apply_document(system, document: dict):
    serializer = TemplateDocumentSerializer(data=document)
    assert serializer.is_valid(), serializer.errors
    return applying.apply_template_document(project=system, document=serializer.validated_data)


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        pytest.param("main", "second", id="branch"),
        pytest.param("v1.0", "first", id="lightweight-tag"),
        pytest.param("release-1", "first", id="annotated-tag"),
        pytest.param("commit", "first", id="commit-id"),
    ],
)
def test_applying_a_document_pins_the_commit(system, origin, revision, expected):
    repository, commits = origin
    revision = commits["first"] if revision == "commit" else revision
    _, outcome = apply_document(system, template_document(repository.url, {"revision": revision}))
    assert outcome == "created"
    version = TemplateVersion.objects.get(template__name="notebook", name="v1")
    assert version.code_commit == commits[expected]


@pytest.mark.parametrize(
    ("code", "path", "message"),
    [
        pytest.param({"revision": "nope"}, "code.revision", "no branch, tag or commit", id="rev"),
        pytest.param({"path": "missing"}, "code.path", "There is no folder", id="folder"),
        pytest.param({"path": "no-entry"}, "code.path", "has no paas.sh", id="no-entry"),
        pytest.param({"unreachable": True}, "code.repository", "cannot be reached", id="repo"),
    ],
)
def test_a_document_the_repository_refuses_is_refused_by_path(
    system, origin, tmp_path, code, path, message
):
    repository, _ = origin
    url = (tmp_path / "nowhere.git").as_uri() if code.pop("unreachable", False) else repository.url
    document = template_document(repository.url, {}, {"repository": url, **code})
    with pytest.raises(DocumentError) as caught:
        apply_document(system, document)
    [(where, said)] = caught.value.causes
    assert where == f"spec.versions[1].{path}"
    assert message in said
    assert not EnvironmentTemplate.objects.filter(name="notebook").exists()
    assert not TemplateVersion.objects.exists()


def test_applying_an_unchanged_document_keeps_the_commit_and_asks_nothing(system, origin):
    repository, commits = origin
    document = template_document(repository.url, {})
    apply_document(system, document)
    repository.commit({"notebook/README.md": "third\n"})
    assert apply_document(system, document)[1] == "unchanged"
    shutil.rmtree(repository.bare)
    assert apply_document(system, document)[1] == "unchanged"
    version = TemplateVersion.objects.get(template__name="notebook", name="v1")
    assert version.code_commit == commits["second"]


def test_applying_a_document_that_changes_the_revision_pins_again(system, origin):
    repository, commits = origin
    apply_document(system, template_document(repository.url, {}))
    assert (
        apply_document(system, template_document(repository.url, {"revision": "stable"}))[1]
        == "configured"
    )
    version = TemplateVersion.objects.get(template__name="notebook", name="v1")
    assert version.code_commit == commits["first"]


def test_applying_a_document_that_activates_a_draft_pins_it(system, origin):
    repository, _ = origin
    draft = template_document(repository.url, {})
    draft["spec"]["versions"][0]["state"] = "draft"
    apply_document(system, draft)
    assert TemplateVersion.objects.get(name="v1").code_commit == ""
    repository.commit({"notebook/README.md": "third\n"})
    apply_document(system, template_document(repository.url, {}))
    third = repository.git("rev-parse", "main", cwd=repository.bare)
    assert TemplateVersion.objects.get(name="v1").code_commit == third


def test_manage_py_apply_names_the_file_document_and_field(system, origin, tmp_path):
    repository, _ = origin
    file = tmp_path / "template.yaml"
    file.write_text(yaml.safe_dump(template_document(repository.url, {"revision": "nope"})))
    with pytest.raises(CommandError) as caught:
        call_command("apply", "-f", str(file))
    assert f"{file}[0]: spec.versions[0].code.revision: The repository" in str(caught.value)
    assert not EnvironmentTemplate.objects.filter(name="notebook").exists()


def test_an_exported_template_round_trips_with_its_commit_kept(system, origin, tmp_path):
    repository, commits = origin
    apply_document(system, template_document(repository.url, {}))
    call_command("export", "--project", "system-catalog", "--templates", "-o", str(tmp_path / "a"))
    exported = (tmp_path / "a").read_text()
    assert "commit" not in exported  # the pin is the platform's, not part of the document
    repository.commit({"notebook/README.md": "third\n"})
    call_command("apply", "-f", str(tmp_path / "a"))
    assert TemplateVersion.objects.get(name="v1").code_commit == commits["second"]
