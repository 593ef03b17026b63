"""``manage.py try_code``: a dry run of the code contract (SPEC §8) for template authors.

Real runs of small shell scripts with the local driver, under tmp_path: what the command prints,
the environment the code gets, and the exit status it ends with. Every bad input is one
CommandError with a plain message.
"""

import importlib.util
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from profiles.models import TemplateVersion
from tests.factories import make_project, make_template

ECHO = """\
#!/bin/sh
set -eu
echo "$1 of $PAAS_SERVICE in $PAAS_PROJECT ($PAAS_PROFILE, revision $PAAS_REVISION)"
echo "who=$PAAS_VAR_who labels=$PAAS_LABELS mode=$MODE"
echo "url=http://example.test/$PAAS_VAR_who" >> "$PAAS_OUTPUTS"
echo "note=written by $1" >> "$PAAS_OUTPUTS"
"""

# deploy writes state to the working folder; destroy reads it; status answers from it.
STATEFUL = """\
#!/bin/sh
set -eu
case "$1" in
deploy) echo "made by deploy in $PAAS_WORKDIR" > state.txt; echo "deployed" ;;
destroy) echo "destroy found: $(cat state.txt)"; rm state.txt ;;
status) if [ -f state.txt ]; then echo "state is there"; echo running; else echo stopped; fi ;;
esac
"""


