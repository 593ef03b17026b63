"""Readme rendering: markdown to sanitized HTML, the one function every page uses.

Markdown goes through Python-Markdown, then the nh3 sanitizer. Both have inputs on which they
take far more than linear time: Python-Markdown rebuilds a paragraph's text after each inline
element it finds (tens of thousands of them in one paragraph take minutes), its link patterns
scanned to the end of the paragraph for every unclosed ``[`` or ``(``, the HTML parser it
borrows from the standard library rescans for every unclosed tag, and html5ever (inside nh3)
takes quadratic time over thousands of nested elements. Deep nesting exhausts Python's stack.
So, without changing what an ordinary readme renders to:

- the link and image patterns match brackets in one pass over a text (through at most
  ``MAX_BRACKETS`` nested ones) and read a link's destination through at most
  ``MAX_LINK_MARKS`` parentheses or quotes, so runs of ``[``, ``![`` or ``[a](`` render in
  linear time;
- a readme nesting lists, quotes or emphasis more than ``MAX_NESTING`` levels deep is refused;
- each render may spend ``RENDER_CPU_SECONDS`` of CPU time (and the renderer
  ``_RENDER_MEMORY_BYTES`` of memory) and must answer within ``_RENDER_WALL_SECONDS``; a
  readme that needs more is refused.

The limits hold in a renderer child process, one per process that renders, started on the first
render and reused: starting a process for each readme cost ten times the render itself. A
renderer that a readme stopped is replaced on the next render (see ``_Renderer``).

A refusal is a ``ValidationError`` for the readme field (``validate_readme`` renders too), so
forms and the API answer with a message and the same readme never reaches a save.
"""

import atexit
import contextlib
import functools
import json
import math
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import markdown
import nh3
from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.extensions.codehilite import CodeHiliteExtension
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.nl2br import Nl2BrExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension
from markdown.inlinepatterns import (
    IMAGE_LINK_RE,
    IMAGE_REFERENCE_RE,
    LINK_RE,
    REFERENCE_RE,
    ImageInlineProcessor,
    ImageReferenceInlineProcessor,
    LinkInlineProcessor,
    ReferenceInlineProcessor,
    ShortImageReferenceInlineProcessor,
    ShortReferenceInlineProcessor,
    dequote,
)
from markdown.treeprocessors import Treeprocessor
from pygments.token import STANDARD_TYPES

MAX_NESTING = 32
MAX_BRACKETS = 32
MAX_LINK_MARKS = 16
RENDER_CPU_SECONDS = 4
# A child that has not answered by then is killed even if it was starved of CPU.
_RENDER_WALL_SECONDS = 4 * RENDER_CPU_SECONDS
_RENDER_MEMORY_BYTES = 2 * 1024**3
# A renderer whose peak memory passes this is replaced after its render (see _Renderer).
_RENDERER_MAX_RSS_BYTES = 256 * 1024**2

TOO_DEEP = (
    f"The readme nests too deeply (at most {MAX_NESTING} levels of lists, quotes or emphasis)."
)
TOO_SLOW = (
    f"The readme takes too long to render (more than {RENDER_CPU_SECONDS} seconds): thousands "
    "of inline elements or HTML tags in one paragraph are the usual cause; split it up or put "
    "such text in a code block."
)

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    "abbr": {"title"},
}
# Only the classes code highlighting writes survive; a readme cannot borrow the page's own.
# (nh3 takes ``class`` from here alone; it must not be listed in _ATTRIBUTES.)
_CLASSES = {
    "div": {"highlight"},
    "span": {name for name in STANDARD_TYPES.values() if name},
    "code": {f"language-{lang}" for lang in ("python", "bash", "shell", "yaml", "json", "text")},
}


def render_readme(text: str) -> SafeString:
    """Markdown (tables, fenced code with highlighting) as HTML with nothing active left in it.

    No script, style, iframe, SVG, form or event-handler attribute survives, links and images
    keep only absolute http, https and mailto addresses, and links get
    ``rel="noopener noreferrer nofollow"``. Raises ``ValidationError`` for a readme that nests
    too deeply or takes too long to render.
    """
    if not text.strip():
        return mark_safe("")
    html, problem = _rendered(text)
    if problem == "too_deep":
        raise ValidationError(TOO_DEEP, code="too_deep")
    if problem:
        raise ValidationError(TOO_SLOW, code="too_slow")
    return mark_safe(html)  # sanitized by nh3 in _html


# The renderer child ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)  # a readme is checked by its validator, then saved
def _rendered(text: str) -> tuple[str, str | None]:
    """The HTML of ``text``, or why there is none: ``too_deep`` or ``too_slow``."""
    global _renderer
    with _renderer_lock:  # one render at a time per renderer; the dev server is threaded
        if _renderer is None or not _renderer.usable():
            if _renderer is not None:
                _renderer.close()
            _renderer = _Renderer()
        return _renderer.render(text)


