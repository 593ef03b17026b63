"""The ``ssh`` driver: runs code on a compute instance reached over SSH (paramiko).

**Trust.** The host must present one of the keys stored for it: a key of a type not stored is
an unknown host key, another key of a stored type a changed one, and both refuse the connection
before anything is sent. Nothing is ever trusted on first use: :func:`fetch_host_key` only
reports what the host offers, for a person to confirm. The portal signs in with the instance's
private key, and with nothing else (no agent, no key files, no password).

**The working folder** is ``~/.paas-studio/services/<project>/<service>/`` on the instance
(mode 0o700), kept from deploy to destroy and removed after a successful destroy. Before each
deploy or destroy the code is copied into its ``.paas`` folder (a tar stream on the command's
input): the inline script as ``.paas/entry``, or the fetched repository folder as
``.paas/code/``, whose ``paas.sh`` is the entry; ``status`` runs the code already there.
``.paas/outputs`` is ``PAAS_OUTPUTS`` and ``.paas/tmp`` is ``TMPDIR``.

**The environment** never travels on a command line: the command sshd runs is a fixed script
naming only the working folder and the action. The variables (the contract's ``PAAS_*``, the
resolved inputs, Extra Configuration, ``LANG``) follow on its standard input, quoted for the
shell, and are exported by the shell itself, so they are in no process's arguments and in no
file. The login's own environment (``PATH``, ``HOME`` …) is kept: the instance is the user's
machine, and its tools and caches are where its login finds them.

**Running.** The entry runs under coreutils' ``timeout`` in a process group of its own, with
stderr merged into stdout and stdin from ``/dev/null``; its log is read as it arrives. At the
time limit ``timeout`` stops the whole group on the instance itself (SIGTERM, SIGKILL five
seconds later), so the limit holds even if the portal loses the connection. Cancelling, or a
connection that stays silent past the limit, stops the group over a second channel. As with the
local driver, a long-running process must be detached by ``deploy`` (``setsid nohup … &``), and a
process left holding the output open stops the reading two seconds after the entry exits.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import shlex
import socket
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from compute.drivers import (
    CANCELLED,
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

__all__ = [
    "ConnectionProblem",
    "FetchedHostKey",
    "SshDriver",
    "fetch_host_key",
    "known_keys",
]

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CHUNK = 64 * 1024
STILL_OPEN = "(a process the code started still holds its output open; no longer reading it)"
OUTPUTS_TOO_LARGE = "(the outputs file is larger than {limit} bytes; only its start was read)"
NO_TIMEOUT = 125  # what the runner exits with when the instance has no coreutils timeout


class ConnectionProblem(Exception):
    """The instance could not be reached, or not trusted: ``kind`` and a sentence for people.

    Kinds: ``refused``, ``timeout``, ``unreachable``, ``unknown_host_key``, ``changed_host_key``,
    ``authentication`` and ``protocol``.
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class FetchedHostKey:
    """What a host offered: its key as a known_hosts line has it, and the key's fingerprint."""

    key: str
    fingerprint: str
    key_type: str


def known_keys(text: str) -> list[paramiko.PKey]:
    """The public keys of known_hosts lines (``[markers] [hosts] type base64 [comment]``)."""
    keys = []
    for line in text.splitlines():
        words = line.split()
        for at, word in enumerate(words[:-1]):
            if word.startswith(("ssh-", "ecdsa-", "sk-")):
                with contextlib.suppress(paramiko.SSHException, ValueError):
                    keys.append(paramiko.PKey.from_type_string(word, _b64(words[at + 1])))
                break
    return keys


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _private_key(text: str) -> paramiko.PKey:
    """The private key of an OpenSSH or PEM text, whatever its type."""
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise ConnectionProblem(
                "authentication",
                "The private key is protected by a passphrase; store a key without one.",
            ) from None
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise ConnectionProblem("authentication", "The stored private key could not be read.")


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _open_socket(host: str, port: int, timeout: float) -> socket.socket:
    where = _where(host, port)
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        raise ConnectionProblem(
            "refused",
            f"{where} refused the connection: no SSH server listens on that port, or a "
            "firewall turns connections away.",
        ) from None
    except TimeoutError:
        raise ConnectionProblem(
            "timeout",
            f"{where} did not answer within {timeout:g} seconds: the host is down, or its "
            "network does not let the connection through.",
        ) from None
    except socket.gaierror:
        raise ConnectionProblem(
            "unreachable", f"The host name {host} could not be resolved."
        ) from None
    except OSError as exc:
        reason = exc.strerror.lower() if exc.strerror else str(exc)
        raise ConnectionProblem("unreachable", f"{where} could not be reached: {reason}.") from None


