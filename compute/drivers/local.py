"""The ``local`` driver: runs code on the worker's own machine, in a sandbox folder per service.

Each service has a working folder ``<root>/<project>/<service>`` (mode 0o700), kept from deploy
to destroy, so what ``deploy`` leaves there ``destroy`` finds, and removed after a successful
destroy. The runner's own files live in its ``.paas`` folder: the entry (inline code) or
``code/`` (a copy of the fetched repository folder, whose ``paas.sh`` is the entry),
``outputs`` (``PAAS_OUTPUTS``) and ``tmp`` (``TMPDIR``).

The entry runs as ``<entry> deploy`` (or ``destroy``, ``status``) when it can be executed (a
script starting with ``#!``, a ``paas.sh`` committed executable), else as
``/bin/sh <entry> deploy``, in the working folder, in a session of its own, with stdin from
``/dev/null`` and stdout and stderr merged into the log. Its environment is not the worker's:
only ``PATH``, ``LANG`` and ``LC_ALL`` (``C.UTF-8``), ``HOME`` (the working folder) and
``TMPDIR``, then the profile's Extra Configuration (which may override those), then the contract's
``PAAS_*`` variables (which nothing overrides).

**Processes that stay up.** A run is over when its entry process has exited and its output is
closed. A deploy that starts a long-running process (a notebook server, say) must detach it:
start it in a session of its own and point its output elsewhere, e.g.
``setsid nohup server >server.log 2>&1 </dev/null &``. Such a process keeps running after the
deploy, which is how a service stays up, and ``destroy`` stops it. A process the code leaves
holding the output open does not keep the run waiting: two seconds after the entry exits the
driver stops reading (and says so in the log); that process is left alone.

**Time limit and cancelling.** At the run's time limit, or when the caller cancels it, the whole
process group gets SIGTERM, and five seconds later SIGKILL if any of it is left; the run fails
with an error saying so. Processes detached into
sessions of their own are not in the group and are not stopped.

The log is read as it arrives, line by line (UTF-8, undecodable bytes replaced), each line cut at
16 KiB and masked before ``on_line`` sees it. Everything runs in the caller's thread: no thread is
started, so ``on_line`` may use the caller's database connection.

One run at a time per service is the caller's rule (SPEC §8); two runs of one service at once
would share the working folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from compute.drivers import (
    CANCELLED,
    CODE_NOT_FETCHED,
    LaunchSpec,
    LineReader,
    ProbeResult,
    RunResult,
    checked_environment,
    contract_environment,
    line_secrets,
    parse_outputs,
    script_of,
    time_limit_error,
)

__all__ = ["CODE_NOT_FETCHED", "LocalDriver"]

STILL_OPEN = "(a process the code started still holds its output open; no longer reading it)"
OUTPUTS_TOO_LARGE = "(the outputs file is larger than {limit} bytes; only its start was read)"

_CHUNK = 64 * 1024


class LocalDriver:
    """Runs code in ``root/<project>/<service>`` on this machine; see the module's description."""

    #: Seconds between SIGTERM and SIGKILL when a run is stopped at its time limit.
    kill_grace: float = 5.0
    #: Seconds the log is still read after the entry exits, for what its children print.
    output_grace: float = 2.0
    #: A log line longer than this many bytes (UTF-8) is cut, and " …" appended.
    line_limit: int = 16 * 1024
    #: At most this many bytes of the outputs file are read.
    outputs_limit: int = 1024 * 1024
    #: Seconds each probe command may take.
    probe_timeout: float = 10.0

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def workdir(self, project: str, service: str) -> Path:
        """The working folder of a service (not created)."""
        for name in (project, service):
            if not name or name in (".", "..") or "/" in name or "\0" in name:
                raise ValueError(f"{name!r} cannot name a folder")
        return self.root / project / service

    # Running ------------------------------------------------------------------------------

    def run(
        self,
        spec: LaunchSpec,
        on_line: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run the spec's code once; see :meth:`compute.drivers.Driver.run`."""
        script, refused = script_of(spec)
        workdir = self.workdir(spec.project, spec.service)
        if refused:
            return refused
        deadline = time.monotonic() + spec.time_limit

        paas = workdir / ".paas"
        entry, outputs, tmp = paas / spec.code.entry_name, paas / "outputs", paas / "tmp"
        env = self._environment(spec, workdir, tmp, outputs)
        try:
            if not self.root.is_dir():
                self.root.parent.mkdir(parents=True, exist_ok=True)
            for folder in (self.root, self.root / spec.project, workdir, paas, tmp):
                _make_private_folder(folder)
            if spec.action == "status":
                pass  # the code deploy left; a run may be using it
            elif spec.code.folder:
                shutil.rmtree(paas / "code", ignore_errors=True)
                shutil.copytree(spec.code.folder, paas / "code", symlinks=True)
                _write_private_file(outputs, b"", 0o600)
            else:
                _write_private_file(entry, script.encode(), 0o700)
                _write_private_file(outputs, b"", 0o600)
        except OSError as exc:
            return RunResult(
                exit_code=None,
                error=f"The service's working folder could not be prepared: {_reason(exc)}.",
            )

        if spec.code.folder:
            command = [str(entry)] if os.access(entry, os.X_OK) else ["/bin/sh", str(entry)]
        else:
            command = [str(entry)] if script.startswith("#!") else ["/bin/sh", str(entry)]
        try:
            process = _start([*command, spec.action], cwd=workdir, env=env)
        except OSError as exc:
            return RunResult(exit_code=None, error=_start_error(exc, script))

        stopped = self._follow(process, deadline, line_secrets(spec.secrets), on_line, cancel)
        result = RunResult(
            exit_code=process.returncode,
            outputs={} if spec.action == "status" else self._read_outputs(outputs, on_line),
            error={"time": time_limit_error(spec.time_limit), "cancel": CANCELLED}.get(stopped, ""),
        )
        if spec.action == "destroy" and result.ok:
            shutil.rmtree(workdir, ignore_errors=True)
        return result

    def _environment(self, spec: LaunchSpec, workdir: Path, tmp: Path, outputs: Path) -> dict:
        env = {
            "PATH": os.environ.get("PATH") or os.defpath,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(workdir),
            "TMPDIR": str(tmp),
        }
        env.update(contract_environment(spec))
        env.update(PAAS_WORKDIR=str(workdir), PAAS_OUTPUTS=str(outputs))
        return checked_environment(env)

    def _follow(
        self,
        process: subprocess.Popen,
        deadline: float,
        secrets: tuple[str, ...],
        on_line: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> str:
        """Pass the process's log on until it is over; why it was stopped ("time" at the
        deadline, "cancel" when ``cancel`` was set) or "" if it ended by itself."""
        group = process.pid  # a session leader leads its own process group
        lines = LineReader(secrets, self.line_limit, on_line)
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        reading = True
        timed_out = False
        stopped = ""
        kill_at: float | None = None  # while stopping: when SIGKILL is due
        settled_at: float | None = None  # when the entry had exited and nothing was left to stop
        try:
            while True:
                now = time.monotonic()
                if process.returncode is None:
                    process.poll()
                if process.returncode is None and not timed_out:
                    if now >= deadline:
                        stopped = "time"
                    elif cancel is not None and cancel.is_set():
                        stopped = "cancel"
                if stopped and not timed_out:
                    timed_out = True
                    _signal_group(group, signal.SIGTERM)
                    kill_at = now + self.kill_grace
                if kill_at is not None:
                    if process.returncode is not None and not _group_alive(group):
                        kill_at = None
                    elif now >= kill_at:
                        _signal_group(group, signal.SIGKILL)
                        kill_at = None
                if process.returncode is not None and kill_at is None:
                    if settled_at is None:
                        settled_at = now
                    if not reading:
                        break
                    if now >= settled_at + self.output_grace:
                        lines.flush()
                        on_line(STILL_OPEN)
                        break

                wake = [now + 0.1]  # to notice the entry's exit
                if not timed_out:
                    wake.append(deadline)
                if kill_at is not None:
                    wake.append(kill_at)
                if settled_at is not None:
                    wake.append(settled_at + self.output_grace)
                timeout = max(0.0, min(wake) - now)
                if not reading:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout)
                    continue
                if selector.select(timeout):
                    chunk = os.read(process.stdout.fileno(), _CHUNK)
                    if chunk:
                        lines.feed(chunk)
                    else:
                        lines.flush()
                        selector.unregister(process.stdout)
                        reading = False
        except BaseException:
            # on_line failed (or the worker is being stopped): the run must not go on unwatched.
            _signal_group(group, signal.SIGKILL)
            process.wait()
            raise
        finally:
            selector.close()
            process.stdout.close()
        if timed_out:
            _wait_group_gone(group, 2.0)
        return stopped

    def _read_outputs(self, path: Path, on_line: Callable[[str], None]) -> dict[str, str]:
        try:
            with path.open("rb") as file:
                data = file.read(self.outputs_limit + 1)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            on_line(f"(the outputs file could not be read: {_reason(exc)})")
            return {}
        if len(data) > self.outputs_limit:
            on_line(OUTPUTS_TOO_LARGE.format(limit=self.outputs_limit))
            data = data[: self.outputs_limit].rpartition(b"\n")[0]
        return parse_outputs(data.decode("utf-8", errors="replace"))

    # Probing ------------------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        """``uname -a``, and ``nvidia-smi -L`` when there is one: this machine is always there."""
        commands = [["uname", "-a"]]
        if shutil.which("nvidia-smi"):
            commands.append(["nvidia-smi", "-L"])
        env = {"PATH": os.environ.get("PATH") or os.defpath, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        answers = []
        for command in commands:
            try:
                done = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=env,
                    timeout=self.probe_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                answers.append(f"({' '.join(command)} did not answer in time)")
                continue
            except OSError as exc:
                answers.append(f"({' '.join(command)} could not run: {_reason(exc)})")
                continue
            answers.append(done.stdout.decode("utf-8", errors="replace").strip())
        return ProbeResult(reachable=True, output="\n".join(a for a in answers if a))


def _make_private_folder(path: Path) -> None:
    """Create ``path`` with mode 0o700 if it is not there; an existing folder is left as it is."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise
    else:
        path.chmod(0o700)  # whatever the umask


def _write_private_file(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with open(descriptor, "wb") as file:
        os.fchmod(descriptor, mode)
        file.write(data)


def _start(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    # Another thread forking while the entry was open for writing makes exec fail with
    # ETXTBSY for a moment: try again briefly.
    for attempt in range(5):
        try:
            return subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                bufsize=0,
            )
        except OSError as exc:
            if exc.errno != errno.ETXTBSY or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _start_error(exc: OSError, script: str) -> str:
    if exc.errno == errno.ENOENT and script.startswith("#!"):
        interpreter = script[2:].partition("\n")[0].strip()
        return f"The code could not be started: its interpreter “{interpreter}” was not found."
    return f"The code could not be started: {_reason(exc)}."


def _reason(exc: OSError) -> str:
    """The operating system's reason, to go inside a sentence: "permission denied"."""
    return exc.strerror.lower() if exc.strerror else str(exc)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    """Whether a process of the group is still running (zombies awaiting their reaper are not)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after it.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 2 and fields[2] == str(group) and fields[0] not in ("Z", "X"):
            return True
    return False


def _wait_group_gone(group: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while _group_alive(group) and time.monotonic() < end:
        time.sleep(0.02)
