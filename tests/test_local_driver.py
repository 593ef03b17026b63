"""The local driver runs real processes in a sandbox under tmp_path: the code contract (SPEC §8).

No mocks and no database: each test runs a small shell script and looks at what came of it. Time
limits are of a second or two, and every test is over in a few seconds.
"""

import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from compute.drivers import (
    CANCELLED,
    Code,
    Driver,
    LaunchSpec,
    RunResult,
    describe_duration,
    line_secrets,
    mask,
    parse_outputs,
)
from compute.drivers.local import CODE_NOT_FETCHED, STILL_OPEN, LocalDriver

LIMIT = 16 * 1024


@pytest.fixture
def driver(tmp_path):
    return LocalDriver(tmp_path / "sandbox")


@pytest.fixture
def stray_groups():
    """Process groups a test leaves running on purpose; killed when the test is over."""
    groups: list[int] = []
    yield groups
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def make_spec(script: str, **fields) -> LaunchSpec:
    values = {
        "service": "my-notebook",
        "project": "research",
        "profile": "system-catalog/jupyter-notebook",
        "revision": 3,
        "action": "deploy",
        "code": Code(inline=script),
        "time_limit": 10.0,
        **fields,
    }
    return LaunchSpec(**values)


class Log:
    """An ``on_line`` that keeps each line and when it came."""

    def __init__(self):
        self.lines: list[str] = []
        self.times: list[float] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.times.append(time.monotonic())


def run(driver: LocalDriver, script: str, **fields) -> tuple[RunResult, Log, float]:
    log = Log()
    started = time.monotonic()
    result = driver.run(make_spec(script, **fields), log)
    return result, log, time.monotonic() - started


def live_members(group: int) -> list[int]:
    """The processes of a group that still run (a zombie awaiting its reaper does not)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if fields[2] == str(group) and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def assert_group_gone(group: int) -> None:
    """Nothing of the group runs now, and it disappears once its zombies are reaped."""
    assert live_members(group) == []
    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        assert time.monotonic() < deadline, f"process group {group} is still there"
        time.sleep(0.05)


# The environment ----------------------------------------------------------------------------


def test_the_code_gets_the_contracts_environment_and_nothing_of_the_workers(
    driver, tmp_path, monkeypatch
):
    monkeypatch.setenv("PAAS_STUDIO_WORKER_SECRET", "must not leak")
    labels = {"site": "lab-2", "team": "ml"}
    result, log, _ = run(
        driver,
        "env\n",
        variables={"notebook_profile": "rapids", "config": '{"a":[1,2]}', "gpu": "true"},
        extra_env={"GREETING": "hello world", "PAAS_SERVICE": "spoofed", "PAAS_VAR_gpu": "no"},
        labels=labels,
    )
    assert result.ok, log.lines
    env = dict(line.partition("=")[::2] for line in log.lines)
    for shell_own in ("PWD", "OLDPWD", "SHLVL", "_"):
        env.pop(shell_own, None)
    workdir = tmp_path / "sandbox" / "research" / "my-notebook"
    assert env == {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / ".paas" / "tmp"),
        "GREETING": "hello world",
        "PAAS_VAR_notebook_profile": "rapids",
        "PAAS_VAR_config": '{"a":[1,2]}',
        "PAAS_VAR_gpu": "true",
        "PAAS_SERVICE": "my-notebook",
        "PAAS_PROJECT": "research",
        "PAAS_PROFILE": "system-catalog/jupyter-notebook",
        "PAAS_REVISION": "3",
        "PAAS_WORKDIR": str(workdir),
        "PAAS_LABELS": json.dumps(labels),
        "PAAS_OUTPUTS": str(workdir / ".paas" / "outputs"),
    }
    assert json.loads(env["PAAS_LABELS"]) == labels
    assert "must not leak" not in "\n".join(log.lines)


def test_the_code_runs_in_its_private_working_folder(driver, tmp_path):
    result, log, _ = run(driver, 'pwd\necho "$1"\nls -d "$TMPDIR"\n')
    workdir = tmp_path / "sandbox" / "research" / "my-notebook"
    assert result.ok
    assert log.lines == [str(workdir), "deploy", str(workdir / ".paas" / "tmp")]
    for folder in (tmp_path / "sandbox", workdir.parent, workdir, workdir / ".paas"):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_deploy_then_destroy_share_the_working_folder(driver, tmp_path):
    script = """\
case "$1" in
  deploy) echo "made by deploy" > state; echo deployed ;;
  destroy) cat state; rm state; echo destroyed ;;