def try_code(*args: str) -> tuple[int, str, str]:
    """Run the command; its exit status (0 when it returns), what it printed, its messages."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("try_code", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit:
        status = exit.code
    return status, out.getvalue(), err.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command("try_code", *args, stdout=io.StringIO(), stderr=io.StringIO())
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture
def write(tmp_path):
    def write(name: str, text: str, mode: int = 0o644) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return str(path)

    return write


@pytest.fixture(autouse=True)
def limits(settings):
    settings.COMPUTE_RUN_TIME_LIMIT = 60
    settings.COMPUTE_STATUS_TIME_LIMIT = 20


# Running --script and --folder ------------------------------------------------------------------


def test_a_script_deploy_prints_its_log_then_its_outputs_and_exits_0(write):
    inputs = write(
        "inputs.yaml",
        "variables: {who: ada}\nextraConfig: {MODE: fast}\nlabels: {team: research}\n",
    )
    status, out, err = try_code("--script", write("code.sh", ECHO), "--inputs", inputs)
    assert status == 0, err
    assert out == (
        "deploy of dry-run in dry-run (dry-run, revision 1)\n"
        'who=ada labels={"team": "research"} mode=fast\n'
        "Outputs:\n"
        "url=http://example.test/ada\n"
        "note=written by deploy\n"
    )
    assert "Running deploy of" in err and "time limit 1 minute" in err
    assert "thrown away" in err  # nothing kept of a throwaway deploy, and it says so


def test_service_and_project_name_the_run(write):
    script = write("code.sh", 'echo "$PAAS_SERVICE/$PAAS_PROJECT"\n')
    status, out, _ = try_code("--script", script, "--service", "my-svc", "--project", "research")
    assert status == 0
    assert out.splitlines()[0] == "my-svc/research"


def test_a_failing_script_exits_with_its_status(write):
    script = write("code.sh", 'echo "about to fail"\necho "half=1" >> "$PAAS_OUTPUTS"\nexit 3\n')
    status, out, err = try_code("--script", script)
    assert status == 3
    assert out == "about to fail\nOutputs:\nhalf=1\n"
    assert "The code exited with status 3." in err


def test_a_script_that_cannot_start_exits_1(write):
    status, _, err = try_code("--script", write("code.sh", "#!/no/such/interpreter\necho hi\n"))
    assert status == 1
    assert "its interpreter “/no/such/interpreter” was not found" in err


def test_the_time_limit_stops_the_run_and_exits_1(write):
    status, out, err = try_code(
        "--script", write("code.sh", "echo started\nsleep 30\n"), "--time-limit", "0.5"
    )
    assert status == 1
    assert out.startswith("started\n")
    assert "exceeded its time limit of 0.5 seconds" in err


def test_a_folder_runs_its_paas_sh_with_the_files_beside_it(tmp_path, write):
    write("code/lib.sh", 'greeting() { echo "hello from lib, $1"; }\n')
    write("code/paas.sh", '#!/bin/sh\n. "$(dirname "$0")/lib.sh"\ngreeting "$1"\n', 0o755)
    status, out, err = try_code("--folder", str(tmp_path / "code"))
    assert status == 0, err
    assert out == "hello from lib, deploy\nOutputs: none\n"
    assert "code/paas.sh" in err


def test_a_folder_whose_paas_sh_is_not_executable_runs_under_sh(tmp_path, write):
    write("code/paas.sh", 'echo "sh ran $1"\n', 0o644)
    status, out, _ = try_code("--folder", str(tmp_path / "code"))
    assert (status, out) == (0, "sh ran deploy\nOutputs: none\n")


def test_workdir_lets_deploy_then_status_then_destroy_share_the_folder(tmp_path, write):
    script, folder = write("code.sh", STATEFUL), tmp_path / "kept" / "svc"
    status, out, err = try_code("--script", script, "--workdir", str(folder))
    assert (status, out) == (0, "deployed\nOutputs: none\n"), err
    assert (folder / "state.txt").read_text() == f"made by deploy in {folder}\n"
    assert "thrown away" not in err

    status, out, _ = try_code("--script", script, "--workdir", str(folder), "--action", "status")
    assert (status, out) == (0, "state is there\nrunning\nstatus: running\n")

    status, out, err = try_code("--script", script, "--workdir", str(folder), "--action", "destroy")
    assert status == 0
    assert out == f"destroy found: made by deploy in {folder}\nOutputs: none\n"
    assert not folder.exists()  # a successful destroy removes the working folder
    assert f"The working folder {folder} was removed" in err


def test_status_says_when_the_code_gives_no_answer(tmp_path, write):
    script = write("code.sh", 'case "$1" in status) echo "all good, I think" ;; esac\n')
    folder = str(tmp_path / "svc")
    assert try_code("--script", script, "--workdir", folder)[0] == 0
    status, out, _ = try_code("--script", script, "--workdir", folder, "--action", "status")
    assert status == 0
    assert out == (
        "all good, I think\nstatus: no answer (its last line was not running, stopped or failed)\n"
    )


def test_status_needs_the_folder_of_a_deploy(tmp_path, write):
    script = write("code.sh", STATEFUL)
    assert "deploy with --workdir DIR" in refused("--script", script, "--action", "status")
    empty = tmp_path / "never-deployed"
    message = refused("--script", script, "--action", "status", "--workdir", str(empty))
    assert f"{empty} holds none: deploy there first" in message


# Inputs -----------------------------------------------------------------------------------------


def test_sensitive_values_are_masked_in_the_printed_log(write):
    inputs = write(
        "inputs.yaml",
        "variables: {token: tok-123456, user: ada}\n"
        "extraConfig: {DB_PASSWORD: pw-98765}\n"
        "sensitive: [token, DB_PASSWORD]\n",
    )
    script = write(
        "code.sh",
        'echo "token=$PAAS_VAR_token user=$PAAS_VAR_user db=$DB_PASSWORD"\n'
        'echo "key=$PAAS_VAR_token" >> "$PAAS_OUTPUTS"\n',
    )
    status, out, _ = try_code("--script", script, "--inputs", inputs)
    assert status == 0
    log, outputs = out.split("Outputs:\n")
    assert log == "token=*** user=ada db=***\n"
    assert "tok-123456" not in log and "pw-98765" not in log
    assert outputs == "key=tok-123456\n"  # outputs are printed as written, all of them


def test_values_are_converted_as_the_contract_says(write):
    inputs = write(
        "inputs.yaml",
        """\
variables:
  engine_args: {gpu_memory_utilization: 0.9, tags: [a, b], nested: {enabled: true}}
  enable_ssh: true
  debug: false
  max_model_len: 8192
  ratio: 0.25
  nothing: null
  title: Hello, world
  when: 2026-01-31
