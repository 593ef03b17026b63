"""A template version's repository code on this machine, for a run (SPEC §8, the code contract).

:func:`fetch_code` gives the folder ``path`` of a git repository at one commit as a local folder,
cached per commit under the ``COMPUTE_CODE_CACHE`` setting::

    <cache>/<sha256(repository)[:16]>/mirror.git            the repository's bare mirror
    <cache>/<sha256(repository)[:16]>/<commit>/<path, quoted>   the folder at that commit

(the path is quoted into one name, ``a%2Fb`` for ``a/b`` and ``@root`` for the repository's
root, so that one folder's copy never holds another's). A commit never changes, so a folder once
fetched is used as it is: a later fetch of it runs no git and needs no repository. git runs
through :mod:`profiles.repositories`, which owns the mirror and the environment git runs in.

Two processes or threads fetching one commit at once both get a complete folder: each builds
its copy in a temporary folder beside the final one and renames it into place; the one that
comes second finds the folder there, removes its copy and uses the folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import quote

from profiles.repositories import (
    FULL_COMMIT,
    Mirror,
    RepositoryProblem,
    normal_path,
    repository_folder,
    resolve_commit,
)


class CodeUnavailable(Exception):
    """The code cannot be fetched; ``message`` says why in one plain sentence for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def code_folder(repository: str, commit: str, path: str) -> Path:
    """Where the folder ``path`` of ``repository`` at ``commit`` is kept on this machine."""
    name = quote(path, safe="") if path else "@root"
    return repository_folder(repository) / commit / name


def fetch_code(repository: str, commit: str, path: str) -> Path:
    """A local folder holding exactly the files of ``path`` in ``repository`` at ``commit``.

    ``commit`` is the full commit id a template version pinned when it was activated. Anything
    else (a service launched before versions pinned commits carries the branch or tag name) is
    resolved first through :func:`profiles.repositories.resolve_commit`, which asks the
    repository where that name is now. Files keep the modes git stores (``paas.sh`` committed
    executable stays executable). The folder is the cache's: copy it, never change it.

    Raises CodeUnavailable when the repository cannot be reached, has no such commit, or the
    commit has no folder ``path`` or no ``paas.sh`` in it.
    """
    try:
        path = normal_path(path)
        commit = (commit or "").strip()
        if FULL_COMMIT.fullmatch(commit.lower()):
            commit = commit.lower()
        else:
            commit = resolve_commit(repository, commit, path)
        folder = code_folder(repository, commit, path)
        if folder.is_dir():
            return folder
        with Mirror.opened(repository) as mirror:
            if folder.is_dir():  # fetched while this one waited for the mirror
                return folder
            mirror.ensure_commit(commit)
            mirror.check_folder(commit, path)
            mirror.keep(commit)
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
                built = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
            except OSError as error:
                raise CodeUnavailable(
                    f"The code could not be stored on this machine: {_reason(error)}."
                ) from None
            try:
                _build(mirror, commit, path, built)
            except BaseException:
                shutil.rmtree(built, ignore_errors=True)
                raise
    except RepositoryProblem as problem:
        raise CodeUnavailable(problem.message) from None
    return _install(built, folder)


def _build(mirror: Mirror, commit: str, path: str, into: Path) -> None:
    """Unpack the folder's files at ``commit`` into the (empty) folder ``into``."""
    archive = into.with_name(into.name + ".tar")
    try:
        mirror.archive(commit, path, archive)
        with tarfile.open(archive) as tar:
            # "tar": names stay inside the folder, no device files, no setuid bits; symbolic
            # links are kept as git stores them.
            tar.extractall(into, filter="tar")
        into.chmod(0o755)
    except (OSError, tarfile.TarError) as error:
        raise CodeUnavailable(
            f"The code could not be unpacked on this machine: {_reason(error)}."
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            archive.unlink()


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _install(built: Path, folder: Path) -> Path:
    """Rename the complete copy ``built`` to ``folder``; if another got there first, use theirs."""
    try:
        os.rename(built, folder)
    except OSError as error:
        shutil.rmtree(built, ignore_errors=True)
        if not folder.is_dir():
            raise CodeUnavailable(
                f"The code could not be stored on this machine: {_reason(error)}."
            ) from None
    return folder
