"""The README's template author guide stays true (SPEC §8, the code contract).

Every demo script appears in it verbatim, each after a line naming its file; the worked example
of ``manage.py try_code`` is run as the README writes it, and prints what the README says; and
each demo script answers ``status`` as the contract asks.
"""

import io
import re
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent
DEMO_CODE = ROOT / "catalog" / "demo_code"
HEADING = "## The code contract (for template authors)"


def section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(HEADING)
    end = readme.find("\n## ", start + len(HEADING))
    return readme[start : end if end != -1 else len(readme)]


def blocks(text: str, language: str) -> list[tuple[str, str]]:
    """Each fenced block of ``language``: (the paragraph line just before it, its text)."""
    pattern = re.compile(rf"([^\n]*)\n\n```{language}\n(.*?)^```$", re.DOTALL | re.MULTILINE)
    return [(match[1], match[2]) for match in pattern.finditer(text)]


def try_code(*args: str) -> tuple[int, str]:
    """Run the command; its exit status, and what it printed on stdout and stderr, in order."""
    printed = io.StringIO()
    try:
        call_command("try_code", *args, stdout=printed, stderr=printed)
        status = 0
    except SystemExit as exit:
        status = exit.code
    return status, printed.getvalue()


# The examples are the demo code, verbatim ------------------------------------------------------


def test_every_demo_script_is_shown_in_full_after_a_line_naming_its_file():
    shown = {}
    for before, text in blocks(section(), "sh"):
        named = re.match(r"`(catalog/demo_code/[\w-]+\.sh)`", before)
        if named:
            shown[named[1]] = text
    scripts = sorted(DEMO_CODE.glob("*.sh"))
    assert {f"catalog/demo_code/{path.name}" for path in scripts} == set(shown)
    assert len(scripts) == 5
    for path in scripts:
        assert shown[f"catalog/demo_code/{path.name}"] == path.read_text(), path.name


def test_every_demo_script_has_a_status_branch():
    for path in DEMO_CODE.glob("*.sh"):
        assert re.search(r"^status\)$", path.read_text(), re.MULTILINE), path.name


def test_the_guide_names_the_contract_and_its_settings():
    text = section()
    for needle in [
        "PAAS_VAR_<name>",
        "PAAS_SERVICE",
        "PAAS_PROJECT",
        "PAAS_PROFILE",
        "PAAS_REVISION",
        "PAAS_WORKDIR",
        "PAAS_LABELS",
        "PAAS_OUTPUTS",
        "paas.sh",
        "code_repository",
        "code_path",
        "code_revision",
        "PAAS_CODE_CREDENTIALS",
        "~/.paas-studio/services/<project>/<service>/",
        "COMPUTE_LOCAL_ROOT",
        "COMPUTE_HEALTH_INTERVAL",
        "COMPUTE_RUN_TIME_LIMIT",
        "`running`, `stopped` or `failed`",
        "setsid nohup",
        "***",
        "never travels on a command line",
        "manage.py try_code",
    ]:
        assert needle in text, needle


# The worked example runs as written --------------------------------------------------------------


def docker_runs() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


def worked_example() -> tuple[str, str, list[list[str]], str]:
    """The inputs file's name and text, the commands (as argument lists) and what they print."""
    text = section()[section().index("manage.py try_code`") :]
    (before, inputs), *_ = blocks(text, "yaml")
    name = re.search(r"`([\w.-]+\.ya?ml)`:$", before)[1]
    (_, commands), *_ = blocks(text, "sh")
    (_, printed), *_ = blocks(text, "text")
    lines = commands.replace("\\\n", " ").strip().splitlines()
    return name, inputs, [shlex.split(line) for line in lines], printed


@pytest.mark.skipif(bool(shutil.which("nvidia-smi")), reason="the README shows a machine w/o GPU")
def test_the_try_code_example_prints_what_the_readme_says(tmp_path, monkeypatch, settings):
    if docker_runs():
        pytest.skip("docker runs here: the batch job would run in its image, not as shown")
    settings.COMPUTE_RUN_TIME_LIMIT = 1800
    settings.COMPUTE_STATUS_TIME_LIMIT = 30
    monkeypatch.chdir(ROOT)  # the README runs from the checkout
    name, inputs, commands, printed = worked_example()
    assert len(commands) == 3
    (tmp_path / name).write_text(inputs)
    workdir = str(tmp_path / "try-hello")

    output = ""
    for command in commands:
        assert command[:3] == [".venv/bin/python", "manage.py", "try_code"]
        arguments = [str(tmp_path / name) if a == name else a for a in command[3:]]
        arguments = [a.replace("/tmp/try-hello", workdir) for a in arguments]
        status, text = try_code(*arguments)
        assert status == 0, text
        output += text

    # What the README shows, with its working folder here and any job id (a timestamp).
    expected = re.escape(printed.replace("/tmp/try-hello", workdir))
    expected = re.sub(r"hello\\-\d{8}\\-\d{6}", r"hello-\\d{8}-\\d{6}", expected)
    assert re.fullmatch(expected, output), output
    assert "s3cret-token" not in output  # the sensitive input is masked
    assert not Path(workdir).exists()  # destroyed