""",
    )
    script = write(
        "code.sh",
        "for name in engine_args enable_ssh debug max_model_len ratio nothing title when; do\n"
        '  eval "echo $name=[\\$PAAS_VAR_$name]"\n'
        "done\n",
    )
    status, out, err = try_code("--script", script, "--inputs", inputs)
    assert status == 0, err
    assert out.split("Outputs:")[0].splitlines() == [
        'engine_args=[{"gpu_memory_utilization":0.9,"tags":["a","b"],"nested":{"enabled":true}}]',
        "enable_ssh=[true]",
        "debug=[false]",
        "max_model_len=[8192]",
        "ratio=[0.25]",
        "nothing=[]",
        "title=[Hello, world]",
        "when=[2026-01-31]",
    ]


def test_inputs_may_be_json(write):
    inputs = write("inputs.json", '{"variables": {"flag": true, "cfg": {"a": [1, 2]}}}')
    script = write("code.sh", 'echo "$PAAS_VAR_flag $PAAS_VAR_cfg"\n')
    status, out, _ = try_code("--script", script, "--inputs", inputs)
    assert (status, out.splitlines()[0]) == (0, 'true {"a":[1,2]}')


# --template --version ----------------------------------------------------------------------------

TEMPLATE_SCRIPT = """\
#!/bin/sh
echo "who=$PAAS_VAR_who ssh=$PAAS_VAR_enable_ssh cfg=$PAAS_VAR_cfg n=$PAAS_VAR_n"
echo "token=$PAAS_VAR_token"
echo "url=http://example.test/$PAAS_VAR_who" >> "$PAAS_OUTPUTS"
"""


@pytest.fixture
def stored(db):
    """research/notebook v1: inline code, with a variable of each type and a sensitive one."""
    version = make_template(
        make_project("research"),
        "notebook",
        variables=[
            {"name": "who", "value": "world"},
            {"name": "enable_ssh", "value": "false", "value_type": "boolean"},
            {"name": "cfg", "value": '{"a": 1}', "value_type": "json"},
            {"name": "n", "value": "4", "value_type": "number"},
            {"name": "token", "value": "default-secret-1", "sensitive": True},
        ],
    )
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline=TEMPLATE_SCRIPT
    )
    return version


def test_a_stored_inline_version_runs_with_its_defaults_and_types(stored):
    status, out, err = try_code("--template", "research/notebook", "--version", "v1")
    assert status == 0, err
    assert out == (
        'who=world ssh=false cfg={"a":1} n=4\n'
        "token=***\n"  # the version marks it sensitive
        "Outputs:\n"
        "url=http://example.test/world\n"
    )
    assert "research/notebook v1" in err


def test_a_stored_versions_values_come_from_the_inputs_as_their_types(stored, write):
    inputs = write(
        "inputs.yaml",
        "variables: {who: ada, enable_ssh: true, cfg: {b: [1, 2]}, n: 8, token: given-tok-42}\n",
    )
    status, out, _ = try_code(
        "--template", "research/notebook", "--version", "v1", "--inputs", inputs
    )
    assert status == 0
    assert out.splitlines()[:2] == ['who=ada ssh=true cfg={"b":[1,2]} n=8', "token=***"]


def test_json_text_for_a_json_variable_is_checked_and_kept_as_json(stored, write):
    inputs = write("inputs.yaml", "variables:\n  cfg: '{\"x\": [true, null]}'\n")
    status, out, _ = try_code(
        "--template", "research/notebook", "--version", "v1", "--inputs", inputs
    )
    assert status == 0
    assert 'cfg={"x":[true,null]}' in out.splitlines()[0]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ("{colour: blue}", "“colour” is not a variable of this version"),
        ("{enable_ssh: maybe}", "enable_ssh: “maybe” is not a boolean: use true or false."),
        ("{enable_ssh: 1}", "enable_ssh: “1” is not a boolean: use true or false."),
        ("{cfg: '{oops'}", "cfg: This is not valid JSON"),
        ("{n: many}", "n: “many” is not a number."),
    ],
)
def test_inputs_that_do_not_fit_the_version_are_refused(stored, write, variables, message):
    inputs = write("inputs.yaml", f"variables: {variables}\n")
    refusal = refused("--template", "research/notebook", "--version", "v1", "--inputs", inputs)
    assert message in refusal
    assert "its variables: who, enable_ssh, cfg, n, token" in refusal


def test_a_bad_value_of_a_sensitive_variable_is_not_repeated(db, write):
    version = make_template(
        make_project("research"),
        "keys",
        variables=[{"name": "pin", "value_type": "number", "sensitive": True}],
    )
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository="", code_path="", code_revision="", code_inline="echo hi\n"
    )
    inputs = write("inputs.yaml", "variables: {pin: secret-pin-77}\n")
    refusal = refused("--template", "research/keys", "--version", "v1", "--inputs", inputs)
    assert "pin: The value is not a valid number value." in refusal
    assert "secret-pin-77" not in refusal


class Origin:
    """A bare git repository under ``root``, reached as a file:// URL, with one commit."""

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        env = os.environ | {
            "HOME": str(root),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Author",
            "GIT_COMMITTER_EMAIL": "author@example.com",
        }
        work, self.bare = root / "work", root / "origin.git"

        def git(*args: str, cwd: Path = work) -> str:
            done = subprocess.run(
                ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
            )
            return done.stdout.strip()

        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", str(self.bare), cwd=root)
        git("init", "--quiet", "--initial-branch=main", str(work), cwd=root)
        for name, text in files.items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
            (work / name).chmod(0o755 if name.endswith(".sh") else 0o644)
        git("add", "--all")
        git("commit", "--quiet", "-m", "the code")
        git("push", "--quiet", str(self.bare), "HEAD:refs/heads/main")
        self.commit = git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return self.bare.as_uri()


