"""``manage.py try_code``: a dry run of the code contract (SPEC §8) for template authors.

Runs a template's code on this machine with the local driver, against an inputs file, the way a
launch would run it on a compute instance: ``<entry> deploy`` (or ``destroy``, ``status``) in a
working folder, with the contract's environment. It prints the log as it arrives (sensitive
values masked), then the outputs, and exits with the code's exit status (1 when it could not
run). The working folder is thrown away afterwards unless ``--workdir`` names one to keep, so
that ``deploy`` and then ``destroy`` can be tried in turn against the same folder.

Nothing is written to the database: ``--template`` only reads a stored version.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import threading
from argparse import RawDescriptionHelpFormatter
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)

from compute.drivers import ACTIONS, Code, LaunchSpec, RunResult, describe_duration, status_answer
from compute.drivers.local import LocalDriver
from compute.inputs import as_env
from profiles.models import EnvironmentTemplate, TemplateVersion
from profiles.validators import parse_value, validate_variable_name
from studio.validators import validate_resource_name

INPUT_KEYS = ("variables", "extraConfig", "labels", "sensitive")
PROFILE = "dry-run"  # PAAS_PROFILE of a dry run
REVISION = 1  # PAAS_REVISION of a dry run

HELP = """\
Run a template's code on this machine, as a launch would on a compute instance: <entry> deploy
(or destroy, status) in a working folder, with the code contract's environment. Name the code
with exactly one of --script, --folder or --template with --version. The log is printed as it
arrives, every sensitive value masked as ***; then every output the code wrote, as name=value
lines under "Outputs:" (all of them: which outputs a profile treats as sensitive is not known
here, so none is hidden). After a status run, what the code answered. The command exits with
the code's exit status, or 1 when it could not run (time limit, Ctrl-C, code that cannot
start). PAAS_PROFILE is "dry-run" and PAAS_REVISION 1.

As on a compute instance, status runs the code that deploy left in the working folder (so it
needs --workdir DIR of a deploy), and a successful destroy removes the working folder.

The inputs file (YAML or JSON):
  variables:   {name: value}   -> PAAS_VAR_<name>; true/false for booleans, JSON text for
                                  mappings and lists, numbers as written
  extraConfig: {NAME: value}   -> plain environment variables
  labels:      {key: value}    -> PAAS_LABELS (JSON)
  sensitive:   [name, ...]     -> variables or extraConfig entries masked in the log
With --template the version's variables give the value types (booleans must be true or false,
json must parse, numbers be numbers), names it does not declare are refused, the variables the
file leaves out take the version's default, and those it marks sensitive are masked."""


class HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's order of options (but --version is this command's own), and the description's
    own line breaks."""

    show_last = DjangoHelpFormatter.show_last - {"--version"}


class FixedFolderDriver(LocalDriver):
    """The local driver with one given working folder (``--workdir``) for every service."""

    def __init__(self, root: Path, folder: Path) -> None:
        super().__init__(root)
        self.folder = folder

    def workdir(self, project: str, service: str) -> Path:
        super().workdir(project, service)  # the same checks of the names
        return self.folder


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs) -> CommandParser:
        # The help keeps its line breaks; this command's --version (a template version)
        # replaces the one every command has (Django's version).
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        code = parser.add_argument_group("the code (exactly one)")
        code.add_argument(
            "--script", metavar="PATH", help="An inline script, as it would be pasted in a version."
        )
        code.add_argument(
            "--folder", metavar="PATH", help="A folder holding paas.sh, as it would be committed."
        )
        code.add_argument(
            "--template",
            metavar="OWNER/NAME",
            help="A template stored in the portal (its project/its name), with --version.",
        )
        code.add_argument(
            "--version",
            dest="template_version",
            metavar="vN",
            help="The template's version: its inline code, or its repository folder at its "
            "pinned commit.",
        )
        parser.add_argument("--inputs", metavar="FILE", help="The inputs file (YAML or JSON).")
        parser.add_argument(
            "--action", choices=ACTIONS, default="deploy", help="What to run (default deploy)."
        )
        parser.add_argument("--service", default="dry-run", help="PAAS_SERVICE (default dry-run).")
        parser.add_argument("--project", default="dry-run", help="PAAS_PROJECT (default dry-run).")
        parser.add_argument(
            "--workdir",
            metavar="DIR",
            help="Use DIR as the working folder and keep it (created if missing; removed, as "
            "always, by a successful destroy). Default: a throwaway folder.",
        )
        parser.add_argument(
            "--time-limit",
            type=float,
            metavar="SECONDS",
            help="Stop the run after this long (default: the COMPUTE_RUN_TIME_LIMIT setting; "
            "for status, COMPUTE_STATUS_TIME_LIMIT).",
        )

    def handle(
        self,
        *args,
        script: str | None,
        folder: str | None,
        template: str | None,
        template_version: str | None,
        inputs: str | None,
        action: str,
        service: str,
        project: str,
        workdir: str | None,
        time_limit: float | None,
        **options,
    ) -> None:
        for option, name in (("--service", service), ("--project", project)):
            try:
                validate_resource_name(name)
            except ValidationError as error:
                raise CommandError(f"{option} “{name}”: {error.messages[0]}") from None
        named = [n for n, v in (("--script", script), ("--folder", folder)) if v is not None]
        if template is not None or template_version is not None:
            named.append("--template")
        if len(named) != 1:
            raise CommandError(
                "Name the code with exactly one of --script, --folder or --template with "
                + ("--version." if not named else f"--version, not {' and '.join(named)}.")
            )
        limit = self._time_limit(time_limit, action)
        data = read_inputs(Path(inputs)) if inputs else {}

        variables, sensitive = plain_variables(data.get("variables", {})), set()
        if script is not None:
            code, what = Code(inline=read_script(Path(script))), script
        elif folder is not None:
            code, what = Code(folder=str(code_folder(Path(folder)))), f"{folder}/paas.sh"
        else:
            version = find_version(template, template_version)
            variables, sensitive = typed_variables(version, data.get("variables", {}))
            code, what = version_code(version), f"{template} {template_version}"
            if code.repository:
                where = f"{code.path}/paas.sh" if code.path else "paas.sh"
                what += f" ({where} of {code.repository} at {code.revision})"
        extra_env = {name: to_text(value) for name, value in data.get("extraConfig", {}).items()}
        labels = {key: to_text(value) for key, value in data.get("labels", {}).items()}
        secrets = secret_values(data.get("sensitive", []), sensitive, variables, extra_env)

        spec = LaunchSpec(
            service=service,
            project=project,
            profile=PROFILE,
            revision=REVISION,
            action=action,
            code=code,
            variables=variables,
            extra_env=extra_env,
            labels=labels,
            secrets=secrets,
            time_limit=limit,
        )
        self._run(spec, what, Path(workdir) if workdir else None)

    def _say(self, text: str, *, error: bool = False) -> None:
        """Print a line now: the log's lines and the command's own keep their order."""
        out = self.stderr if error else self.stdout
        out.write(text)
        out.flush()

    def _time_limit(self, given: float | None, action: str) -> float:
        if given is not None:
            if not given > 0:
                raise CommandError(
                    f"--time-limit must be a positive number of seconds, not {given:g}."
                )
            return given
        if action == "status":
            return float(
                getattr(settings, "COMPUTE_STATUS_TIME_LIMIT", settings.COMPUTE_RUN_TIME_LIMIT)
            )
        return float(settings.COMPUTE_RUN_TIME_LIMIT)

    def _run(self, spec: LaunchSpec, what: str, keep: Path | None) -> None:
        """Run ``spec`` in ``keep`` (or a throwaway folder), printing each line as it comes,
        then what came of it; SystemExit with the code's exit status when it is not 0."""
        root = Path(tempfile.mkdtemp(prefix="paas-try-code-"))
        try:
            driver, folder = self._driver(spec, root, keep)
            self._say(
                f"Running {spec.action} of {what} in {folder} "
                f"(time limit {describe_duration(spec.time_limit)}).",
                error=True,
            )
            lines: list[str] = []

            def on_line(line: str) -> None:
                lines.append(line)
                self._say(line)

            result = self._follow(driver, spec, on_line)
        finally:
            shutil.rmtree(root, ignore_errors=True)

        if spec.action == "status":
            answer = status_answer(lines)
            self._say(
                f"status: {answer}"
                if answer
                else "status: no answer (its last line was not running, stopped or failed)"
            )
        else:
            self._say("Outputs:" if result.outputs else "Outputs: none")
            for name, value in result.outputs.items():
                self._say(f"{name}={value}")
        if result.error:
            self._say(result.error, error=True)
        elif result.exit_code:
            self._say(f"The code exited with status {result.exit_code}.", error=True)
        if keep is not None and not folder.exists():
            self._say(
                f"The working folder {folder} was removed (a successful destroy).", error=True
            )
        elif keep is None and spec.action == "deploy":
            self._say(
                "The working folder was thrown away; what deploy left running keeps running. "
                "Use --workdir DIR to keep it, then --action destroy with it.",
                error=True,
            )

        if result.error or result.exit_code is None:
            raise SystemExit(1)
        if result.exit_code:
            # A signal's negative number becomes the shell's 128 + signal.
            raise SystemExit(result.exit_code if result.exit_code > 0 else 128 - result.exit_code)

    def _driver(self, spec: LaunchSpec, root: Path, keep: Path | None) -> tuple[LocalDriver, Path]:
        """The local driver for the run, and the working folder it runs in."""
        if keep is None:
            driver = LocalDriver(root)
            folder = driver.workdir(spec.project, spec.service)
        else:
            folder = keep.expanduser().resolve()
            if folder.exists() and not folder.is_dir():
                raise CommandError(f"--workdir {keep} is not a folder.")
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise CommandError(f"--workdir {keep} cannot be made: {reason(error)}.") from None
            driver = FixedFolderDriver(root, folder)
        if spec.action == "status" and not (folder / ".paas").is_dir():
            asks = "status asks the code a deploy left in the working folder"
            raise CommandError(
                f"{asks}, and {folder} holds none: deploy there first."
                if keep
                else f"{asks}: deploy with --workdir DIR, then ask with the same --workdir."
            )
        return driver, folder

    def _follow(
        self, driver: LocalDriver, spec: LaunchSpec, on_line: Callable[[str], None]
    ) -> RunResult:
        """``driver.run(spec)``, with Ctrl-C cancelling the run as the portal's Cancel does (the
        code's process group is stopped); a second Ctrl-C interrupts at once."""
        cancel = threading.Event()
        handling = threading.current_thread() is threading.main_thread()
        previous = (signal.getsignal(signal.SIGINT) if handling else None) or signal.SIG_DFL

        def interrupt(signum: int, frame: object) -> None:
            cancel.set()
            signal.signal(signal.SIGINT, previous)

        if handling:
            signal.signal(signal.SIGINT, interrupt)
        try:
            return driver.run(spec, on_line, cancel)
        except ValueError as error:  # a value the environment cannot carry (a NUL, say)
            raise CommandError(f"The run cannot start: {error}.") from None
        finally:
            if handling:
                signal.signal(signal.SIGINT, previous)