esac
"""
    deployed, deploy_log, _ = run(driver, script, action="deploy")
    destroyed, destroy_log, _ = run(driver, script, action="destroy")
    assert deployed.ok
    assert destroyed.ok
    assert deploy_log.lines == ["deployed"]
    assert destroy_log.lines == ["made by deploy", "destroyed"]
    # A successful destroy removes the working folder too.
    assert not (tmp_path / "sandbox" / "research" / "my-notebook").exists()
    assert (tmp_path / "sandbox" / "research").is_dir()


def test_a_failed_destroy_keeps_the_working_folder(driver, tmp_path):
    script = 'case "$1" in deploy) echo x > state ;; destroy) exit 3 ;; esac\n'
    assert run(driver, script)[0].ok
    destroyed, _, _ = run(driver, script, action="destroy")
    assert destroyed.exit_code == 3
    assert (tmp_path / "sandbox" / "research" / "my-notebook" / "state").read_text() == "x\n"


# Outputs and exit codes ---------------------------------------------------------------------


def test_outputs_last_value_wins_junk_is_ignored_and_the_file_starts_empty(driver):
    script = """\
case "$1" in
  deploy)
    echo "url=http://a" >> "$PAAS_OUTPUTS"
    echo "just some junk" >> "$PAAS_OUTPUTS"
    echo "url=http://b" >> "$PAAS_OUTPUTS"
    echo "token=hunter2=x" >> "$PAAS_OUTPUTS"
    echo "=orphan" >> "$PAAS_OUTPUTS"
    printf 'last=no newline' >> "$PAAS_OUTPUTS"
    ;;
esac
"""
    deployed, _, _ = run(driver, script, secrets=("hunter2",))
    assert deployed.outputs == {"url": "http://b", "token": "hunter2=x", "last": "no newline"}
    destroyed, _, _ = run(driver, script, action="destroy")
    assert destroyed.ok
    assert destroyed.outputs == {}


def test_parse_outputs():
    text = "a=1\r\nnoise\n b = 2\n\na=3\n=x\nc=\n"
    assert parse_outputs(text) == {"a": "3", "b": " 2", "c": ""}


def test_a_nonzero_exit_is_the_codes_failure_not_an_error(driver):
    result, log, _ = run(driver, "echo failing >&2\nexit 3\n")
    assert result.exit_code == 3
    assert result.error == ""
    assert not result.ok
    assert log.lines == ["failing"]


def test_ok():
    assert RunResult(exit_code=0).ok
    assert not RunResult(exit_code=0, error="The run exceeded its time limit.").ok
    assert not RunResult(exit_code=1).ok
    assert not RunResult(exit_code=None).ok


# The log -------------------------------------------------------------------------------------


def test_lines_are_passed_on_in_order_as_they_arrive(driver):
    result, log, elapsed = run(driver, "echo first\nsleep 1\necho second\n")
    ended = time.monotonic()
    assert result.ok
    assert log.lines == ["first", "second"]
    assert log.times[1] - log.times[0] > 0.8
    assert ended - log.times[0] > 0.8  # the first line came long before the end
    assert elapsed < 3


def test_lines_are_decoded_and_their_endings_stripped(driver):
    result, log, _ = run(driver, r"printf 'caf\303\251\n\377bad\r\n\nno newline'" + "\n")
    assert result.ok
    assert log.lines == ["café", "\ufffdbad", "", "no newline"]


def test_very_long_lines_are_cut(driver):
    script = "head -c 200000 /dev/zero | tr '\\0' x\necho\necho after\n"
    result, log, _ = run(driver, script)
    assert result.ok
    assert log.lines == ["x" * LIMIT + " …", "after"]


def test_secrets_are_masked_in_every_line(driver):
    key = "-----BEGIN KEY-----\nmultiline-key-body\n-----END KEY-----"
    script = """\