needs_fetching = pytest.mark.skipif(
    importlib.util.find_spec("compute.code") is None,
    reason="compute.code (fetching a repository folder) is not in this checkout",
)


@pytest.fixture
def repository_version(db, settings, tmp_path):
    settings.COMPUTE_CODE_CACHE = str(tmp_path / "code-cache")
    origin = Origin(
        tmp_path / "origin",
        {
            "svc/paas.sh": '#!/bin/sh\n. "$(dirname "$0")/lib.sh"\nsay "$1"\n',
            "svc/lib.sh": 'say() { echo "$1 from the repository, who=$PAAS_VAR_who"; }\n',
            "README.md": "not part of the folder\n",
        },
    )
    version = make_template(
        make_project("platform"), "from-git", variables=[{"name": "who", "value": "git"}]
    )
    TemplateVersion.objects.filter(pk=version.pk).update(
        code_repository=origin.url, code_path="svc", code_revision="main"
    )
    return origin, version


@needs_fetching
def test_a_repository_version_runs_its_folder_at_its_pinned_commit(repository_version):
    origin, version = repository_version
    TemplateVersion.objects.filter(pk=version.pk).update(code_commit=origin.commit)
    status, out, err = try_code("--template", "platform/from-git", "--version", "v1")
    assert status == 0, err
    assert out == "deploy from the repository, who=git\nOutputs: none\n"
    assert f"svc/paas.sh of {origin.url} at {origin.commit}" in err


@needs_fetching
def test_a_repository_version_without_a_pinned_commit_runs_its_revision(repository_version):
    # code_commit is empty: a draft, never activated
    status, out, err = try_code("--template", "platform/from-git", "--version", "v1")
    assert status == 0, err
    assert out.startswith("deploy from the repository")


@needs_fetching
def test_a_repository_that_cannot_be_fetched_is_a_command_error(repository_version, tmp_path):
    _, version = repository_version
    missing = (tmp_path / "nowhere.git").as_uri()
    TemplateVersion.objects.filter(pk=version.pk).update(code_repository=missing)
    message = refused("--template", "platform/from-git", "--version", "v1")
    assert missing in message and "cannot be reached" in message  # compute.code's sentence


# Bad input ---------------------------------------------------------------------------------------