# The inputs file ----------------------------------------------------------------------------


def read_inputs(path: Path) -> dict[str, Any]:
    """The inputs file's mapping, its shape checked; CommandError saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"The inputs file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"The inputs file {path} could not be read: {reason(error)}.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CommandError(f"The inputs file {path} is not valid YAML{where}: {problem}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CommandError(f"The inputs file {path} must be a mapping of {', '.join(INPUT_KEYS)}.")
    unknown = [str(key) for key in data if key not in INPUT_KEYS]
    if unknown:
        raise CommandError(
            f"The inputs file {path} has {', '.join(unknown)}: it may have only "
            f"{', '.join(INPUT_KEYS)}."
        )
    for key in ("variables", "extraConfig", "labels"):
        section = data.get(key)
        if section is None:
            data[key] = {}
        elif not isinstance(section, dict):
            raise CommandError(
                f"In the inputs file {path}, {key} must be a mapping of names to values."
            )
        elif bad := [repr(name) for name in section if not isinstance(name, str)]:
            raise CommandError(
                f"In the inputs file {path}, {key} has names that are not text: {', '.join(bad)}."
            )
    for key in ("variables", "extraConfig"):
        for name in data[key]:
            try:
                validate_variable_name(name)
            except ValidationError as error:
                raise CommandError(
                    f"In the inputs file {path}, {key}: {error.messages[0]}"
                ) from None
    sensitive = data.get("sensitive")
    if sensitive is None:
        data["sensitive"] = []
    elif not isinstance(sensitive, list) or not all(isinstance(n, str) for n in sensitive):
        raise CommandError(f"In the inputs file {path}, sensitive must be a list of names.")
    return data


def to_text(value: Any) -> str:
    """A YAML value as the code's environment carries it: ``true``/``false`` for booleans, JSON
    text for mappings and lists, numbers as their text, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


