"""How a service's code runs on a compute instance: the protocol and its plain data (SPEC §8).

A driver runs a template version's code once, as ``<entry> deploy`` or ``<entry> destroy``, in
the service's working folder on the instance, and hands back what came of it. It knows nothing of
Django, models or the database: the caller turns a service and its pinned revision into a
:class:`LaunchSpec`, and stores the lines and the :class:`RunResult` it gets back.

The code contract (what the code sees) is the same for every driver:

- ``PAAS_VAR_<name>`` for every resolved input, as text (JSON text for ``json``, ``true`` or
  ``false`` for booleans);
- the profile's Extra Configuration entries as plain environment variables;
- ``PAAS_SERVICE``, ``PAAS_PROJECT``, ``PAAS_PROFILE``, ``PAAS_REVISION``, ``PAAS_WORKDIR`` and
  ``PAAS_LABELS`` (JSON), which win over Extra Configuration entries of the same name;
- ``PAAS_OUTPUTS``, a file emptied before each run where the code writes ``name=value`` lines
  (read with :func:`parse_outputs`: the last value of a name wins).

Exit code 0 means success. A nonzero exit is the code's own failure and is no ``error``: the
``error`` of a result is for what went wrong around the code (a time limit, a cancellation, code
that cannot be started, an instance that cannot be reached), in one sentence for the person.

Besides ``deploy`` and ``destroy`` a driver runs ``status``: the code, if it knows how, prints
``running``, ``stopped`` or ``failed`` as its last line (health checks, SPEC §8). A ``status``
run leaves the outputs file alone. After a successful ``destroy`` the working folder is removed.
"""

from __future__ import annotations

import codecs
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "CANCELLED",
    "CODE_NOT_FETCHED",
    "DEFAULT_TIME_LIMIT",
    "MASK",
    "NO_CODE",
    "Code",
    "Driver",
    "LaunchSpec",
    "LineReader",
    "ProbeResult",
    "RunResult",
    "checked_environment",
    "contract_environment",
    "describe_duration",
    "line_secrets",
    "mask",
    "parse_outputs",
    "script_of",
    "time_limit_error",
]

Action = Literal["deploy", "destroy", "status"]
ACTIONS: tuple[Action, ...] = ("deploy", "destroy", "status")

#: The error of a run that was cancelled.
CANCELLED = "The run was cancelled and its processes were stopped."

#: Why a run did not start, when its spec has no code a driver can run.
CODE_NOT_FETCHED = "The code from the repository was not fetched for this run."
NO_CODE = "The template version has no code to run."

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: What a ``status`` run may answer, as its last line.
STATUS_ANSWERS = ("running", "stopped", "failed")

#: What every secret becomes in a log line.
MASK = "***"

#: SPEC §8: a run that exceeds its time limit (a setting, default 30 minutes) is stopped and fails.
DEFAULT_TIME_LIMIT = 30 * 60.0


@dataclass(frozen=True)
class Code:
    """A template version's code: an inline script, or a folder of a git repository.

    Inline code is the entry itself. Repository code is the folder ``path`` of ``repository`` at
    the pinned ``revision``, whose entry is its ``paas.sh``; the caller fetches it and gives the
    fetched copy on this machine as ``folder``, which the driver copies to the instance.
    """

    inline: str = ""
    repository: str = ""
    path: str = ""
    revision: str = ""
    folder: str = ""

    @property
    def entry_name(self) -> str:
        """The entry's name inside the runner's folder: ``entry`` (inline) or ``code/paas.sh``."""
        return "code/paas.sh" if self.folder else "entry"


@dataclass(frozen=True)
class LaunchSpec:
    """Everything one run needs, already resolved: no driver looks anything up.

    ``variables`` are the resolved inputs, already as text (JSON text for ``json``, ``true`` or
    ``false`` for booleans), by input name; the code sees them as ``PAAS_VAR_<name>``.
    ``extra_env`` is the profile's Extra Configuration, given to the code as plain environment
    variables. ``secrets`` are the values to mask as ``***`` in every log line before it is passed
    on (the sensitive inputs' values). ``time_limit`` is in seconds.
    """

    service: str
    project: str
    profile: str
    revision: int
    action: Action
    code: Code
    variables: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    time_limit: float = DEFAULT_TIME_LIMIT