def test_the_code_must_be_named_exactly_once(tmp_path, write):
    script = write("code.sh", "echo hi\n")
    assert "exactly one of --script, --folder or --template with --version." in refused()
    both = refused("--script", script, "--folder", str(tmp_path))
    assert "not --script and --folder." in both
    assert "not --script and --template." in refused(
        "--script", script, "--template", "a/b", "--version", "v1"
    )


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (None, "The inputs file {path} does not exist."),
        ("variables: {a: [1, 2}\n", "The inputs file {path} is not valid YAML at line 1"),
        ("- just\n- a list\n", "must be a mapping of variables, extraConfig, labels, sensitive"),
        ("variable: {a: 1}\n", "has variable: it may have only variables, extraConfig"),
        ("variables: [a, b]\n", "variables must be a mapping of names to values"),
        ("variables: {1: one}\n", "variables has names that are not text: 1"),
        ("variables: {not-a-name: x}\n", "“not-a-name” is not a valid name"),
        ("extraConfig: {A B: x}\n", "“A B” is not a valid name"),
        ("sensitive: token\n", "sensitive must be a list of names"),
        ("variables: {a: x}\nsensitive: [b]\n", "sensitive list names b"),
    ],
)
def test_a_bad_inputs_file_is_refused_saying_why(tmp_path, write, inputs, message):
    path = str(tmp_path / "inputs.yaml") if inputs is None else write("inputs.yaml", inputs)
    script = write("code.sh", "echo hi\n")
    assert message.format(path=path) in refused("--script", script, "--inputs", path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--script", "{tmp}/missing.sh"], "The script {tmp}/missing.sh does not exist."),
        (["--script", "{tmp}"], "is a folder: use --folder for a folder."),
        (["--script", "{tmp}/empty.sh"], "The script {tmp}/empty.sh is empty."),
        (["--folder", "{tmp}/missing"], "The folder {tmp}/missing does not exist."),
        (["--folder", "{tmp}/no-entry"], "has no paas.sh"),
        (["--script", "{tmp}/code.sh", "--time-limit", "0"], "--time-limit must be a positive"),
        (["--script", "{tmp}/code.sh", "--service", "Bad_Name"], "--service “Bad_Name”: Use"),
        (["--script", "{tmp}/code.sh", "--project", "x/y"], "--project “x/y”: Use"),
        (["--script", "{tmp}/code.sh", "--workdir", "{tmp}/code.sh"], "is not a folder."),
    ],
)
def test_bad_arguments_are_refused_saying_why(tmp_path, write, args, message):
    write("code.sh", "echo hi\n")
    write("empty.sh", "  \n")
    write("no-entry/README.md", "nothing to run\n")
    args = [arg.format(tmp=tmp_path) for arg in args]
    assert message.format(tmp=tmp_path) in refused(*args)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "research/nope", "--version", "v1"], "There is no template research/nope."),
        (["--template", "research/notebook", "--version", "v7"], "has no version v7 (its versions"),
        (["--template", "notebook", "--version", "v1"], "name it OWNER/NAME"),
        (["--template", "research/notebook"], "--template OWNER/NAME and --version vN go together"),
        (["--version", "v1"], "--template OWNER/NAME and --version vN go together"),
    ],
)
def test_unknown_templates_and_versions_are_refused(stored, args, message):
    assert message in refused(*args)


def test_the_command_line_reports_errors_and_exit_statuses(tmp_path, write):
    """Through manage.py itself: a CommandError is one line, and the code's status is kept."""
    manage = Path(__file__).resolve().parent.parent / "manage.py"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(manage), "try_code", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    failing = run("--script", write("code.sh", "echo out\nexit 4\n"))
    assert failing.returncode == 4
    assert failing.stdout == "out\nOutputs: none\n"
    bad = run("--script", str(tmp_path / "missing.sh"))
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"CommandError: The script {tmp_path}/missing.sh does not exist."


def test_ctrl_c_cancels_the_run_stopping_its_process_group(write):
    """As the portal's cancel does: the code's process group is stopped and the run fails."""
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    script = write(
        "code.sh", "trap 'echo stopping; exit 143' TERM\necho started\nsleep 30 & wait\n"
    )
    process = subprocess.Popen(
        [sys.executable, str(manage), "try_code", "--script", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "started\n"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1
    assert out == "stopping\nOutputs: none\n"
    assert "The run was cancelled and its processes were stopped." in err
