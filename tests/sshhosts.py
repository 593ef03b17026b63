"""Real OpenSSH hosts for tests: one ``sshd`` per host, each in a network namespace of its own.

``ssh_hosts(count, root)`` starts ``count`` hosts (``host-a``, ``host-b``, …) and yields them as
``SshHost`` objects; tests register them as SSH compute instances (``address``, ``port``,
``username``, ``private_key``, ``host_key``) and look on the host afterwards (``home``, ``run``,
``process_command_lines``). On leaving the ``with`` block, even on a failure or a
KeyboardInterrupt, every process started inside a host is killed and the namespaces and links are
removed. ``root`` is the test's tmp folder: keys, configurations, logs and the homes live there.

How a host is made (as root, the normal case here and in CI):

* Network: ``ip netns add paas-ssh-<pid>-<n>`` and a veth pair; the namespace's end is called
  ``eth0`` and has 10.231.X.2/30, the root namespace's end (``psh<pid>-<n>``) keeps 10.231.X.1/30,
  so the portal, in the root namespace, connects to 10.231.X.2. X is distinct per host (taken
  from the pid, skipping any 10.231.X.* already on this machine, under a lock so that concurrent
  runs do not collide). Neighbour entries are static (no ARP), so ``link_down`` (the namespace's
  end set down) makes the host silent: connects and reads time out, nothing answers, no "no route
  to host". The root end is never set down: its connected route would go and traffic to
  10.231.X.2 would leave through the default route.
* Home: each host has a private mount namespace (and UTS namespace: ``hostname`` is the host's
  name) held by a ``sleep infinity`` process started as
  ``ip netns exec NS unshare --mount --uts --propagation private sh -c 'mount --bind …'``: the
  login user's home (``/root`` here) is a bind mount of ``<root>/<name>/home``, and ``/var/log``
  of ``<root>/<name>/var-log`` (so the logins' wtmp/lastlog records stay there too). The mounts
  exist only in that namespace, vanish with its last process, and never propagate to the machine,
  so a folder made in ``~`` on host A is not in host B's home nor in the real ``/root``.
  This was chosen over throwaway system users (useradd/userdel) because it changes nothing on
  the machine (no /etc/passwd entries to leave behind if a run is killed) and keeps the login
  user the one who runs the tests. ``sshd`` and ``run()`` enter the holder's namespaces with
  ``nsenter -t <holder pid> -m -u -n``, so the home stays the same across ``stop_sshd`` /
  ``start_sshd``; ``SshHost.home`` is the same folder as seen from this machine.
* sshd: ``/usr/sbin/sshd -D -f <root>/<name>/sshd_config -E <root>/<name>/sshd.log`` with its own
  generated ed25519 host key, ListenAddress 10.231.X.2:2222, public-key authentication only
  (AuthorizedKeysFile an absolute path in tmp), StrictModes no, UsePAM no, LogLevel VERBOSE.
  sshd insists on its privilege separation directory ``/run/sshd`` (root-owned, not group or
  world writable); it is created when missing and then left, as the package's tmpfiles would.
* Teardown: SIGKILL, until none is left (bounded), every process in the host's network or mount
  namespace, descended from its sshd or namespace holder, or carrying the marker variable that
  its sessions get (``SetEnv PAAS_STUDIO_SSHHOST=…``); then ``ip link del`` of the root end
  (synchronous, unlike ``ip netns delete``, which frees the namespace's links later) and
  ``ip netns delete``. sshd and the holder also die with the test process (PR_SET_PDEATHSIG);
  namespaces and links that a SIGKILLed run left are removed by the next run (their pid is in
  their names). Only the empty lock file ``/run/lock/paas-studio-sshhosts.lock`` stays.

Pid namespaces are not separated: ``process_command_lines()`` lists the whole machine's
processes (pass ``this_host_only=True`` to keep those in the host's namespaces).

Loopback fallback: when ``ip netns add`` fails (not root, no CAP_SYS_ADMIN/CAP_NET_ADMIN), each
``sshd`` listens on 127.0.0.1 on a free high port and ``namespaced`` is False; ``ssh_hosts``
warns once ("network namespaces unavailable: sshd on loopback ports") and ``link_down`` skips
the test ("needs network namespaces"). The homes are still separate: by the private mount
namespace when ``unshare --mount`` works, otherwise sshd sets ``HOME`` to the host's home
(``SetEnv``) and a ``ForceCommand`` wrapper ``cd``s there before running the command (the passwd
home is then still the real one, so only ``~``/``$HOME`` paths are isolated). The login user is
always the user running the tests (``PermitRootLogin prohibit-password`` when that is root).

SSHHOSTS_LOOPBACK=1 forces the fallback (to test it on a machine that has namespaces).

When ``/usr/sbin/sshd`` is missing the test is skipped, or fails if REQUIRE_SSH_TESTS=1.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import itertools
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVER = Path("/usr/lib/openssh/sftp-server")
SSH_PORT = 2222
SUBNET_PREFIX = "10.231"
NETNS_PREFIX = "paas-ssh-"
VETH_PREFIX = "psh"
LOCK_FILE = Path("/run/lock/paas-studio-sshhosts.lock")
MARKER_VARIABLE = "PAAS_STUDIO_SSHHOST"
START_TIMEOUT = 10.0
KILL_TIMEOUT = 5.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_counter = itertools.count(1)
_warned_loopback = False
_netns_usable: bool | None = None


class SshHostError(RuntimeError):
    """A host could not be set up (the message carries sshd's log or the failing command)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the kernel's pick of an ephemeral port)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _require_sshd() -> None:
    missing = [str(SSHD)] if not SSHD.exists() else []
    missing += [
        tool for tool in ("ssh-keygen", "ip", "nsenter", "unshare") if not shutil.which(tool)
    ]
    if not missing:
        return
    reason = (
        f"SSH host tests need OpenSSH's server: {', '.join(missing)} missing "
        "(apt-get install openssh-server iproute2; .ci/run installs them)"
    )
    if os.environ.get("REQUIRE_SSH_TESTS") == "1":
        pytest.fail(f"{reason}; REQUIRE_SSH_TESTS=1 makes this a failure", pytrace=False)
    pytest.skip(reason)