@dataclass(frozen=True)
class RunResult:
    """What came of one run.

    ``exit_code`` is the entry's exit status (negative: the signal that ended it), or None when it
    never ran. ``outputs`` are the ``name=value`` lines the code wrote to ``PAAS_OUTPUTS``, as they
    are (masking applies to log lines only). ``error`` is "" unless something around the code
    went wrong, then one plain sentence for the person, such as "The run exceeded its time limit
    of 30 minutes and was stopped."
    """

    exit_code: int | None
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""
    #: When the instance could not be reached (or trusted): the kind of problem, as
    #: :class:`compute.drivers.ssh.ConnectionProblem` names it; the code did not run.
    problem: str = ""

    @property
    def ok(self) -> bool:
        """The code ran to its end and said it succeeded."""
        return self.exit_code == 0 and not self.error


@dataclass(frozen=True)
class ProbeResult:
    """What a harmless probe of an instance found (``uname -a``, ``nvidia-smi -L`` if present).

    When the instance could not be reached, ``output`` says why and ``problem`` names the kind
    (see :class:`compute.drivers.ssh.ConnectionProblem`)."""

    reachable: bool
    output: str
    problem: str = ""


@runtime_checkable
class Driver(Protocol):
    """Runs code on one compute instance."""

    def run(
        self,
        spec: LaunchSpec,
        on_line: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run ``spec``'s code once, calling ``on_line`` with each log line, masked, as it comes.

        ``on_line`` is called in the caller's thread. When ``cancel`` is set the run's process
        group is stopped and the result's error is :data:`CANCELLED`. It returns when the run is
        over; it raises only for a spec that breaks its own invariants (``ValueError``) or when
        ``on_line`` raises (after stopping the run).
        """
        ...

    def probe(self) -> ProbeResult:
        """Run a harmless probe of the instance and say what came back."""
        ...


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every non-empty secret replaced by ``***``.

    Longer secrets go first, so a secret that contains another is masked whole; where two
    occurrences overlap, the stretch they cover together becomes one ``***``, so no part of
    either shows.
    """
    spans: list[tuple[int, int]] = []
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        start = text.find(secret)
        while start != -1:
            spans.append((start, start + len(secret)))
            start = text.find(secret, start + 1)
    if not spans:
        return text
    spans.sort()
    pieces: list[str] = []
    position = 0
    span_start, span_end = spans[0]
    for start, end in spans[1:]:
        if start < span_end:  # overlapping: one stretch
            span_end = max(span_end, end)
            continue
        pieces += [text[position:span_start], MASK]
        position = span_end
        span_start, span_end = start, end
    pieces += [text[position:span_start], MASK, text[span_end:]]
    return "".join(pieces)


class LineReader:
    """Bytes in, masked and cut lines out, each passed to ``on_line`` as soon as it is whole.

    Lines are UTF-8 (undecodable bytes replaced); a line longer than ``limit`` bytes is cut and
    " …" appended, with no part of a secret left at the cut.
    """

    def __init__(self, secrets: tuple[str, ...], limit: int, on_line: Callable[[str], None]):
        self.secrets = secrets
        self.limit = limit
        self.on_line = on_line
        # Enough bytes of a long line that every secret starting before the cut is whole in it.
        self.window = limit + max((len(s.encode()) for s in secrets), default=0)
        self.pending = bytearray()
        self.skipping = False  # the rest of a line already passed on, cut

    def feed(self, chunk: bytes) -> None:
        *whole, rest = chunk.split(b"\n")
        for piece in whole:
            if self.skipping:
                self.skipping = False
            else:
                self.pending += piece
                self._emit()
        if not self.skipping:
            self.pending += rest
            if len(self.pending) > self.window:
                self._emit()
                self.skipping = True

    def flush(self) -> None:
        """Pass on what is left of a last line without a newline."""
        if self.pending and not self.skipping:
            self._emit()
        self.pending.clear()
        self.skipping = False

    def _emit(self) -> None:
        raw = bytes(self.pending[: self.window])
        cut = len(self.pending) > self.window
        self.pending.clear()
        text = mask(raw.decode("utf-8", errors="replace").removesuffix("\r"), self.secrets)
        encoded = text.encode()
        if cut or len(encoded) > self.limit:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            text = _mask_tail(decoder.decode(encoded[: self.limit]), self.secrets) + " …"
        self.on_line(text)


def _mask_tail(text: str, secrets: tuple[str, ...]) -> str:
    """Mask the start of a secret that a cut left at the end of ``text``."""
    longest = 0
    for secret in secrets:
        for size in range(min(len(secret) - 1, len(text)), longest, -1):
            if text.endswith(secret[:size]):
                longest = size
                break
    return text[: len(text) - longest] + MASK if longest else text


def script_of(spec: LaunchSpec) -> tuple[str, RunResult | None]:
    """The inline script of ``spec`` (CRLF made LF: a browser's textarea sends CRLF), and the
    result of a run that cannot start for want of code (None when it can). ValueError for a
    spec that breaks its own invariants (an unknown action, a time limit that is not
    positive)."""
    if spec.action not in ACTIONS:
        raise ValueError(f"Unknown action {spec.action!r}")
    if not spec.time_limit > 0:
        raise ValueError("The time limit must be positive")
    script = spec.code.inline.replace("\r\n", "\n")
    if spec.code.repository and not spec.code.folder:
        return script, RunResult(exit_code=None, error=CODE_NOT_FETCHED)
    if not spec.code.folder and not script.strip():
        return script, RunResult(exit_code=None, error=NO_CODE)
    return script, None


def contract_environment(spec: LaunchSpec) -> dict[str, str]:
    """What the contract gives the code, but for the paths (``PAAS_WORKDIR``, ``PAAS_OUTPUTS``),
    which each driver knows: Extra Configuration, then ``PAAS_VAR_<name>``, then the
    ``PAAS_*`` facts, each later one winning over an earlier one of the same name."""
    env = dict(spec.extra_env)
    env.update({f"PAAS_VAR_{name}": value for name, value in spec.variables.items()})
    env.update(
        PAAS_SERVICE=spec.service,
        PAAS_PROJECT=spec.project,
        PAAS_PROFILE=spec.profile,
        PAAS_REVISION=str(spec.revision),
        PAAS_LABELS=json.dumps(spec.labels, ensure_ascii=False),
    )
    return env


def checked_environment(env: dict[str, str]) -> dict[str, str]:
    """``env``, once every name is a variable name and every value text without NUL
    (ValueError otherwise)."""
    for name, value in env.items():
        if not isinstance(name, str) or _ENV_NAME.fullmatch(name) is None:
            raise ValueError(f"{name!r} cannot name an environment variable")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"The value of {name} cannot be put in the environment")
    return env


