"""The readme renderer child: started once, reused, replaced when a readme stops it.

Consecutive renders are served by one child, which gives each render the full CPU budget; a
readme that stops it (too slow, or missing the wall-clock deadline) is refused and the next
readme renders in a new child, the old one reaped; a child that died while idle costs the next
readme nothing. A forked process starts its own child and leaves its parent's alone, and a
process that exits takes its child with it.
"""

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from profiles import readme
from profiles.readme import RENDER_CPU_SECONDS, TOO_DEEP, TOO_SLOW, render_readme
from tests.test_readme_limits import ORDINARY, filled, nested_list

ROOT = Path(__file__).resolve().parent.parent
_numbers = itertools.count()


def ordinary() -> str:
    """An ordinary readme never rendered before in this process (renders are remembered)."""
    return f"# Readme {next(_numbers)}\n\nSome *text* and a [link](https://example.com).\n"


def renderer_pid() -> int:
    return readme._renderer.process.pid


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T, Z, …), or None once it is gone (reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(condition, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_consecutive_renders_are_served_by_one_renderer():
    render_readme(ordinary())
    first = renderer_pid()
    for _ in range(20):
        assert "<em>text</em>" in render_readme(ordinary())
    assert renderer_pid() == first
    assert state(first) in {"R", "S"}


def test_a_renderer_started_by_a_large_process_is_not_taken_for_a_large_one():
    """The renderer is replaced when its own memory grows, not for the size of the process
    that started it (which a long-lived worker or a whole test run reaches)."""
    ballast = bytearray(2 * readme._RENDERER_MAX_RSS_BYTES)
    ballast[:: os.sysconf("SC_PAGE_SIZE")] = b"x" * len(ballast[:: os.sysconf("SC_PAGE_SIZE")])
    readme._renderer.close()  # the next render starts a renderer from this large process
    render_readme(ordinary())
    started = renderer_pid()
    del ballast
    for _ in range(5):
        render_readme(ordinary())
    assert renderer_pid() == started


def test_each_render_gets_the_full_cpu_budget_however_many_came_before():
    render_readme(ordinary())
    pid = renderer_pid()
    for number in range(30):  # until the renders together spent more than one budget
        assert "<table>" in render_readme(filled(ORDINARY)[:-10] + f"\n\n{number:08}\n")
        if cpu_seconds(pid) > RENDER_CPU_SECONDS + 2:
            break
    assert cpu_seconds(pid) > RENDER_CPU_SECONDS + 2
    assert renderer_pid() == pid


def test_after_a_readme_too_slow_to_render_the_next_renders_in_a_new_renderer():
    render_readme(ordinary())
    stopped = renderer_pid()
    with pytest.raises(ValidationError) as refused:
        render_readme(filled("<a "))
    assert refused.value.messages == [TOO_SLOW]
    assert state(stopped) is None  # killed and reaped, no zombie
    assert "<em>text</em>" in render_readme(ordinary())
    assert renderer_pid() != stopped


def test_a_readme_nesting_too_deeply_is_refused_by_the_same_renderer():
    render_readme(ordinary())
    pid = renderer_pid()
    with pytest.raises(ValidationError) as refused:
        render_readme(nested_list(250))
    assert refused.value.messages == [TOO_DEEP]
    render_readme(ordinary())
    assert renderer_pid() == pid


def test_a_renderer_missing_the_deadline_is_killed_and_its_readme_refused(monkeypatch):
    render_readme(ordinary())
    stuck = renderer_pid()
    os.kill(stuck, signal.SIGSTOP)  # starved: no CPU limit will ever stop it
    monkeypatch.setattr(readme, "_RENDER_WALL_SECONDS", 0.5)
    start = time.monotonic()
    with pytest.raises(ValidationError) as refused:
        render_readme(ordinary())
    assert time.monotonic() - start < 3
    assert refused.value.messages == [TOO_SLOW]
    assert state(stuck) is None
    render_readme(ordinary())
    assert renderer_pid() != stuck


def test_a_renderer_that_died_while_idle_is_replaced_without_refusing_the_next_readme():
    render_readme(ordinary())
    dead = renderer_pid()
    os.kill(dead, signal.SIGKILL)
    assert wait_for(lambda: state(dead) == "Z")
    assert "<em>text</em>" in render_readme(ordinary())
    assert renderer_pid() != dead
    assert state(dead) is None


def test_a_renderer_grown_past_its_memory_rule_is_replaced_after_its_render(monkeypatch):
    render_readme(ordinary())
    monkeypatch.setattr(readme, "_RENDERER_MAX_RSS_BYTES", 0)
    grown = renderer_pid()
    assert "<em>text</em>" in render_readme(ordinary())
    assert state(grown) is None
    render_readme(ordinary())
    assert renderer_pid() != grown


def forked(work) -> tuple[int, str]:
    """Run ``work`` in a forked copy of this process: its exit status and what it returned."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the forked copy
        os.close(reader)
        try:
            answer, status = str(work()), 0
        except BaseException as error:
            answer, status = repr(error), 1
        os.write(writer, answer.encode())
        os._exit(status)
    os.close(writer)
    with os.fdopen(reader) as answer:
        said = answer.read()
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status), said


def test_a_forked_process_starts_its_own_renderer_and_leaves_its_parents_alone():
    render_readme(ordinary())
    parents = renderer_pid()

    def render_then_exit() -> int:
        assert "<em>text</em>" in render_readme(ordinary())
        pid = renderer_pid()
        readme._close_renderer()  # what its exit runs
        assert state(pid) is None
        return pid

    status, said = forked(render_then_exit)
    assert status == 0, said
    assert int(said) != parents
    assert state(parents) in {"R", "S"}
    render_readme(ordinary())
    assert renderer_pid() == parents


def test_a_forked_process_exiting_without_rendering_leaves_its_parents_renderer_alive():
    render_readme(ordinary())
    parents = renderer_pid()
    status, said = forked(readme._close_renderer)
    assert status == 0, said
    render_readme(ordinary())
    assert renderer_pid() == parents


RENDER_AND_SAY_PID = """
import os, sys
from profiles import readme
readme.render_readme("# Hello")
print(readme._renderer.process.pid, flush=True)
if sys.argv[1] == "killed":
    os._exit(0)  # no atexit: the renderer sees its socket close
"""


# An orphaned renderer is reaped by whoever adopts it; as a zombie it has ended all the same.
@pytest.mark.parametrize(("how", "ended"), [("exits", {None}), ("killed", {None, "Z"})])
def test_the_renderer_ends_with_its_process(how, ended):
    done = subprocess.run(
        [sys.executable, "-c", RENDER_AND_SAY_PID, how],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    pid = int(done.stdout)
    assert wait_for(lambda: state(pid) in ended)
    assert done.stderr == ""
