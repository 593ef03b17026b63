"""The ssh driver against a real sshd (tests/sshhosts.py): the code contract over SSH.

No database: each test runs a small script on the host and looks at what came of it, and on the
host itself. Time limits are of a few seconds.
"""

import json
import threading
import time

import pytest

from compute.drivers import CANCELLED, Code, LaunchSpec
from compute.drivers.ssh import SshDriver, fetch_host_key
from tests.sshhosts import SshHost, ssh_hosts


@pytest.fixture
def host(tmp_path):
    with ssh_hosts(1, tmp_path / "hosts") as (started,):
        yield started


def driver_for(host: SshHost, **fields) -> SshDriver:
    values = {
        "host": host.address,
        "port": host.port,
        "username": host.username,
        "private_key": host.private_key,
        "host_key": host.host_key,
        "connect_timeout": 3.0,
    } | fields
    return SshDriver(**values)


def spec(script: str, **fields) -> LaunchSpec:
    values = {
        "service": "svc",
        "project": "research",
        "profile": "system-catalog/thing",
        "revision": 4,
        "action": "deploy",
        "code": Code(inline=script),
        "time_limit": 20.0,
    } | fields
    return LaunchSpec(**values)


class Log:
    def __init__(self):
        self.lines: list[str] = []
        self.times: list[float] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.times.append(time.monotonic())


def running(host: SshHost, command: str) -> list[str]:
    return [
        line for line in host.process_command_lines(this_host_only=True) if line.strip() == command
    ]


def test_the_code_gets_the_contracts_environment(host):
    script = """#!/bin/sh
for name in PAAS_SERVICE PAAS_PROJECT PAAS_PROFILE PAAS_REVISION PAAS_WORKDIR PAAS_LABELS \\
    PAAS_VAR_count PAAS_VAR_config PAAS_VAR_flag MODEL TMPDIR; do
  eval "echo $name=\\$$name"
done
echo "cwd=$(pwd)"
echo "args=$*"
"""
    log = Log()
    result = driver_for(host).run(
        spec(
            script,
            variables={"count": "2", "config": '{"a":[1,"x y"]}', "flag": "true"},
            extra_env={"MODEL": "llama 3's", "PAAS_WORKDIR": "/nowhere"},
            labels={"team": "ml"},
        ),
        log,
    )
    assert result.ok, (result, log.lines)
    workdir = "/root/.paas-studio/services/research/svc" if host.username == "root" else None
    values = dict(line.split("=", 1) for line in log.lines)
    assert values["PAAS_SERVICE"] == "svc" and values["PAAS_PROJECT"] == "research"
    assert (values["PAAS_PROFILE"], values["PAAS_REVISION"]) == ("system-catalog/thing", "4")
    assert json.loads(values["PAAS_LABELS"]) == {"team": "ml"}
    assert values["PAAS_VAR_config"] == '{"a":[1,"x y"]}'
    assert (values["PAAS_VAR_count"], values["PAAS_VAR_flag"]) == ("2", "true")
    assert values["MODEL"] == "llama 3's"
    # The contract's paths win over Extra Configuration.
    assert values["PAAS_WORKDIR"] == values["cwd"] != "/nowhere"
    if workdir:
        assert values["cwd"] == workdir
    assert values["TMPDIR"] == f"{values['cwd']}/.paas/tmp"
    assert values["args"] == "deploy"


def test_the_log_is_streamed_as_it_arrives_and_outputs_are_read_back(host):
    script = (
        'echo first\nsleep 1\necho second\necho "url=http://x/$PAAS_SERVICE" >> "$PAAS_OUTPUTS"\n'
        'echo "url=http://y" >> "$PAAS_OUTPUTS"\necho "tok=a=b" >> "$PAAS_OUTPUTS"\n'
    )
    log = Log()
    result = driver_for(host).run(spec(script), log)
    assert result.ok
    assert log.lines == ["first", "second"]
    assert log.times[1] - log.times[0] > 0.7, "each line came when it was printed"
    assert result.outputs == {"url": "http://y", "tok": "a=b"}