class _Renderer:
    """A child interpreter that renders readmes one at a time, sent to it over a socket.

    It is a fresh ``python`` rather than a fork, so it holds nothing of the process it serves
    (no threads, no database connection, no request). It belongs to the process that started
    it: a process forked from that one (a gunicorn or test-runner worker) lets go of its copy
    of the socket and starts its own. The child goes when its parent closes the socket, at
    exit (see ``_close_renderer``) or when the parent dies, whichever comes first.

    It is replaced after a render that stopped it (a CPU or memory limit, the wall-clock
    deadline, a crash) and after a render that left its peak memory above
    ``_RENDERER_MAX_RSS_BYTES``. Peak rather than current memory, and no render count: CPython
    keeps most of what it frees, so the peak is about what the child holds, and a leak shows
    there as surely as a render that left the heap large; the largest readmes peak under
    100 MiB, and the child needs 20 MiB of its own.
    """

    _COMMAND = [sys.executable, "-c", "from profiles.readme import _serve; _serve()"]
    _ROOT = Path(__file__).resolve().parent.parent

    def __init__(self) -> None:
        self.owner = os.getpid()
        self._channel, child_end = socket.socketpair()
        with child_end:
            self.process = subprocess.Popen(
                self._COMMAND,
                stdin=child_end,  # the child's fd 0 is its end of the socket
                cwd=self._ROOT,
                process_group=0,  # Ctrl-C at a dev server's terminal is for the server only
            )
        self._replies = self._channel.makefile("rb")

    def usable(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def render(self, text: str) -> tuple[str, str | None]:
        """What the child answers for ``text``; ``too_slow`` if a limit or the deadline stopped
        it first. Raises ``RuntimeError`` if the child crashed."""
        deadline = time.monotonic() + _RENDER_WALL_SECONDS
        try:
            reply = self._exchange(json.dumps(text).encode() + b"\n", deadline)
        except OSError:  # the deadline passed, or the child is gone
            reply = None
        except BaseException:  # interrupted: its reply must not be taken for the next one's
            self.close()
            raise
        if reply is None:
            if self._stopped_by_a_limit(deadline):
                return "", "too_slow"
            raise RuntimeError(f"The readme renderer failed (exit code {self.process.returncode}).")
        html, problem, peak_rss = json.loads(reply)
        if problem == "too_slow" or peak_rss > _RENDERER_MAX_RSS_BYTES:
            self.close()
        return html, problem

    def _exchange(self, request: bytes, deadline: float) -> bytes | None:
        self._channel.settimeout(max(deadline - time.monotonic(), 0.001))
        self._channel.sendall(request)
        self._channel.settimeout(max(deadline - time.monotonic(), 0.001))
        reply = self._replies.readline()
        return reply if reply.endswith(b"\n") else None

    def _stopped_by_a_limit(self, deadline: float) -> bool:
        """Stop the child that did not answer: was it a signal (SIGXCPU, SIGKILL, or ours at the
        deadline) rather than an error of its own?"""
        with contextlib.suppress(subprocess.TimeoutExpired):  # let a dying child finish dying
            self.process.wait(max(deadline - time.monotonic(), 0))
        self.close()
        return self.process.returncode < 0

    def close(self) -> None:
        """Stop the child and reap it; in a forked process, only let go of the socket."""
        self._replies.close()
        self._channel.close()
        if self.owner == os.getpid():
            self.process.kill()
            self.process.wait()


_renderer: _Renderer | None = None
_renderer_lock = threading.Lock()


@atexit.register
def _close_renderer() -> None:
    if _renderer is not None:
        _renderer.close()


def _serve() -> None:
    """The renderer child's loop: a readme in, its outcome and the child's peak memory out,
    until the parent closes the socket."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (_RENDER_MEMORY_BYTES, _RENDER_MEMORY_BYTES))
    with socket.socket(fileno=0) as channel, channel.makefile("rwb") as stream:
        for request in stream:
            _allow_cpu_seconds(RENDER_CPU_SECONDS)
            html, problem = _outcome(json.loads(request))
            stream.write(json.dumps([html, problem, _peak_rss()]).encode() + b"\n")
            stream.flush()


def _peak_rss() -> int:
    """The most memory this process has held since it started, in bytes.

    Read from /proc (VmHWM, of this program's own memory) rather than getrusage: its
    ``ru_maxrss`` carries over the size of the process it was forked from, across exec, so a
    renderer started by a large process would look large from its first render.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _allow_cpu_seconds(seconds: int) -> None:
    """Let the render about to start spend ``seconds`` of CPU time: RLIMIT_CPU counts from the
    child's start, so its soft limit moves past what earlier renders spent (the kernel sends
    SIGXCPU there, which ends the child). The hard limit stays as inherited."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent = math.ceil(usage.ru_utime + usage.ru_stime)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (spent + seconds, hard))


def _outcome(text: str) -> tuple[str, str | None]:
    try:
        return _html(text), None
    except (_TooDeep, RecursionError):
        return "", "too_deep"
    except MemoryError:
        return "", "too_slow"


def _html(text: str) -> str:
    html = markdown.markdown(
        text,
        extensions=[
            TableExtension(use_align_attribute=True),
            FencedCodeExtension(),
            CodeHiliteExtension(css_class="highlight", guess_lang=False),
            SaneListExtension(),
            Nl2BrExtension(),
            # A readme sits under the page's own h1 and a section h2: its "# Title" is an h3.
            TocExtension(baselevel=3),
            _BoundedExtension(),
        ],
        output_format="html",
    )
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style", "iframe", "svg", "math", "object", "embed"},
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
    )


# Python-Markdown, bounded -----------------------------------------------------------------------


class _TooDeep(Exception):
    pass


_BRACKET = re.compile(r"[\[\]]")
_LINK_EVENT = re.compile(r"""[()'"]""")


class _TextScans:
    """What the link patterns need to know about one text, found once for all of them.

    Upstream's ``getText`` steps through every character to the end of the text for each
    unclosed ``[``, and ``getLink`` for each unclosed ``(``: quadratic time on runs of them.
    Here the brackets are matched in one forward pass, resumed where it stopped (the patterns
    ask in order, text by text), and a link destination is not looked for where no ``)`` or
    quote follows. Upstream's results, except that a ``[`` with more than ``MAX_BRACKETS``
    unclosed ones nested inside it gives up, as cmark's parentheses do.
    """

    def __init__(self) -> None:
        self._text: str | None = None
        self._origin = 0
        self._ends_text: str | None = None
        self._last_end = -1

    def _start(self, text: str, origin: int) -> None:
        self._text, self._origin, self._frontier = text, origin, origin
        self._pending = deque([origin])  # where the unclosed ``[`` start, innermost last
        self._closes: dict[int, int | None] = {}

    def close(self, text: str, start: int) -> int | None:
        """Where the ``[`` just before ``start`` closes, or None."""
        if text is not self._text or start < self._origin:
            self._start(text, start)
        closes, pending = self._closes, self._pending
        if start in closes:
            return closes[start]
        for bracket in _BRACKET.finditer(text, self._frontier):
            pos = bracket.start()
            if text[pos] == "[":
                pending.append(pos + 1)
                if len(pending) > MAX_BRACKETS:
                    closes[pending.popleft()] = None
            elif pending:
                closes[pending.pop()] = pos
            if start in closes:
                self._frontier = pos + 1
                return closes[start]
        self._frontier = len(text)
        closes.update(dict.fromkeys(pending))  # nothing closes them
        pending.clear()
        return closes.get(start)

    def may_end_link(self, text: str, start: int) -> bool:
        """Whether a ``)`` or a quote follows ``start``: a link destination ends at one."""
        if text is not self._ends_text:
            self._ends_text = text
            self._last_end = max(text.rfind(")"), text.rfind("'"), text.rfind('"'))
        return self._last_end >= start


class _BoundedScan:
    """``getText`` and ``getLink`` of the link patterns through a shared ``_TextScans``; a
    link's destination and title are read through at most ``MAX_LINK_MARKS`` parentheses and
    quotes, jumping from one to the next. Within the bounds the results are upstream's,
    character for character."""

    scans: _TextScans

    def getText(self, data: str, index: int) -> tuple[str, int, bool]:
        close = self.scans.close(data, index)
        if close is None:
            return "", index, False
        return data[index:close], close + 1, True

    def getLink(self, data: str, index: int) -> tuple[str, str | None, int, bool]:
        m = self.RE_LINK.match(data, pos=index)
        if m and m.group(1):  # [text](<link> "title")
            title = m.group(2)[1:-1] if m.group(2) else None
            return self._finish_link(m.group(1)[1:-1].strip(), title, m.end(0), True)
        if not m or not self.scans.may_end_link(data, m.end()):
            return "", None, index, False
        # Upstream's loop over every character, run over the ones that change its state:
        # parentheses (nesting) and quotes (a title, inside which parentheses do not nest).
        bracket_count = backtrack_count = 1
        start_index = index = m.end()
        last_bracket = -1
        quote = alt_quote = None
        start_quote = exit_quote = start_alt_quote = exit_alt_quote = -1
        ignore_matches = False
        last = ""  # the last character before this one that is not a space
        href, title = "", None
        for steps, event in enumerate(_LINK_EVENT.finditer(data, start_index)):
            if steps == MAX_LINK_MARKS:
                return "", None, index, False
            pos, c = event.start(), event.group()
            gap = len(data[index:pos].rstrip(" "))
            if gap:
                last = data[index + gap - 1]
            if c == "(":
                if not ignore_matches:
                    bracket_count += 1
                elif backtrack_count > 0:
                    backtrack_count -= 1
            elif c == ")":
                if (exit_quote != -1 and quote == last) or (
                    exit_alt_quote != -1 and alt_quote == last
                ):
                    bracket_count = 0
                elif not ignore_matches:
                    bracket_count -= 1
                elif backtrack_count > 0:
                    backtrack_count -= 1
                    if backtrack_count == 0:
                        last_bracket = pos + 1
            elif not quote:
                ignore_matches = True
                backtrack_count = bracket_count
                bracket_count = 1
                start_quote = pos + 1
                quote = c
            elif c != quote and not alt_quote:
                start_alt_quote = pos + 1
                alt_quote = c
            elif c == quote:
                exit_quote = pos + 1
            elif alt_quote and c == alt_quote:
                exit_alt_quote = pos + 1
            index = pos + 1
            if bracket_count == 0:
                if exit_quote >= 0 and quote == last:
                    href = data[start_index : start_quote - 1]
                    title = data[start_quote : exit_quote - 1]
                elif exit_alt_quote >= 0 and alt_quote == last:
                    href = data[start_index : start_alt_quote - 1]
                    title = data[start_alt_quote : exit_alt_quote - 1]
                else:
                    href = data[start_index : index - 1]
                break
            last = c
        else:
            index = len(data)
        if bracket_count != 0 and backtrack_count == 0:
            href = data[start_index : last_bracket - 1]
            index = last_bracket
            bracket_count = 0
        return self._finish_link(href, title, index, bracket_count == 0)

    def _finish_link(
        self, href: str, title: str | None, index: int, handled: bool
    ) -> tuple[str, str | None, int, bool]:
        if title is not None:
            title = self.RE_TITLE_CLEAN.sub(" ", dequote(self.unescape(title.strip())))
        return self.unescape(href).strip(), title, index, handled


class _Link(_BoundedScan, LinkInlineProcessor):
    pass


class _Image(_BoundedScan, ImageInlineProcessor):
    pass


class _Reference(_BoundedScan, ReferenceInlineProcessor):
    pass


class _ShortReference(_BoundedScan, ShortReferenceInlineProcessor):
    pass


class _ImageReference(_BoundedScan, ImageReferenceInlineProcessor):
    pass


class _ShortImageReference(_BoundedScan, ShortImageReferenceInlineProcessor):
    pass


_NESTING_TAGS = {"ul", "ol", "blockquote", "em", "strong"}


class _NestingLimit(Treeprocessor):
    """Refuse a tree nesting lists, quotes or emphasis more than ``MAX_NESTING`` deep (and any
    element deeper than the recursive steps after this one can take)."""

    def run(self, root) -> None:
        stack = [(root, 0, 0)]
        while stack:
            element, levels, depth = stack.pop()
            if levels > MAX_NESTING or depth > 4 * MAX_NESTING:
                raise _TooDeep
            stack.extend(
                (child, levels + (child.tag in _NESTING_TAGS), depth + 1) for child in element
            )


class _BoundedExtension(Extension):
    """The link patterns with a bounded scan, under upstream's names and priorities; a limit on
    how deep the block parser recurses (lists and quotes nest through it) and on the tree."""

    def extendMarkdown(self, md) -> None:
        scans = _TextScans()
        for name, priority, processor in [
            ("reference", 170, _Reference(REFERENCE_RE, md)),
            ("link", 160, _Link(LINK_RE, md)),
            ("image_link", 150, _Image(IMAGE_LINK_RE, md)),
            ("image_reference", 140, _ImageReference(IMAGE_REFERENCE_RE, md)),
            ("short_reference", 130, _ShortReference(REFERENCE_RE, md)),
            ("short_image_ref", 125, _ShortImageReference(IMAGE_REFERENCE_RE, md)),
        ]:
            processor.scans = scans
            md.inlinePatterns.register(processor, name, priority)
        # After the inline patterns built the tree (20), before anything walks it recursively.
        md.treeprocessors.register(_NestingLimit(md), "nesting_limit", 15)

        parse_blocks = md.parser.parseBlocks
        depth = 0

        def parse_nested_blocks(parent, blocks) -> None:
            # A level of list takes at most two nested calls, a quote one: refuse long before
            # the stack runs out.
            nonlocal depth
            if depth > 4 * MAX_NESTING:
                raise _TooDeep
            depth += 1
            try:
                parse_blocks(parent, blocks)
            finally:
                depth -= 1

        md.parser.parseBlocks = parse_nested_blocks