# The demo scripts answer status ------------------------------------------------------------------


def test_the_web_file_server_answers_status_until_it_is_stopped(tmp_path):
    script, workdir = str(DEMO_CODE / "web-file-server.sh"), str(tmp_path / "site")
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("variables: {title: Status check}\n")
    common = ["--script", script, "--inputs", str(inputs), "--workdir", workdir]
    status, printed = try_code(*common)
    assert status == 0, printed
    url = re.search(r"^url=(\S+)$", printed, re.MULTILINE)[1]
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert "Status check" in answer.read().decode()
        assert try_code(*common, "--action", "status")[1].endswith("status: running\n")
    finally:
        assert try_code(*common, "--action", "destroy")[0] == 0
    status, printed = try_code(*common)  # deployed again, then its server killed behind its back
    assert status == 0, printed
    pid = int((Path(workdir) / "server.pid").read_text())
    try:
        subprocess.run(["kill", str(pid)], check=True)
        for _ in range(100):  # until it is gone, zombie and all (kill -0 finds a zombie)
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
        else:
            pytest.skip("the killed server is left a zombie here, so its pid is still taken")
        assert try_code(*common, "--action", "status")[1].endswith("\nstopped\nstatus: stopped\n")
    finally:
        try_code(*common, "--action", "destroy")


def test_the_batch_job_is_stopped_after_its_job_ran(tmp_path):
    if docker_runs():
        pytest.skip("docker runs here: the job would pull its image")
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("variables: {image: none, command: 'exit 0', max_runtime_minutes: 1}\n")
    common = [
        "--script",
        str(DEMO_CODE / "batch-job.sh"),
        "--inputs",
        str(inputs),
        "--workdir",
        str(tmp_path / "job"),
    ]
    assert try_code(*common)[0] == 0
    assert try_code(*common, "--action", "status")[1].endswith("status: stopped\n")
    (tmp_path / "job" / "job.status").write_text("2\n")  # as a failed job leaves it
    assert try_code(*common, "--action", "status")[1].endswith("status: failed\n")


@pytest.mark.parametrize(
    ("name", "tool"),
    [("jupyter-notebook", "jupyter-lab"), ("vllm-inference", "vllm"), ("bionemo", "docker")],
)
def test_the_demos_needing_a_tool_say_stopped_when_nothing_was_started(tmp_path, name, tool):
    if shutil.which(tool) and (tool != "docker" or docker_runs()):
        pytest.skip(f"this machine has {tool}")
    common = ["--script", str(DEMO_CODE / f"{name}.sh"), "--workdir", str(tmp_path / name)]
    status, printed = try_code(*common)
    assert status == 1, printed
    assert re.search(rf"{tool} (not found|is not running) on this compute instance", printed)
    status, printed = try_code(*common, "--action", "status")
    assert status == 0
    assert printed.endswith("(time limit 30 seconds).\nstopped\nstatus: stopped\n"), printed


@pytest.mark.parametrize(
    ("name", "pid_file", "what"),
    [("jupyter-notebook", "lab.pid", "JupyterLab"), ("vllm-inference", "vllm.pid", "vLLM")],
)
def test_the_servers_status_follows_their_pid_files_process(tmp_path, name, pid_file, what):
    common = ["--script", str(DEMO_CODE / f"{name}.sh"), "--workdir", str(tmp_path / name)]
    try_code(*common)  # fails without the tool, but leaves the code in the working folder
    server = subprocess.Popen(["sleep", "60"])  # stands in for the server deploy would start
    try:
        (tmp_path / name / pid_file).write_text(f"{server.pid}\n")
        assert try_code(*common, "--action", "status")[1].endswith("\nrunning\nstatus: running\n")
    finally:
        server.kill()
        server.wait()
    status, printed = try_code(*common, "--action", "status")
    assert status == 0
    assert printed.endswith(
        f"\n{what} (pid {server.pid}) is no longer running; see {pid_file.replace('pid', 'log')}."
        "\nstopped\nstatus: stopped\n"
    ), printed
