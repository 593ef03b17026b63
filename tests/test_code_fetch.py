"""Fetching a version's repository code for a run (SPEC §8): compute.code.fetch_code.

The folder of a repository at a pinned commit arrives as a local folder holding exactly its
files, modes as git stores them, cached per commit: a second fetch runs no git and needs no
repository, two fetches at once both get a complete folder, two commits two folders. Every test
works on real git repositories made under tmp_path and reached through file:// URLs.
"""

import os
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from compute import code
from compute.code import CodeUnavailable, code_folder, fetch_code
from tests.test_code_repositories import SCRIPT, Origin


@pytest.fixture(autouse=True)
def cache(settings, tmp_path) -> Path:
    settings.COMPUTE_CODE_CACHE = str(tmp_path / "cache")
    settings.CODE_REPOSITORY_CREDENTIALS = {}
    return tmp_path / "cache"


@pytest.fixture
def origin(tmp_path) -> Origin:
    return Origin(tmp_path / "repos")


def files_of(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by its relative path, with its text."""
    return {
        str(path.relative_to(folder)): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def test_the_folder_holds_exactly_the_files_of_the_path_at_the_commit(origin):
    commit = origin.commit(
        {
            "notebook/paas.sh": SCRIPT,
            "notebook/lib/helpers.sh": "helpers\n",
            "notebook/README.md": "read me\n",
            "other/paas.sh": SCRIPT,
            "top.txt": "top\n",
        }
    )
    folder = fetch_code(origin.url, commit, "notebook")
    assert files_of(folder) == {
        "paas.sh": SCRIPT,
        "lib/helpers.sh": "helpers\n",
        "README.md": "read me\n",
    }
    assert is_executable(folder / "paas.sh")
    assert not is_executable(folder / "README.md")
    assert folder == code_folder(origin.url, commit, "notebook")


def test_a_paas_sh_committed_without_its_executable_bit_stays_so(origin):
    commit = origin.commit({"notebook/paas.sh": SCRIPT}, executable=())
    assert not is_executable(fetch_code(origin.url, commit, "notebook") / "paas.sh")


def test_the_repository_root_can_be_the_folder(origin):
    commit = origin.commit({"paas.sh": SCRIPT, "docs/a.md": "a\n"})
    assert files_of(fetch_code(origin.url, commit, "")) == {"paas.sh": SCRIPT, "docs/a.md": "a\n"}


def test_symbolic_links_are_kept_as_git_stores_them(origin):
    origin.commit({"notebook/paas.sh": SCRIPT})
    (origin.work / "notebook" / "run").symlink_to("paas.sh")
    commit = origin.commit({})
    folder = fetch_code(origin.url, commit, "notebook")
    assert os.readlink(folder / "run") == "paas.sh"


def test_a_second_fetch_of_a_commit_runs_no_git_and_needs_no_repository(origin, monkeypatch):
    commit = origin.commit({"notebook/paas.sh": SCRIPT})
    first = fetch_code(origin.url, commit, "notebook")
    origin.bare.rename(origin.bare.with_name("moved.git"))  # the repository is gone
    monkeypatch.setenv("PATH", "/nonexistent")  # and so is git
    assert fetch_code(origin.url, commit, "notebook") == first
    assert files_of(first) == {"paas.sh": SCRIPT}


def test_two_commits_give_two_folders_with_their_own_files(origin):
    first = origin.commit({"notebook/paas.sh": SCRIPT, "notebook/VERSION": "1\n"})
    second = origin.commit({"notebook/VERSION": "2\n", "notebook/new.txt": "new\n"})
    one, two = fetch_code(origin.url, first, "notebook"), fetch_code(origin.url, second, "notebook")
    assert one != two
    assert files_of(one) == {"paas.sh": SCRIPT, "VERSION": "1\n"}
    assert files_of(two) == {"paas.sh": SCRIPT, "VERSION": "2\n", "new.txt": "new\n"}


def test_a_folder_and_one_inside_it_are_kept_apart(origin):
    commit = origin.commit({"a/paas.sh": SCRIPT, "a/b/paas.sh": SCRIPT, "a/b/x": "x\n"})
    inner = fetch_code(origin.url, commit, "a/b")
    outer = fetch_code(origin.url, commit, "a")
    assert files_of(inner) == {"paas.sh": SCRIPT, "x": "x\n"}
    assert files_of(outer) == {"paas.sh": SCRIPT, "b/paas.sh": SCRIPT, "b/x": "x\n"}


def test_two_fetches_of_one_commit_at_once_both_get_a_complete_folder(origin, cache):
    files = {f"notebook/data/{index}.txt": f"{index}\n" * 100 for index in range(200)}
    commit = origin.commit({"notebook/paas.sh": SCRIPT, **files})
    start = threading.Barrier(4)

    def fetch() -> dict[str, str]:
        start.wait()
        return files_of(fetch_code(origin.url, commit, "notebook"))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: fetch(), range(4)))
    expected = {"paas.sh": SCRIPT} | {
        name.removeprefix("notebook/"): t for name, t in files.items()
    }
    assert all(result == expected for result in results)
    leftovers = [p.name for p in code_folder(origin.url, commit, "notebook").parent.iterdir()]
    assert leftovers == ["notebook"]  # no temporary copy left behind


def test_the_copy_that_comes_second_is_removed_and_the_first_one_used(tmp_path):
    final, late = tmp_path / "final", tmp_path / ".tmp-late"
    final.mkdir()
    (final / "paas.sh").write_text("first\n")
    late.mkdir()
    (late / "paas.sh").write_text("second\n")
    assert code._install(late, final) == final
    assert not late.exists()
    assert (final / "paas.sh").read_text() == "first\n"


def test_a_branch_name_is_resolved_to_its_commit_first(origin):
    first = origin.commit({"notebook/paas.sh": SCRIPT, "notebook/VERSION": "1\n"})
    folder = fetch_code(origin.url, "main", "notebook")
    assert folder == code_folder(origin.url, first, "notebook")
    second = origin.commit({"notebook/VERSION": "2\n"})
    assert fetch_code(origin.url, "main", "notebook") == code_folder(origin.url, second, "notebook")


def test_a_commit_pinned_before_its_branch_was_rewritten_is_still_fetched(origin):
    old = origin.commit({"notebook/paas.sh": SCRIPT, "notebook/VERSION": "old\n"})
    origin.git("commit", "--quiet", "--amend", "-m", "rewritten", cwd=origin.work)
    origin.git("push", "--quiet", "--force", "origin", "HEAD:refs/heads/main", cwd=origin.work)
    assert files_of(fetch_code(origin.url, old, "notebook"))["VERSION"] == "old\n"


# What cannot be fetched --------------------------------------------------------------------------


def test_a_commit_the_repository_does_not_have_is_said_so(origin):
    origin.commit({"notebook/paas.sh": SCRIPT})
    with pytest.raises(CodeUnavailable) as caught:
        fetch_code(origin.url, "0" * 40, "notebook")
    assert caught.value.message == f"The repository {origin.url} has no commit {'0' * 40}."


def test_a_folder_not_in_the_commit_is_said_so(origin):
    commit = origin.commit({"notebook/paas.sh": SCRIPT})
    with pytest.raises(CodeUnavailable) as caught:
        fetch_code(origin.url, commit, "jobs")
    assert caught.value.message == (
        f"There is no folder “jobs” in {origin.url} at commit {commit[:12]}."
    )


def test_a_folder_without_paas_sh_is_said_so(origin):
    commit = origin.commit({"notebook/paas.sh": SCRIPT, "docs/README.md": "docs\n"})
    with pytest.raises(CodeUnavailable) as caught:
        fetch_code(origin.url, commit, "docs")
    assert caught.value.message == (
        f"The folder “docs” has no paas.sh in {origin.url} at commit {commit[:12]}."
    )


def test_an_unreachable_repository_is_said_so(origin, cache):
    commit = origin.commit({"notebook/paas.sh": SCRIPT})
    shutil.rmtree(origin.bare)
    with pytest.raises(CodeUnavailable) as caught:
        fetch_code(origin.url, commit, "notebook")
    assert caught.value.message == (
        f"The repository {origin.url} cannot be reached, or is not a git repository."
    )
    assert not code_folder(origin.url, commit, "notebook").exists()


def test_nothing_half_made_is_left_when_a_fetch_fails(origin):
    commit = origin.commit({"notebook/paas.sh": SCRIPT})
    with pytest.raises(CodeUnavailable):
        fetch_code(origin.url, commit, "missing")
    assert not code_folder(origin.url, commit, "missing").parent.exists()
    assert files_of(fetch_code(origin.url, commit, "notebook")) == {"paas.sh": SCRIPT}


def test_a_password_never_shows_in_what_is_said(settings, origin):
    settings.CODE_REPOSITORY_CREDENTIALS = {
        "https://127.0.0.1:9/": {"username": "deploy", "password": "pa55-w0rd"}
    }
    with pytest.raises(CodeUnavailable) as caught:
        fetch_code("https://127.0.0.1:9/templates.git", "a" * 40, "notebook")
    assert "pa55-w0rd" not in caught.value.message
    assert caught.value.message.startswith("The repository https://127.0.0.1:9/templates.git ")