def test_a_secret_is_masked_in_the_log(host):
    log = Log()
    secret = "p@ss 'word' $HOME"
    result = driver_for(host).run(
        spec('echo "token: $PAAS_VAR_token"\n', variables={"token": secret}, secrets=(secret,)),
        log,
    )
    assert result.ok
    assert log.lines == ["token: ***"]


def test_a_nonzero_exit_is_the_codes_failure(host):
    result = driver_for(host).run(spec("echo about to fail >&2\nexit 7\n"), Log())
    assert (result.exit_code, result.error, result.ok) == (7, "", False)


def test_the_time_limit_stops_the_whole_process_group(host):
    script = "echo started\nsleep 41 &\nsleep 42\n"
    started = time.monotonic()
    result = driver_for(host).run(spec(script, time_limit=2), Log())
    assert time.monotonic() - started < 10
    assert result.error == "The run exceeded its time limit of 2 seconds and was stopped."
    deadline = time.monotonic() + 5
    while (running(host, "sleep 41") or running(host, "sleep 42")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running(host, "sleep 41") == running(host, "sleep 42") == []


class Deaf(SshDriver):
    """A driver that never stops the group itself, as when the portal's side is gone."""

    def _stop_group(self, transport, workdir):
        pass


def test_the_time_limit_holds_on_the_host_when_the_portal_is_gone(host):
    def gone(line):
        raise RuntimeError("the worker died")

    with pytest.raises(RuntimeError):
        Deaf(**vars(driver_for(host))).run(spec("sleep 43 &\necho hi\nwait\n", time_limit=3), gone)
    deadline = time.monotonic() + 2
    while not running(host, "sleep 43") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running(host, "sleep 43"), "still running once the portal has let go"
    deadline = time.monotonic() + 12
    while running(host, "sleep 43") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running(host, "sleep 43") == [], "the host's own timeout stopped it"


def test_cancelling_stops_the_group_at_once(host):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    result = driver_for(host).run(spec("echo started\nsleep 44\n"), Log(), cancel)
    assert result.error == CANCELLED
    assert time.monotonic() - started < 8
    assert running(host, "sleep 44") == []


def test_status_runs_what_deploy_left_and_destroy_removes_the_folder(host):
    script = 'case "$1" in deploy) touch made ;; status) echo running ;; destroy) rm made ;; esac\n'
    driver = driver_for(host)
    assert driver.run(spec(script), Log()).ok
    folder = host.home / ".paas-studio" / "services" / "research" / "svc"
    assert (folder / "made").exists() and (folder / ".paas" / "entry").read_text() == script
    log = Log()
    assert driver.run(spec("echo other code\n", action="status"), log).ok
    assert log.lines == ["running"]
    assert driver.run(spec(script, action="destroy"), Log()).ok
    assert not folder.exists()


def test_a_fetched_folder_is_copied_with_its_modes(host, tmp_path):
    folder = tmp_path / "fetched"
    (folder / "lib").mkdir(parents=True)
    (folder / "paas.sh").write_text(
        '#!/bin/sh\necho "$1 from $(basename "$0") in $(basename "$(pwd)")"\n'
        'cat "$(dirname "$0")/lib/x"\n'
    )
    (folder / "paas.sh").chmod(0o755)
    (folder / "lib" / "x").write_text("helper\n")
    code = Code(repository="file:///r.git", path="f", revision="a" * 40, folder=str(folder))
    log = Log()
    result = driver_for(host).run(spec("", code=code), log)
    # It runs in the working folder; the folder's other files are beside paas.sh.
    assert result.ok, log.lines
    assert log.lines == ["deploy from paas.sh in svc", "helper"]
    copied = host.home / ".paas-studio/services/research/svc/.paas/code"
    assert (copied / "paas.sh").stat().st_mode & 0o777 == 0o700
    assert (copied / "lib" / "x").stat().st_mode & 0o777 == 0o600


def test_fetch_host_key_reports_what_the_host_offers(host):
    fetched = fetch_host_key(host.address, host.port, 3)
    assert fetched.key == host.host_key
    assert fetched.key_type == "ssh-ed25519" and fetched.fingerprint.startswith("SHA256:")


def test_a_probe_answers_with_uname(host):
    probe = driver_for(host).probe()
    assert probe.reachable and probe.output.startswith("Linux ")
    assert host.name in probe.output