def _set_parent_death_signal() -> None:
    """In the child, before exec: die with the test process even if it is killed outright."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _cmd(*args: str, timeout: float = 10, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise SshHostError(
            f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def _keygen(path: Path, comment: str) -> tuple[str, str]:
    """Generate an ed25519 key at ``path``: (OpenSSH private key text, "ssh-ed25519 AAAA…")."""
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    _cmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
    public = path.with_name(path.name + ".pub").read_text().split()
    return path.read_text(), f"{public[0]} {public[1]}"


def _ns_inode(pid: int | str, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _ancestors(pid: int) -> list[int]:
    """``pid`` and its parents, up to (not including) pid 1."""
    chain = []
    while pid > 1 and len(chain) < 64:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as stat:
                pid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return chain


def _read_cmdline(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return marker in environ.read().split(b"\0")
    except OSError:
        return False


def _kill_matching(match, timeout: float = KILL_TIMEOUT) -> None:
    """SIGKILL every process (but this one) for which ``match(pid)`` holds, until none is left."""
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        found = [pid for pid in _pids() if pid != me and _alive(pid) and match(pid)]
        if not found or time.monotonic() > deadline:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _wait_for_sshd(host: SshHost, timeout: float = START_TIMEOUT) -> None:
    """Wait until sshd answers with its banner on (address, port); fail with its log otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if host._sshd is None or host._sshd.poll() is not None:
            break
        try:
            with socket.create_connection((host.address, host.port), timeout=0.5) as sock:
                sock.settimeout(1)
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError as error:
            last_error = error
        time.sleep(0.05)
    log = host._log.read_text(errors="replace") if host._log.exists() else "(no log)"
    raise SshHostError(
        f"sshd of {host.name} did not answer on {host.address}:{host.port} within {timeout:.0f} s "
        f"(last error: {last_error!r}, exit status: {host._sshd.poll() if host._sshd else None})"
        f"\n--- {host._log}\n{log}"
    )