def plain_variables(given: dict[str, Any]) -> dict[str, str]:
    return {name: to_text(value) for name, value in given.items()}


def typed_variables(
    version: TemplateVersion, given: dict[str, Any]
) -> tuple[dict[str, str], set[str]]:
    """The values of a stored version's variables, as a launch would give them (the file's, else
    the version's defaults), each parsed as its value type; and the sensitive ones' names."""
    declared = {variable.name: variable for variable in version.variables.all()}
    problems = [
        f"“{name}” is not a variable of this version" for name in given if name not in declared
    ]
    values: dict[str, str] = {}
    for name, variable in declared.items():
        text = to_text(given[name]) if name in given else variable.effective_value
        try:
            values[name] = as_env(variable.value_type, parse_value(variable.value_type, text))
        except ValidationError as error:
            message = error.messages[0]
            if variable.sensitive:  # never repeat a secret in a message
                message = f"The value is not a valid {variable.value_type} value."
            problems.append(f"{name}: {message}")
    if problems:
        known = ", ".join(declared) or "none"
        raise CommandError(
            f"The inputs do not fit the version: {'; '.join(problems)} (its variables: {known})."
        )
    return values, {name for name, variable in declared.items() if variable.sensitive}


def secret_values(
    names: list[str], marked: set[str], variables: dict[str, str], extra_env: dict[str, str]
) -> tuple[str, ...]:
    """The values to mask: the variables and extraConfig entries the file names sensitive, and
    the variables the version marks so."""
    unknown = [n for n in names if n not in variables and n not in extra_env]
    if unknown:
        raise CommandError(
            f"The inputs' sensitive list names {', '.join(unknown)}: only variables and "
            "extraConfig entries of the run can be sensitive."
        )
    values = [variables.get(n, "") for n in {*names, *marked}]
    values += [extra_env.get(n, "") for n in names]
    return tuple(sorted({v for v in values if v}))


# The code -----------------------------------------------------------------------------------


def read_script(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"The script {path} does not exist.") from None
    except IsADirectoryError:
        raise CommandError(f"The script {path} is a folder: use --folder for a folder.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"The script {path} could not be read: {reason(error)}.") from None
    if not text.strip():
        raise CommandError(f"The script {path} is empty.")
    return text


def code_folder(path: Path) -> Path:
    if not path.is_dir():
        raise CommandError(f"The folder {path} does not exist.")
    if not (path / "paas.sh").is_file():
        raise CommandError(f"The folder {path} has no paas.sh, the entry of a code folder.")
    return path.resolve()


def find_version(template: str | None, version: str | None) -> TemplateVersion:
    if not template or not version:
        raise CommandError("--template OWNER/NAME and --version vN go together.")
    owner, slash, name = template.partition("/")
    if not slash or not owner or not name or "/" in name:
        raise CommandError(
            f"--template “{template}”: name it OWNER/NAME, the project owning it and its name."
        )
    found = EnvironmentTemplate.objects.filter(project__name=owner, name=name).first()
    if found is None:
        raise CommandError(f"There is no template {template}.")
    stored = found.versions.filter(name=version).first()
    if stored is None:
        names = ", ".join(found.versions.values_list("name", flat=True)) or "none"
        raise CommandError(
            f"The template {template} has no version {version} (its versions: {names})."
        )
    return stored


def version_code(version: TemplateVersion) -> Code:
    """A stored version's code: inline, or its repository folder fetched at its pinned commit
    (its revision when none is pinned yet)."""
    if not version.code_repository:
        if not version.code_inline.strip():
            raise CommandError(f"{version.template.name} {version.name} has no code.")
        return Code(inline=version.code_inline)
    commit = getattr(version, "code_commit", "") or version.code_revision
    try:
        from compute.code import CodeUnavailable, fetch_code
    except ImportError:
        raise CommandError(
            "This installation cannot fetch code from a repository (compute.code is missing)."
        ) from None
    try:
        folder = fetch_code(version.code_repository, commit, version.code_path)
    except CodeUnavailable as error:
        raise CommandError(str(error)) from None
    return Code(
        repository=version.code_repository,
        path=version.code_path,
        revision=commit,
        folder=str(folder),
    )


def reason(error: Exception) -> str:
    strerror = getattr(error, "strerror", None)
    return strerror.lower() if strerror else str(error)