echo "abc and abcdef and abc"
echo "xabcdefx"
echo "multiline-key-body"
echo "nothing secret"
"""
    result, log, _ = run(driver, script, secrets=("abc", "abcdef", "", key))
    assert result.ok
    assert log.lines == ["*** and *** and ***", "x***x", "***", "nothing secret"]


def test_a_secret_is_masked_even_where_a_long_line_is_cut(driver):
    # The first secret shrinks to ***, which pulls the start of the second into the cut.
    script = "printf SECRET123\nhead -c 16376 /dev/zero | tr '\\0' x\necho SECRET123yyyy\n"
    result, log, _ = run(driver, script, secrets=("SECRET123",))
    assert result.ok
    [line] = log.lines
    assert "SEC" not in line
    assert line == "***" + "x" * 16376 + "*** …"


def test_mask():
    assert mask("pw pw", ["pw"]) == "*** ***"
    assert mask("abcdef abc", ["abc", "abcdef"]) == "*** ***"
    assert mask("abcXYZ", ["abcX", "XYZ"]) == "***"  # overlapping: nothing of either shows
    assert mask("abab", ["ab"]) == "******"
    assert mask("plain", ["", "zzz"]) == "plain"
    assert line_secrets(["a\nb\n\n", "c"]) == ("a\nb\n\n", "a", "b", "c")


# Stopping --------------------------------------------------------------------------------


def test_the_time_limit_stops_the_whole_group_even_when_it_prints_nothing(driver):
    result, log, elapsed = run(driver, "echo $$\nsleep 30\n", time_limit=1)
    assert result.error == "The run exceeded its time limit of 1 second and was stopped."
    assert result.exit_code == -signal.SIGTERM
    assert not result.ok
    assert 1 <= elapsed < 1 + 6
    assert_group_gone(int(log.lines[0]))


def test_what_ignores_sigterm_is_killed_after_the_grace(driver):
    driver.kill_grace = 1.0
    script = "trap '' TERM\necho $$\nsleep 30 &\nsleep 30\n"
    result, log, elapsed = run(driver, script, time_limit=1)
    assert result.error == "The run exceeded its time limit of 1 second and was stopped."
    assert result.exit_code == -signal.SIGKILL
    assert 2 <= elapsed < 5
    assert_group_gone(int(log.lines[0]))


def test_describe_duration():
    assert describe_duration(1) == "1 second"
    assert describe_duration(2) == "2 seconds"
    assert describe_duration(1.5) == "1.5 seconds"
    assert describe_duration(60) == "1 minute"
    assert describe_duration(90) == "1 minute and 30 seconds"
    assert describe_duration(30 * 60) == "30 minutes"
    assert describe_duration(3900) == "1 hour and 5 minutes"
    assert describe_duration(7384) == "2 hours, 3 minutes and 4 seconds"


def test_a_detached_child_keeps_running_and_does_not_keep_the_run_waiting(driver, stray_groups):
    script = "setsid sh -c 'sleep 5' >/dev/null 2>&1 </dev/null &\necho $!\necho $$\n"
    result, log, elapsed = run(driver, script)
    child, group = int(log.lines[0]), int(log.lines[1])
    stray_groups += [child, group]
    assert result.ok
    assert elapsed < 1.5
    assert STILL_OPEN not in log.lines
    assert running(child)
    deadline = time.monotonic() + 2  # the child may not have reached its setsid() yet
    while os.getpgid(child) == group and time.monotonic() < deadline:
        time.sleep(0.02)
    assert os.getpgid(child) == child
    time.sleep(0.2)
    assert running(child)


def test_a_child_holding_the_output_open_is_cut_off(driver, stray_groups):
    result, log, elapsed = run(driver, "echo $$\nsleep 5 &\necho started\n")
    group = int(log.lines[0])
    stray_groups.append(group)
    assert result.ok
    assert 1.8 <= elapsed < 4
    assert log.lines[1:] == ["started", STILL_OPEN]
    assert live_members(group)  # left alone: only a time limit stops the group


def test_a_failing_on_line_stops_the_run(driver):
    lines = []

    def on_line(line):
        lines.append(line)
        if line == "boom":
            raise RuntimeError("the log could not be stored")

    started = time.monotonic()
    with pytest.raises(RuntimeError):
        driver.run(make_spec("echo $$\necho boom\nsleep 30\n"), on_line)
    assert time.monotonic() - started < 3
    group = int(lines[0])
    deadline = time.monotonic() + 2
    while live_members(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert_group_gone(group)


# The entry -------------------------------------------------------------------------------


def test_a_script_without_shebang_runs_under_sh(driver):
    result, log, _ = run(driver, 'echo "$1"\nreadlink /proc/$$/exe\n', action="destroy")
    assert result.ok
    assert log.lines == ["destroy", os.path.realpath("/bin/sh")]


def test_a_script_with_a_shebang_runs_with_its_interpreter(driver, tmp_path):
    script = f"#!{sys.executable}\nimport os, sys\nprint(sys.argv[1], os.getcwd())\n"
    result, log, _ = run(driver, script)
    assert result.ok
    assert log.lines == [f"deploy {tmp_path / 'sandbox' / 'research' / 'my-notebook'}"]


def test_windows_line_endings_are_made_unix_ones(driver):
    result, log, _ = run(driver, "#!/bin/sh\r\necho hi\r\n")
    assert result.ok
    assert log.lines == ["hi"]


def test_a_missing_interpreter_is_an_error(driver):
    result, log, _ = run(driver, "#!/nonexistent/interpreter\necho hi\n")
    assert result.exit_code is None
    assert result.error == (
        "The code could not be started: its interpreter “/nonexistent/interpreter” was not found."
    )
    assert log.lines == []


def test_repository_code_must_be_fetched_first(driver, tmp_path):
    code = Code(repository="https://example.com/templates.git", path="notebook", revision="abc")
    result, log, _ = run(driver, "", code=code)
    assert result == RunResult(exit_code=None, outputs={}, error=CODE_NOT_FETCHED)
    assert log.lines == []
    assert not (tmp_path / "sandbox").exists()


def fetched_folder(tmp_path: Path, script: str, *, executable: bool) -> Path:
    folder = tmp_path / "fetched" / "notebook"
    folder.mkdir(parents=True)
    (folder / "paas.sh").write_text(script)
    (folder / "paas.sh").chmod(0o755 if executable else 0o644)
    (folder / "helper.txt").write_text("from the repository\n")
    return folder


@pytest.mark.parametrize("executable", [True, False])
def test_a_fetched_folder_is_copied_and_its_paas_sh_is_the_entry(driver, tmp_path, executable):
    script = '#!/bin/sh\necho "$1 $(basename "$0")"\ncat "$(dirname "$0")/helper.txt"\n'
    folder = fetched_folder(tmp_path, script, executable=executable)
    code = Code(
        repository="file:///repo.git", path="notebook", revision="c" * 40, folder=str(folder)
    )
    result, log, _ = run(driver, "", code=code)
    assert result.ok, result
    assert log.lines == ["deploy paas.sh", "from the repository"]
    copy = tmp_path / "sandbox" / "research" / "my-notebook" / ".paas" / "code"
    assert (copy / "helper.txt").read_text() == "from the repository\n"
    # A later change to the fetched folder is copied again at the next run.
    (folder / "helper.txt").write_text("changed\n")
    assert run(driver, "", code=code, action="destroy")[1].lines == ["destroy paas.sh", "changed"]


def test_status_runs_the_deployed_code_and_leaves_outputs_alone(driver, tmp_path):
    script = """\