@dataclass
class SshHost:
    name: str
    address: str
    port: int
    username: str
    private_key: str
    host_key: str
    home: Path
    namespaced: bool
    # Internals.
    _dir: Path = field(default=Path(), repr=False)
    _mode: str = field(default="netns", repr=False)  # "netns", "mount" (loopback) or "env"
    _netns: str | None = field(default=None, repr=False)
    _veth: str | None = field(default=None, repr=False)
    _netns_inode: int | None = field(default=None, repr=False)
    _mount_inode: int | None = field(default=None, repr=False)
    _home_inside: str = field(default="", repr=False)
    _holder: subprocess.Popen | None = field(default=None, repr=False)
    _sshd: subprocess.Popen | None = field(default=None, repr=False)
    _children: list[subprocess.Popen] = field(default_factory=list, repr=False)
    _marker: str = field(default="", repr=False)

    @property
    def _config(self) -> Path:
        return self._dir / "sshd_config"

    @property
    def _log(self) -> Path:
        return self._dir / "sshd.log"

    @property
    def _host_key_file(self) -> Path:
        return self._dir / "ssh_host_ed25519_key"

    def _enter(self) -> list[str]:
        """The command prefix that runs a program inside the host's namespaces."""
        if self._holder is None:
            return []
        flags = ["-m", "-u"] + (["-n"] if self._netns else [])
        return ["nsenter", "-t", str(self._holder.pid), *flags, "--"]

    def log(self) -> str:
        """sshd's log so far (LogLevel VERBOSE): logins, refused keys, disconnects."""
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def run(self, command: str, timeout: float = 10) -> subprocess.CompletedProcess:
        """Run a shell command on the host: in its namespaces, as root (the user running the
        tests), in and with HOME set to its home, in a clean environment; text output, not
        checked. Returns when the shell exits, even if it left background processes running
        (the output goes through files, not pipes). Raises subprocess.TimeoutExpired after
        ``timeout`` seconds (the shell is killed; what it started is killed at teardown)."""
        user = pwd.getpwuid(os.getuid()).pw_name
        environment = {
            "PATH": PATH,
            "HOME": self._home_inside,
            "USER": user,
            "LOGNAME": user,
            "LANG": "C.UTF-8",
            "SHELL": "/bin/sh",
            MARKER_VARIABLE: self._marker,
        }
        arguments = [*self._enter(), "/bin/sh", "-c", f'cd "$HOME" && {{\n{command}\n}}']
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(
                arguments, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=environment
            )

            def output(file) -> str:
                file.seek(0)
                return file.read().decode(errors="replace")

            try:
                returncode = process.wait(timeout=timeout)
            except BaseException as error:
                process.kill()
                process.wait()
                if isinstance(error, subprocess.TimeoutExpired):
                    error.output, error.stderr = output(stdout), output(stderr)
                raise
            out, err = output(stdout), output(stderr)
            return subprocess.CompletedProcess(arguments, returncode, out, err)

    def process_command_lines(self, *, this_host_only: bool = False) -> list[str]:
        """Every process's command line (/proc/*/cmdline, NULs as spaces; kernel threads left
        out). Pid namespaces are not separated, so this is the WHOLE machine's list: every host's
        and the test run's own processes too. With ``this_host_only``, only the processes in this
        host's network (or, on loopback, mount) namespace, or started by its sshd."""
        lines = []
        for pid in _pids():
            if this_host_only and not self._belongs(pid):
                continue
            line = _read_cmdline(pid)
            if line:
                lines.append(line)
        return lines

    def _belongs(self, pid: int) -> bool:
        """Is ``pid`` in the host's network or mount namespace, started by one of its processes
        (sshd, the namespace holder), or marked by the variable that its sessions have?"""
        if self._netns_inode is not None and _ns_inode(pid, "net") == self._netns_inode:
            return True
        if self._mount_inode is not None and _ns_inode(pid, "mnt") == self._mount_inode:
            return True
        # sshd writes its process title over its environment: know its sessions by ancestry.
        ours = {child.pid for child in self._children if child.poll() is None}
        if ours and not ours.isdisjoint(_ancestors(pid)):
            return True
        return bool(self._marker) and _has_marker(pid, f"{MARKER_VARIABLE}={self._marker}".encode())

    def link_down(self) -> None:
        """Set the host's end of the link down: the host goes silent (connects and reads time
        out; nothing is refused or reset). Skips the test on the loopback fallback."""
        if not self.namespaced:
            pytest.skip("needs network namespaces")
        _cmd("ip", "-n", self._netns, "link", "set", "eth0", "down")

    def link_up(self) -> None:
        """Set the host's end of the link back up (established connections carry on)."""
        if not self.namespaced:
            pytest.skip("needs network namespaces")
        _cmd("ip", "-n", self._netns, "link", "set", "eth0", "up")

    def stop_sshd(self) -> None:
        """Stop the listening sshd: connects are refused. Sessions already open stay, like a
        stopped ssh service's."""
        if self._sshd is not None:
            if self._sshd.poll() is None:
                self._sshd.kill()
            self._sshd.wait(timeout=KILL_TIMEOUT)
            self._sshd = None

    def start_sshd(self) -> None:
        """Start sshd (again) and wait until it answers."""
        if self._sshd is not None and self._sshd.poll() is None:
            return
        self._sshd = subprocess.Popen(
            [*self._enter(), str(SSHD), "-D", "-f", str(self._config), "-E", str(self._log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_set_parent_death_signal,
            env={"PATH": PATH, "LANG": "C.UTF-8", MARKER_VARIABLE: self._marker},
        )
        self._children.append(self._sshd)
        _wait_for_sshd(self)

    def new_host_key(self) -> str:
        """Replace the host key with a freshly generated one, restart sshd and return the new key
        as a known_hosts line has it (without the host name)."""
        self.stop_sshd()
        _, self.host_key = _keygen(self._host_key_file, f"{self.name} host key")
        self.start_sshd()
        return self.host_key

    def other_private_key(self) -> str:
        """A freshly generated private key that the host does NOT authorize."""
        path = self._dir / f"unauthorized_{secrets.token_hex(4)}"
        private_key, _ = _keygen(path, "not authorized")
        return private_key

    # Setup and teardown.

    def _write_config(self) -> None:
        lines = [
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {self._host_key_file}",
            f"PidFile {self._dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self._dir / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            f"PermitRootLogin {'prohibit-password' if os.getuid() == 0 else 'no'}",
            f"AllowUsers {self.username}",
            "StrictModes no",
            "UsePAM no",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "LogLevel VERBOSE",
            "MaxStartups 100:30:200",
            "MaxSessions 50",
            f"SetEnv {MARKER_VARIABLE}={self._marker}",
        ]
        if self._mode == "env":
            wrapper = self._dir / "session"
            wrapper.write_text(
                "#!/bin/sh\n"
                "# The login's passwd home is the real one: start in the host's home instead.\n"
                'cd "$HOME" || exit 1\n'
                'if [ -z "${SSH_ORIGINAL_COMMAND+set}" ]; then exec "${SHELL:-/bin/sh}" -l; fi\n'
                'exec "${SHELL:-/bin/sh}" -c "$SSH_ORIGINAL_COMMAND"\n'
            )
            wrapper.chmod(0o755)
            lines[-1] += f" HOME={self.home}"
            lines += [f"ForceCommand {wrapper}", f"Subsystem sftp {SFTP_SERVER} -d {self.home}"]
        else:
            lines.append("Subsystem sftp internal-sftp")
        self._config.write_text("\n".join(lines) + "\n")

    def _start_holder(self) -> None:
        """Start the process that holds the host's private mount (and UTS) namespace."""
        script = (
            "set -e\n"
            'mount --bind "$1" "$2"\n'
            'mount --bind "$3" /var/log\n'
            'hostname "$4"\n'
            "echo ready\n"
            "exec sleep infinity\n"
        )
        var_log = self._dir / "var-log"
        var_log.mkdir(exist_ok=True)
        prefix = ["ip", "netns", "exec", self._netns] if self._netns else []
        self._holder = subprocess.Popen(
            [
                *prefix,
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                script,
                "sh",
                str(self.home),
                self._home_inside,
                str(var_log),
                self.name,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_set_parent_death_signal,
            env={"PATH": PATH, "LANG": "C.UTF-8"},
        )
        self._children.append(self._holder)
        ready, _, _ = select.select([self._holder.stdout], [], [], START_TIMEOUT)
        line = self._holder.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self._holder.kill()
            _, stderr = self._holder.communicate(timeout=KILL_TIMEOUT)
            raise SshHostError(
                f"{host_label(self)}: could not make its mount namespace: {stderr.decode().strip()}"
            )
        inode = _ns_inode(self._holder.pid, "mnt")
        if inode is None or inode == _ns_inode("self", "mnt"):  # never match the whole machine
            raise SshHostError(f"{host_label(self)}: its mount namespace is not a new one")
        self._mount_inode = inode

    def _cleanup(self) -> None:
        """Kill everything started in or by the host, then remove its link and namespace."""
        # All at once, sshd included: its sessions are known by their ancestry until it dies.
        _kill_matching(self._belongs)
        for child in self._children:
            with contextlib.suppress(Exception):
                child.kill()
            with contextlib.suppress(Exception):
                child.communicate(timeout=KILL_TIMEOUT)
        self._children.clear()
        self._sshd = self._holder = None
        if self._veth:
            _cmd("ip", "link", "del", self._veth, check=False)
        if self._netns:
            _cmd("ip", "netns", "delete", self._netns, check=False)


def host_label(host: SshHost) -> str:
    return f"{host.name} ({host.address}:{host.port})"


@contextlib.contextmanager
def _subnet_lock() -> Iterator[None]:
    """Serialize subnet picking and link setup between concurrent test runs on this machine."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "a") as lock:
        deadline = time.monotonic() + 30
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _used_subnets() -> set[int]:
    output = _cmd("ip", "-4", "-o", "addr", "show", check=False).stdout
    output += _cmd("ip", "-4", "route", "show", "table", "all", check=False).stdout
    pattern = re.escape(SUBNET_PREFIX) + r"\.(\d+)\."
    return {int(x) for x in re.findall(pattern, output)}


def _pick_subnet(taken: set[int]) -> int:
    used = _used_subnets() | taken
    start = os.getpid() % 254
    for offset in range(254):
        x = (start + offset) % 254 + 1
        if x not in used:
            return x
    raise SshHostError(f"no free {SUBNET_PREFIX}.X.0/30 subnet left on this machine")


def _remove_stale() -> None:
    """Remove namespaces and links that crashed runs of this module left (their pid is gone)."""
    names = _cmd("ip", "netns", "list", check=False).stdout.split()
    for name in names:
        match = re.fullmatch(re.escape(NETNS_PREFIX) + r"(\d+)-\d+", name)
        if not match or _alive(int(match[1])):
            continue
        try:
            inode = os.stat(f"/run/netns/{name}").st_ino
        except OSError:
            inode = None
        if inode is not None and inode != _ns_inode("self", "net"):
            _kill_matching(lambda pid, inode=inode: _ns_inode(pid, "net") == inode)
        _cmd("ip", "netns", "delete", name, check=False)
    links = _cmd("ip", "-o", "link", "show", check=False).stdout
    for match in re.finditer(rf"^\d+: ({re.escape(VETH_PREFIX)}(\d+)-\d+)[@:]", links, re.M):
        if not _alive(int(match[2])):
            _cmd("ip", "link", "del", match[1], check=False)


def _netns_available() -> bool:
    global _netns_usable
    if _netns_usable is None:
        probe = f"{NETNS_PREFIX}{os.getpid()}-probe"
        result = _cmd("ip", "netns", "add", probe, check=False)
        _netns_usable = result.returncode == 0
        if _netns_usable:
            _cmd("ip", "netns", "delete", probe, check=False)
    return _netns_usable


def _mount_namespace_available() -> bool:
    return (
        _cmd("unshare", "--mount", "--propagation", "private", "true", check=False).returncode == 0
    )


def _make_host(
    index: int, root: Path, taken: set[int], namespaced: bool, mount: bool, hosts: list[SshHost]
) -> None:
    """Create one host's files, network and namespaces and append it to ``hosts`` (before
    anything is started, so that the caller's cleanup covers a setup that fails half-way)."""
    name = f"host-{chr(ord('a') + index)}" if index < 26 else f"host-{index}"
    directory = root / name
    home = directory / "home"
    home.mkdir(parents=True)
    serial = next(_counter)
    user = pwd.getpwuid(os.getuid())
    host = SshHost(
        name=name,
        address="127.0.0.1",
        port=0,
        username=user.pw_name,
        private_key="",
        host_key="",
        home=home,
        namespaced=namespaced,
        _dir=directory,
        _mode="netns" if namespaced else ("mount" if mount else "env"),
        _home_inside=user.pw_dir if (namespaced or mount) else str(home),
        _marker=f"{os.getpid()}-{serial}-{secrets.token_hex(4)}",
    )
    host.private_key, public_key = _keygen(directory / "id_ed25519", f"tests@{name}")
    (directory / "authorized_keys").write_text(public_key + "\n")
    _, host.host_key = _keygen(host._host_key_file, f"{name} host key")
    hosts.append(host)

    if namespaced:
        x = _pick_subnet(taken)
        taken.add(x)
        host._netns = f"{NETNS_PREFIX}{os.getpid()}-{serial}"
        host._veth = f"{VETH_PREFIX}{os.getpid()}-{serial}"
        outer, inner = f"{SUBNET_PREFIX}.{x}.1", f"{SUBNET_PREFIX}.{x}.2"
        outer_mac, inner_mac = f"02:50:53:00:{x:02x}:01", f"02:50:53:00:{x:02x}:02"
        _cmd("ip", "netns", "add", host._netns)
        inode = os.stat(f"/run/netns/{host._netns}").st_ino
        if inode == _ns_inode("self", "net"):  # never match the whole machine
            raise SshHostError(f"{host._netns} is this process's own network namespace")
        host._netns_inode = inode
        ns = ["ip", "-n", host._netns]
        _cmd(
            *["ip", "link", "add", host._veth, "address", outer_mac, "type", "veth"],
            *["peer", "name", "eth0", "address", inner_mac, "netns", host._netns],
        )
        _cmd("ip", "addr", "add", f"{outer}/30", "dev", host._veth)
        _cmd(*ns, "addr", "add", f"{inner}/30", "dev", "eth0")
        # Static neighbours: no ARP, so a link that is down stays silent instead of failing.
        _cmd("ip", "neigh", "replace", inner, "lladdr", inner_mac, "dev", host._veth)
        _cmd(*ns, "neigh", "replace", outer, "lladdr", outer_mac, "dev", "eth0")
        _cmd(*ns, "link", "set", "lo", "up")
        _cmd(*ns, "link", "set", "eth0", "up")
        _cmd("ip", "link", "set", host._veth, "up")
        host.address, host.port = inner, SSH_PORT
    else:
        host.port = free_port()
    if namespaced or mount:
        host._start_holder()
    host._write_config()


def _ensure_privilege_separation_directory() -> None:
    """sshd refuses to start without /run/sshd (root-owned, not group/world writable) when root."""
    if os.getuid() != 0:
        return
    path = Path("/run/sshd")
    path.mkdir(mode=0o755, exist_ok=True)


@contextlib.contextmanager
def ssh_hosts(count: int, root: Path) -> Iterator[list[SshHost]]:
    """Start ``count`` SSH hosts with their files under ``root`` (a test's tmp_path); yield them.

    Everything started is torn down on exit, whatever the test did (see the module docstring).
    """
    global _warned_loopback
    _require_sshd()
    root = Path(root)
    hosts: list[SshHost] = []
    try:
        forced_loopback = os.environ.get("SSHHOSTS_LOOPBACK") == "1"
        namespaced = os.getuid() == 0 and not forced_loopback and _netns_available()
        mount = namespaced or (os.getuid() == 0 and _mount_namespace_available())
        if not namespaced and not _warned_loopback:
            _warned_loopback = True
            warnings.warn("network namespaces unavailable: sshd on loopback ports", stacklevel=3)
        if namespaced:
            _remove_stale()
        _ensure_privilege_separation_directory()
        taken: set[int] = set()
        with _subnet_lock() if namespaced else contextlib.nullcontext():
            for index in range(count):
                _make_host(index, root, taken, namespaced, mount, hosts)
        for host in hosts:
            host.start_sshd()
        yield hosts
    finally:
        for host in reversed(hosts):
            try:
                host._cleanup()
            except BaseException:  # a second Ctrl-C: still clean up the other hosts
                continue