def _handshake(
    host: str, port: int, timeout: float, preferred: list[str] | None = None
) -> paramiko.Transport:
    """An SSH transport to ``host:port`` whose key exchange is done (the key not yet judged)."""
    sock = _open_socket(host, port, timeout)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
    if preferred:
        options = transport.get_security_options()
        offered = list(options.key_types)
        options.key_types = [t for t in offered if t in preferred] + [
            t for t in offered if t not in preferred
        ]
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        transport.close()
        if isinstance(exc, TimeoutError) or "timeout" in str(exc).lower():
            raise ConnectionProblem(
                "timeout",
                f"{_where(host, port)} accepted the connection but did not answer as an SSH "
                f"server within {timeout:g} seconds.",
            ) from None
        raise ConnectionProblem(
            "protocol",
            f"{_where(host, port)} did not complete an SSH handshake ({exc or 'closed'}).",
        ) from None
    return transport


def _algorithms(key: paramiko.PKey) -> list[str]:
    """The host key algorithms that present ``key``'s type."""
    name = key.get_name()
    if name == "ssh-rsa":
        return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
    return [name]


def fetch_host_key(host: str, port: int, timeout: float) -> FetchedHostKey:
    """The key ``host:port`` offers (ed25519 preferred), for a person to confirm; trusts nothing.
    ConnectionProblem if the host cannot be reached."""
    transport = _handshake(host, port, timeout, preferred=["ssh-ed25519"])
    try:
        key = transport.get_remote_server_key()
    finally:
        transport.close()
    return FetchedHostKey(
        key=f"{key.get_name()} {key.get_base64()}",
        fingerprint=key.fingerprint,
        key_type=key.get_name(),
    )


