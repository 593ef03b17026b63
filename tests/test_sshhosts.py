"""The SSH test hosts of tests/sshhosts.py are real, separate and break on demand (paramiko)."""

import io
import socket
import subprocess
import time
from collections.abc import Iterator

import paramiko
import pytest

from tests.sshhosts import SshHost, ssh_hosts

CONNECT_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[list[SshHost]]:
    with ssh_hosts(2, tmp_path_factory.mktemp("sshhosts")) as started:
        yield started


def connect(host: SshHost, timeout: float = CONNECT_TIMEOUT) -> paramiko.Transport:
    """An SSH transport to the host, key exchange done, not yet authenticated."""
    sock = socket.create_connection((host.address, host.port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
    except BaseException:
        transport.close()
        raise
    return transport


def login(host: SshHost, private_key: str | None = None) -> paramiko.Transport:
    transport = connect(host)
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(private_key or host.private_key))
    try:
        transport.auth_publickey(host.username, key)
    except BaseException:
        transport.close()
        raise
    return transport


def execute(transport: paramiko.Transport, command: str) -> tuple[int, str]:
    channel = transport.open_session(timeout=CONNECT_TIMEOUT)
    channel.settimeout(10)
    channel.exec_command(command)
    output = channel.makefile("r").read().decode()
    return channel.recv_exit_status(), output


def offered_key(transport: paramiko.Transport) -> str:
    key = transport.get_remote_server_key()
    return f"{key.get_name()} {key.get_base64()}"


def test_each_host_is_reachable_with_its_own_keys_and_address(hosts):
    assert len({(host.address, host.port) for host in hosts}) == 2
    for host in hosts:
        transport = login(host)
        try:
            assert offered_key(transport) == host.host_key
            status, output = execute(transport, "echo $HOME; hostname -I || ip -4 addr")
        finally:
            transport.close()
        assert status == 0
        lines = output.split()
        assert lines[0] == host.run("echo $HOME").stdout.strip()
        if host.namespaced:
            # The host sees only its own address: it is in a network namespace of its own.
            assert lines[1:] == [host.address]


def test_homes_are_separate(hosts):
    host_a, host_b = hosts
    transport = login(host_a)
    try:
        status, _ = execute(transport, "mkdir -p ~/.paas-studio/services && touch ~/only-on-a")
    finally:
        transport.close()
    assert status == 0
    assert (host_a.home / "only-on-a").is_file()
    assert (host_a.home / ".paas-studio" / "services").is_dir()
    assert not (host_b.home / "only-on-a").exists()
    assert host_b.run("ls -A ~").stdout.split() == []
    assert host_a.run("ls ~/only-on-a").returncode == 0
    assert host_b.run("test -e ~/only-on-a").returncode == 1


def test_run_and_process_command_lines_see_the_host(hosts):
    host_a, host_b = hosts
    result = host_a.run("hostname; echo $HOME; pwd")
    assert result.returncode == 0, result.stderr
    hostname, home, cwd = result.stdout.split()
    assert home == cwd
    if host_a._mode != "env":  # its own UTS namespace
        assert hostname == "host-a"
    mine = host_a.process_command_lines(this_host_only=True)
    assert any("sshd" in line and str(host_a._config) in line for line in mine)
    assert not any(str(host_b._config) in line for line in mine)
    everything = host_a.process_command_lines()
    assert any(str(host_b._config) in line for line in everything)


def test_link_down_makes_the_host_silent(hosts):
    host = hosts[0]
    host.link_down()
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection((host.address, host.port), timeout=CONNECT_TIMEOUT)
        assert time.monotonic() - started < CONNECT_TIMEOUT + 1
    finally:
        host.link_up()
    login(host).close()


def test_stopped_sshd_refuses_connections(hosts):
    host = hosts[1]
    host.stop_sshd()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host.address, host.port), timeout=CONNECT_TIMEOUT)
    finally:
        host.start_sshd()
    login(host).close()


def test_new_host_key_changes_the_offered_key(hosts):
    host = hosts[1]
    old = host.host_key
    new = host.new_host_key()
    assert new != old and new == host.host_key and new.startswith("ssh-ed25519 ")
    transport = connect(host)
    try:
        assert offered_key(transport) == new
    finally:
        transport.close()


def test_other_private_key_is_refused(hosts):
    host = hosts[0]
    with pytest.raises(paramiko.AuthenticationException):
        login(host, host.other_private_key()).close()
    assert "Failed publickey for" in host.log()


def test_everything_is_removed_on_exit_even_after_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), ssh_hosts(1, tmp_path) as (host,):
        host.run("sleep 60 >/dev/null 2>&1 &")  # a process left behind on the host
        netns, veth, config = host._netns, host._veth, str(host._config)
        raise RuntimeError("boom")
    assert not any(config in line or "sleep 60" in line for line in host.process_command_lines())
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if netns:
        assert netns not in namespaces.split()
        assert f" {veth}@" not in links