def status_answer(lines: Iterable[str]) -> str:
    """What a ``status`` run answered: its last non-empty line, if that is one of
    :data:`STATUS_ANSWERS`, else ""."""
    last = next((line.strip().lower() for line in reversed(list(lines)) if line.strip()), "")
    return last if last in STATUS_ANSWERS else ""


def line_secrets(secrets: Iterable[str]) -> tuple[str, ...]:
    """The secrets to mask line by line: each secret, and each line of a multi-line one.

    A log is masked a line at a time, so a secret of several lines (a private key) could never
    match whole; its lines are masked one by one instead.
    """
    found: dict[str, None] = {}
    for secret in secrets:
        if not secret:
            continue
        found[secret] = None
        if "\n" in secret or "\r" in secret:
            for part in secret.splitlines():
                if part.strip():
                    found[part] = None
    return tuple(found)


def parse_outputs(text: str) -> dict[str, str]:
    """The ``name=value`` lines of a ``PAAS_OUTPUTS`` file; the last value of a name wins.

    A line without ``=``, or with nothing before it, is ignored. The name is stripped of spaces
    around it; the value is kept as written (but for the line's ending).
    """
    outputs: dict[str, str] = {}
    for line in text.split("\n"):
        name, equals, value = line.removesuffix("\r").partition("=")
        name = name.strip()
        if equals and name:
            outputs[name] = value
    return outputs


def describe_duration(seconds: float) -> str:
    """A duration for people: "2 seconds", "1.5 seconds", "30 minutes", "1 hour and 5 minutes"."""
    if round(seconds, 1) < 60:
        amount = round(seconds, 1)
        text = str(int(amount)) if amount == int(amount) else str(amount)
        return f"{text} second" if amount == 1 else f"{text} seconds"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{count} {unit}" if count == 1 else f"{count} {unit}s"
        for count, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second"))
        if count
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def time_limit_error(time_limit: float) -> str:
    """The error of a run stopped at its time limit."""
    return f"The run exceeded its time limit of {describe_duration(time_limit)} and was stopped."
