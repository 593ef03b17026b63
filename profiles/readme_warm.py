"""Imported by the readme renderer's fork server only (see :mod:`profiles.readme`): one render
there, so that every child forks with Markdown's and Pygments' tables already built. The first
render in a process builds them (about 40 ms); each later one takes about a millisecond."""

from profiles.readme import _html

_html(
    "# Readme\n\nA *first* render, with a [link](https://example.com) and code:\n\n"
    "```python\nprint(1)\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)