case "$1" in
  deploy) echo url=http://x >> "$PAAS_OUTPUTS" ;;
  status) echo checking; echo running ;;
esac
"""
    assert run(driver, script)[0].outputs == {"url": "http://x"}
    # status runs what deploy left, even if the script handed to it differs.
    result, log, _ = run(driver, "echo not this one\n", action="status")
    assert result.ok
    assert log.lines == ["checking", "running"]
    assert result.outputs == {}
    outputs = tmp_path / "sandbox" / "research" / "my-notebook" / ".paas" / "outputs"
    assert outputs.read_text() == "url=http://x\n"


def test_a_cancelled_run_has_its_group_stopped(driver):
    cancel = threading.Event()
    log = Log()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    started = time.monotonic()
    script = "echo started\nsleep 30 &\necho $! > child\nwait\n"
    result = driver.run(make_spec(script), log, cancel)
    elapsed = time.monotonic() - started
    timer.cancel()
    assert result.error == CANCELLED
    assert not result.ok
    assert log.lines == ["started"]
    assert elapsed < 5, "stopped at once by SIGTERM, not at the time limit"
    child = int((driver.workdir("research", "my-notebook") / "child").read_text())
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


def test_empty_code_is_refused(driver):
    result, _, _ = run(driver, "  \n")
    assert result.exit_code is None
    assert result.error == "The template version has no code to run."


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "restart"},
        {"project": ".."},
        {"service": "a/b"},
        {"variables": {"bad-name": "x"}},
        {"extra_env": {"A": "nul\0"}},
        {"time_limit": 0},
    ],
)
def test_a_spec_that_breaks_its_invariants_is_refused(driver, tmp_path, fields):
    with pytest.raises(ValueError):
        driver.run(make_spec("echo hi\n", **fields), Log())
    assert not (tmp_path / "sandbox").exists()


# Probing ---------------------------------------------------------------------------------


def test_probe_says_what_the_machine_is(driver):
    assert isinstance(driver, Driver)
    result = driver.probe()
    assert result.reachable
    assert os.uname().sysname in result.output
    assert os.uname().release in result.output