class SshDriver:
    """Runs code on one SSH compute instance; see the module's description."""

    #: Seconds between SIGTERM and SIGKILL when a run is stopped (by ``timeout`` or a cancel).
    kill_grace: int = 5
    #: Seconds the log is still read after the entry exits, for what its children print.
    output_grace: float = 2.0
    #: Seconds past the time limit (and the grace) after which a silent connection is given up.
    silence_grace: float = 15.0
    #: A log line longer than this many bytes (UTF-8) is cut, and " …" appended.
    line_limit: int = 16 * 1024
    #: At most this many bytes of the outputs file are read.
    outputs_limit: int = 1024 * 1024

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        private_key: str,
        host_key: str,
        connect_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.private_key = private_key
        self.host_key = host_key
        self.connect_timeout = connect_timeout

    # Connecting ---------------------------------------------------------------------------

    def connect(self) -> paramiko.Transport:
        """An authenticated transport to the instance, whose host key matched a stored one."""
        stored = known_keys(self.host_key)
        if not stored:
            raise ConnectionProblem(
                "unknown_host_key",
                "No host key is stored for this instance: fetch its key and confirm it first.",
            )
        preferred = [algorithm for key in stored for algorithm in _algorithms(key)]
        transport = _handshake(self.host, self.port, self.connect_timeout, preferred)
        try:
            self._check_host_key(transport.get_remote_server_key(), stored)
            key = _private_key(self.private_key)
            try:
                transport.auth_publickey(self.username, key)
            except paramiko.BadAuthenticationType as exc:
                allowed = ", ".join(exc.allowed_types) or "nothing"
                raise ConnectionProblem(
                    "authentication",
                    f"The host does not take key authentication for {self.username} (it "
                    f"allows {allowed}).",
                ) from None
            except paramiko.AuthenticationException:
                raise ConnectionProblem(
                    "authentication",
                    f"The host refused the private key for {self.username}: add its public key "
                    f"to ~{self.username}/.ssh/authorized_keys there, or store the right key.",
                ) from None
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectionProblem(
                    "protocol", f"The host closed the connection while signing in ({exc})."
                ) from None
        except BaseException:
            transport.close()
            raise
        return transport

    def _check_host_key(self, offered: paramiko.PKey, stored: list[paramiko.PKey]) -> None:
        if any(offered == key for key in stored):
            return
        same_type = [key for key in stored if key.get_name() == offered.get_name()]
        where = _where(self.host, self.port)
        if same_type:
            raise ConnectionProblem(
                "changed_host_key",
                f"The host key of {where} has changed: it offered {offered.fingerprint}, but "
                f"the stored key is {same_type[0].fingerprint}. If the host was reinstalled, "
                "fetch its key again and confirm it; otherwise the connection may be "
                "intercepted. Nothing was sent.",
            )
        types = ", ".join(sorted({key.get_name() for key in stored}))
        raise ConnectionProblem(
            "unknown_host_key",
            f"{where} offered a {offered.get_name()} host key ({offered.fingerprint}), but only "
            f"a {types} key is stored for it. Fetch its key and confirm it to trust it. Nothing "
            "was sent.",
        )

    # Running ------------------------------------------------------------------------------

    def workdir(self, project: str, service: str) -> str:
        """The working folder of a service, relative to the login's home."""
        for name in (project, service):
            if not _NAME.fullmatch(name or ""):
                raise ValueError(f"{name!r} cannot name a folder")
        return f".paas-studio/services/{project}/{service}"

    def run(
        self,
        spec: LaunchSpec,
        on_line: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run the spec's code once on the instance; see :meth:`compute.drivers.Driver.run`."""
        script, refused = script_of(spec)
        workdir = self.workdir(spec.project, spec.service)
        if refused:
            return refused
        variables = _exports(_environment(spec))
        payload = b"" if spec.action == "status" else _code_archive(spec, script)

        try:
            transport = self.connect()
        except ConnectionProblem as problem:
            return RunResult(exit_code=None, error=str(problem), problem=problem.kind)
        try:
            prepared = (
                _Done(status=0, data=b"")
                if spec.action == "status"  # the code deploy left; a run may be using it
                else _call(transport, _prepare_command(workdir), payload, self.connect_timeout)
            )
            if prepared.status != 0:
                return RunResult(
                    exit_code=None,
                    error="The service's working folder could not be prepared on the instance: "
                    f"{prepared.text or f'exit status {prepared.status}'}.",
                )
            return self._run_entry(transport, spec, workdir, variables, on_line, cancel)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            return RunResult(
                exit_code=None,
                error=f"The connection to the instance was lost ({exc or 'closed'}).",
                problem="unreachable",
            )
        finally:
            transport.close()

    def _run_entry(
        self,
        transport: paramiko.Transport,
        spec: LaunchSpec,
        workdir: str,
        variables: bytes,
        on_line: Callable[[str], None],
        cancel: threading.Event | None,
    ) -> RunResult:
        limit = max(1, round(spec.time_limit))
        command = _run_command(workdir, spec.code.entry_name, spec.action, limit, self.kill_grace)
        channel = transport.open_session(timeout=self.connect_timeout)
        channel.set_combine_stderr(True)
        channel.exec_command(command)
        channel.sendall(variables)
        channel.shutdown_write()
        channel.settimeout(0.1)
        lines = LineReader(line_secrets(spec.secrets), self.line_limit, on_line)
        started = time.monotonic()
        give_up = started + limit + self.kill_grace + self.silence_grace
        stopped = ""
        exited_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                if not stopped and cancel is not None and cancel.is_set():
                    stopped = "cancel"
                    self._stop_group(transport, workdir)
                if not stopped and now >= give_up:
                    stopped = "time"
                    self._stop_group(transport, workdir)
                    break
                if exited_at is None and channel.exit_status_ready():
                    exited_at = now
                if exited_at is not None and now >= exited_at + self.output_grace:
                    lines.flush()
                    on_line(STILL_OPEN)
                    break
                try:
                    chunk = channel.recv(_CHUNK)
                except TimeoutError:
                    continue
                if not chunk:
                    lines.flush()
                    break
                lines.feed(chunk)
        except BaseException:
            # on_line failed (or the worker is being stopped): stop the run on the instance.
            self._stop_group(transport, workdir)
            raise
        answered = stopped != "time" and channel.status_event.wait(self.connect_timeout)
        status = channel.exit_status if answered else None
        channel.close()
        elapsed = time.monotonic() - started
        if status == NO_TIMEOUT and not stopped:
            return RunResult(
                exit_code=None,
                error="The instance has no coreutils timeout command, which runs need.",
            )
        if status in (124, 137) and elapsed >= limit - 0.5 and not stopped:
            stopped = "time"  # the instance's own timeout stopped it
        if stopped == "cancel":
            error = CANCELLED
        elif stopped == "time":
            error = time_limit_error(spec.time_limit)
        else:
            error = ""
        if status is not None and status > 128 and stopped:
            status = -(status - 128)  # killed by a signal, as the local driver reports it
        result = RunResult(
            exit_code=status,
            outputs={} if spec.action == "status" else self._outputs(transport, workdir, on_line),
            error=error,
        )
        if spec.action == "destroy" and result.ok:
            _call(transport, f"rm -rf -- {_home_path(workdir)}", b"", self.connect_timeout)
        return result

    def _stop_group(self, transport: paramiko.Transport, workdir: str) -> None:
        """Stop the run's process group on the instance: SIGTERM, then SIGKILL after the grace."""
        pid_file = _home_path(f"{workdir}/.paas/pid")
        command = (
            f"pid=$(cat {pid_file} 2>/dev/null) || exit 0; "
            f'kill -TERM -- "-$pid" 2>/dev/null || exit 0; '
            f"i=0; while [ $i -lt {self.kill_grace * 10} ] && "
            f'kill -0 -- "-$pid" 2>/dev/null; do sleep 0.1; i=$((i+1)); done; '
            f'kill -KILL -- "-$pid" 2>/dev/null; exit 0'
        )
        # If this fails, the instance's own timeout still stops the group at the limit.
        with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
            _call(transport, command, b"", self.kill_grace + self.connect_timeout)

    def _outputs(
        self, transport: paramiko.Transport, workdir: str, on_line: Callable[[str], None]
    ) -> dict[str, str]:
        path = _home_path(f"{workdir}/.paas/outputs")
        done = _call(
            transport,
            f"head -c {self.outputs_limit + 1} {path} 2>/dev/null",
            b"",
            self.connect_timeout,
            limit=self.outputs_limit + 1,
        )
        data = done.data
        if len(data) > self.outputs_limit:
            on_line(OUTPUTS_TOO_LARGE.format(limit=self.outputs_limit))
            data = data[: self.outputs_limit].rpartition(b"\n")[0]
        return parse_outputs(data.decode("utf-8", errors="replace"))

    # Probing ------------------------------------------------------------------------------

    def probe(self) -> ProbeResult:
        """``uname -a``, and ``nvidia-smi -L`` when the instance has it."""
        try:
            transport = self.connect()
        except ConnectionProblem as problem:
            return ProbeResult(reachable=False, output=str(problem), problem=problem.kind)
        try:
            done = _call(
                transport,
                "uname -a; if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi -L; fi",
                b"",
                self.connect_timeout,
            )
        except (paramiko.SSHException, EOFError, OSError) as exc:
            return ProbeResult(
                reachable=False,
                output=f"The connection to the instance was lost ({exc}).",
                problem="unreachable",
            )
        finally:
            transport.close()
        return ProbeResult(reachable=True, output=done.text)


@dataclass(frozen=True)
class _Done:
    status: int | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace").strip()


def _call(
    transport: paramiko.Transport,
    command: str,
    stdin: bytes,
    timeout: float,
    *,
    limit: int = 64 * 1024,
) -> _Done:
    """Run a short command (stderr merged), give it ``stdin``, and collect what it prints."""
    channel = transport.open_session(timeout=timeout)
    try:
        channel.set_combine_stderr(True)
        channel.settimeout(timeout)
        channel.exec_command(command)
        if stdin:
            channel.sendall(stdin)
        channel.shutdown_write()
        data = bytearray()
        while chunk := channel.recv(_CHUNK):
            if len(data) < limit:
                data += chunk[: limit - len(data)]
        return _Done(status=channel.recv_exit_status(), data=bytes(data))
    finally:
        channel.close()


def _home_path(relative: str) -> str:
    """A path under the login's home, quoted for the shell."""
    return f'"$HOME"/{shlex.quote(relative)}'


def _prepare_command(workdir: str) -> str:
    """Make the working folder, unpack the code (the tar stream on stdin) into it and empty
    the outputs file."""
    paas = _home_path(f"{workdir}/.paas")
    return (
        f"umask 077 && mkdir -p {paas}/tmp && chmod 700 {_home_path(workdir)} "
        f"&& rm -rf {paas}/code {paas}/entry && tar -xof - -C {paas} && : > {paas}/outputs"
    )


def _run_command(workdir: str, entry: str, action: str, limit: int, grace: int) -> str:
    """The fixed script sshd runs: it reads the variables on stdin and execs the entry.

    ``$$`` is the shell's pid; ``exec timeout`` keeps it, and timeout makes it the process
    group's id, which ``.paas/pid`` records for stopping the group."""
    folder = _home_path(workdir)
    runner = (
        f"cd {folder} || exit 125\n"
        'here=$(pwd); TMPDIR="$here/.paas/tmp"; export TMPDIR\n'
        # The variables (Extra Configuration may set TMPDIR); the contract's paths win over them.
        'variables=$(cat) || exit 125\neval "$variables"\n'
        'PAAS_WORKDIR=$here; PAAS_OUTPUTS="$here/.paas/outputs"; export PAAS_WORKDIR PAAS_OUTPUTS\n'
        f"entry=.paas/{entry}\n"
        "command -v timeout >/dev/null 2>&1 || exit 125\n"
        "echo $$ > .paas/pid\n"
        "exec 2>&1 </dev/null\n"
        f'if [ -x "$entry" ]; then exec timeout -k {grace} {limit} "$entry" {action}; '
        f'else exec timeout -k {grace} {limit} /bin/sh "$entry" {action}; fi\n'
    )
    return f"exec /bin/sh -c {shlex.quote(runner)}"


def _environment(spec: LaunchSpec) -> dict[str, str]:
    """The variables the code gets on top of the login's own (the runner sets the paths)."""
    return checked_environment({"LANG": "C.UTF-8", **contract_environment(spec)})


def _exports(env: dict[str, str]) -> bytes:
    """``export NAME='value'`` lines for the shell to evaluate."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items()).encode()


def _code_archive(spec: LaunchSpec, script: str) -> bytes:
    """A tar stream of the code: ``entry`` (inline, mode 0o700) or ``code/`` (the folder)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        if spec.code.folder:
            archive.add(Path(spec.code.folder), arcname="code", filter=_private)
        else:
            data = script.encode()
            info = tarfile.TarInfo("entry")
            info.size, info.mode, info.mtime = len(data), 0o700, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Folders and executables 0o700, other files 0o600, owned by whoever unpacks them."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o700 if info.isdir() or info.mode & 0o100 else 0o600
    return info
