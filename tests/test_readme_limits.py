"""Readmes an attacker would write (issue 8, SPEC §6): bounded time, no 500.

Any readme up to the 256 KiB limit renders in bounded time: runs of brackets, the link
shapes of the issue and their kin render about as fast as an ordinary readme of the same size;
what Python-Markdown or the sanitizer would still take minutes over (thousands of inline
elements in one paragraph, unclosed or nested HTML tags) is refused within the render's CPU
budget. A readme nesting lists, quotes or emphasis too deeply is refused with a message at the
readme field by the API, the wizard's General step and the preview, which save nothing.
"""

import signal
import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from profiles.readme import (
    MAX_NESTING,
    RENDER_CPU_SECONDS,
    TOO_DEEP,
    TOO_SLOW,
    render_readme,
)
from profiles.validators import README_MAX_BYTES, validate_readme
from tests.factories import make_profile
from tests.test_api_access import causes, key_client
from tests.test_api_documents import LIST, new_document, post
from tests.test_api_documents import database_state as api_database_state
from tests.test_studio_bad_input import database_state, error_shown_at
from tests.test_studio_wizard import new_profile_body, page_body, step_url

SIZE = README_MAX_BYTES
# What a render may take when it is refused: its CPU budget, and slack for a busy machine.
REFUSAL_SECONDS = 2 * RENDER_CPU_SECONDS + 1
# Long enough that the unbounded renderer is seen to hang rather than waited for.
GIVE_UP_SECONDS = 4 * RENDER_CPU_SECONDS + 5

ORDINARY = """\
## Section

Some *emphasis*, **strong**, `inline code` and a [link](https://example.com/docs).
A second line with <https://example.com/auto> and plain text & more text.

- one
- two
    - nested

| Left | Right |
|:-----|------:|
| a    |     1 |

```python
def launch(gpus: int = 1) -> str:
    return "ok"
```

> A quoted note.

"""


def filled(unit: str, size: int = SIZE) -> str:
    """``unit`` repeated to exactly ``size`` characters (all ASCII: ``size`` bytes)."""
    return (unit * (size // len(unit) + 1))[:size]


def timed(text: str) -> dict:
    """Render ``text``: the seconds it took, and the HTML or the refusal."""
    outcome: dict = {}
    start = time.perf_counter()
    try:
        outcome["html"] = render_readme(text)
    except ValidationError as error:
        outcome["error"] = error
    outcome["seconds"] = time.perf_counter() - start
    return outcome


@pytest.fixture(autouse=True)
def give_up_on_a_hang():
    """Fail a test still running after GIVE_UP_SECONDS rather than wait for it (the render
    is interrupted where it is, in this thread, so nothing goes on burning CPU)."""

    def give_up(signum, frame):
        raise TimeoutError(f"still running after {GIVE_UP_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, GIVE_UP_SECONDS)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def ordinary_seconds() -> float:
    """How long an ordinary readme of the limit's size takes, as the yardstick."""
    render_readme("# Warm up\n\n```python\nx = 1\n```\n")
    outcome = timed(filled(ORDINARY))
    assert "html" in outcome
    return outcome["seconds"]


# Pathological shapes render in linear time --------------------------------------------------

FAST = {  # each took minutes to hours at this size before the fix (issue 8)
    "open-brackets": "[",  # "[" * 100_000 pinned a CPU for minutes
    "link-openers": "[a](",  # "[a](" * 40_000 hung
    "image-openers": "![",
    "reference-openers": "[a][",
    "empty-link-openers": "[](",
    "footnote-openers": "[^",
    "cdata-openers": "<![CDATA[",
    "angle-link-openers": "[a](<",
    "brackets-and-angles": "[<",
}


@pytest.mark.parametrize("unit", FAST.values(), ids=FAST.keys())
def test_a_pathological_readme_renders_about_as_fast_as_an_ordinary_one(ordinary_seconds, unit):
    outcome = timed(filled(unit))
    assert "html" in outcome
    assert outcome["seconds"] < 1.5 * ordinary_seconds
    assert outcome["seconds"] < 2.5


def test_open_brackets_still_render_as_text():
    html = render_readme("[" * 100_000)
    assert html == "<p>" + "[" * 100_000 + "</p>"


def test_link_openers_still_render_as_text():
    html = render_readme("[a](" * 40_000)
    assert html == "<p>" + "[a](" * 40_000 + "</p>"


# Links render as they always did ------------------------------------------------------------

LINKS = {
    "[a [b] c](https://example.com/x)": (
        '<p><a href="https://example.com/x" rel="noopener noreferrer nofollow">a [b] c</a></p>'
    ),
    "[Foo](https://en.wikipedia.org/wiki/Foo_(bar))": (
        '<p><a href="https://en.wikipedia.org/wiki/Foo_(bar)" '
        'rel="noopener noreferrer nofollow">Foo</a></p>'
    ),
    '[t](https://example.com/a "A title")': (
        '<p><a href="https://example.com/a" title="A title" '
        'rel="noopener noreferrer nofollow">t</a></p>'
    ),
    '[t](<https://example.com/a b> "T")': (
        '<p><a href="https://example.com/a b" title="T" '
        'rel="noopener noreferrer nofollow">t</a></p>'
    ),
    "[![badge](https://example.com/b.svg)](https://example.com/ci)": (
        '<p><a href="https://example.com/ci" rel="noopener noreferrer nofollow">'
        '<img alt="badge" src="https://example.com/b.svg"></a></p>'
    ),
    "[ref][docs], [docs] and [Docs][]\n\n[docs]: https://example.com/docs": (
        '<p><a href="https://example.com/docs" rel="noopener noreferrer nofollow">ref</a>, '
        '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">docs</a> and '
        '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">Docs</a></p>'
    ),
    "![pic][p]\n\n[p]: https://example.com/p.png": (
        '<p><img alt="pic" src="https://example.com/p.png"></p>'
    ),
    "array[0], [unclosed and a]b, [x](no close": (
        "<p>array[0], [unclosed and a]b, [x](no close</p>"
    ),
    "a [b](https://x.com) [c] [[d]](https://y.com) ]": (
        '<p>a <a href="https://x.com" rel="noopener noreferrer nofollow">b</a> [c] '
        '<a href="https://y.com" rel="noopener noreferrer nofollow">[d]</a> ]</p>'
    ),
    "f(a[1], b(2)) then [link](https://z.com/(a)(b))": (
        '<p>f(a[1], b(2)) then <a href="https://z.com/(a)(b)" '
        'rel="noopener noreferrer nofollow">link</a></p>'
    ),
}


@pytest.mark.parametrize(("source", "html"), LINKS.items(), ids=range(len(LINKS)))
def test_links_and_images_render_as_before(source, html):
    assert render_readme(source) == html


# What would still take minutes is refused in bounded time ------------------------------------

BOUNDED = {
    "emphasis-in-one-paragraph": "*a* ",
    "code-spans-in-one-paragraph": "`a` ",
    "links-in-one-paragraph": "[a](b) ",
    "inline-tags-in-one-paragraph": "<b>x</b>",
    "line-breaks-in-one-paragraph": "a\n",
    "headings-without-blank-lines": "# a\n",
    "brackets-and-emphasis": "*[",
}


@pytest.mark.parametrize("unit", BOUNDED.values(), ids=BOUNDED.keys())
def test_a_readme_too_slow_to_render_is_refused_in_bounded_time(unit):
    outcome = timed(filled(unit))
    assert outcome["seconds"] < REFUSAL_SECONDS
    if "error" in outcome:
        assert outcome["error"].messages == [TOO_SLOW]


@pytest.mark.parametrize(
    "unit",
    ["<a ", "<div>"],
    ids=["unclosed-tags", "nested-html-tags"],  # html.parser's and html5ever's quadratic cases
)
def test_html_the_parsers_take_minutes_over_is_refused(unit):
    outcome = timed(filled(unit))
    assert outcome["seconds"] < REFUSAL_SECONDS
    assert outcome["error"].messages == [TOO_SLOW]
    assert outcome["error"].code == "too_slow"


def test_the_validator_refuses_a_readme_too_slow_to_render():
    with pytest.raises(ValidationError) as refused:
        validate_readme(filled("<a "))
    assert refused.value.messages == [TOO_SLOW]


def test_an_ordinary_readme_of_the_limits_size_is_accepted(ordinary_seconds):
    validate_readme(filled(ORDINARY))  # no ValidationError


# Deep nesting is refused, never a RecursionError -----------------------------------------------


def nested_list(levels: int, *, loose: bool = False) -> str:
    return ("\n" if loose else "").join("    " * level + "- item\n" for level in range(levels))


DEEP = {
    "nested-list-250": nested_list(250),
    "loose-nested-list-250": nested_list(250, loose=True),
    "quotes-250": "> " * 250 + "x",
    "quote-lines-250": "".join("> " * level + "x\n" for level in range(1, 251)),
    "ordered-on-one-line-2000": "1. " * 2000 + "x",
    "quoted-lists-250": "> - " * 250 + "x",
    "emphasis-2000": "*a " * 2000 + "b" + " c*" * 2000,
    "just-over-the-limit": nested_list(MAX_NESTING + 1),
}


@pytest.mark.parametrize("text", DEEP.values(), ids=DEEP.keys())
def test_a_readme_nesting_too_deeply_is_refused_not_a_recursion_error(text):
    with pytest.raises(ValidationError) as refused:
        render_readme(text)
    assert refused.value.messages == [TOO_DEEP]
    assert refused.value.code == "too_deep"


@pytest.mark.parametrize(
    "text",
    [nested_list(MAX_NESTING), "> " * MAX_NESTING + "x", "1. " * MAX_NESTING + "x"],
    ids=["list", "quotes", "ordered"],
)
def test_nesting_up_to_the_limit_renders(text):
    html = render_readme(text)
    assert html.count("<ul>") + html.count("<ol>") + html.count("<blockquote>") == MAX_NESTING


def test_the_validator_refuses_a_readme_nesting_too_deeply():
    with pytest.raises(ValidationError) as refused:
        validate_readme(nested_list(250))
    assert refused.value.messages == [TOO_DEEP]


# ... through the API, the wizard and the preview, with DEBUG off and nothing saved


@pytest.fixture
def production(settings):
    settings.DEBUG = False


@pytest.fixture
def alice_key(cast, projects, system, notebook_version):
    return key_client(cast["alice"])


@pytest.mark.parametrize("text", [nested_list(250), "*a " * 2000 + "b" + " c*" * 2000])
def test_the_api_answers_a_too_deep_readme_with_400_at_spec_readme(production, alice_key, text):
    before = api_database_state()
    document = new_document()
    document["spec"]["readme"] = text
    response = post(alice_key, LIST, document)
    assert response.status_code == 400
    assert causes(response)["spec.readme"] == TOO_DEEP
    assert api_database_state() == before


def test_the_api_answers_a_too_slow_readme_with_400_at_spec_readme(production, alice_key):
    before = api_database_state()
    document = new_document()
    document["spec"]["readme"] = filled("<a ")
    response = post(alice_key, LIST, document)
    assert response.status_code == 400
    assert causes(response)["spec.readme"] == TOO_SLOW
    assert api_database_state() == before


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def ready(platform, notebook_version, alice):
    return make_profile(
        platform,
        "team-notebook",
        version=notebook_version,
        status="ready",
        wizard_step="sharing",
        actor=alice,
    )


@pytest.fixture(params=["new", "edit"])
def general(request, logged_in, ready, notebook_version) -> tuple[str, dict]:
    """The General step's URL and a valid body: creating a profile, or editing ``ready``."""
    if request.param == "new":
        url = reverse("profiles:new", args=["platform"])
        return url, new_profile_body(notebook_version, name="fresh-notebook")
    url = step_url(ready, "general")
    return url, page_body(logged_in.get(url))


def test_the_general_step_shows_the_nesting_message_at_the_readme(production, logged_in, general):
    url, body = general
    before = database_state()
    response = logged_in.post(url, body | {"readme": nested_list(250)})
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["readme"] == [TOO_DEEP]
    assert error_shown_at(response, form["readme"])
    assert database_state() == before


def preview(client, text: str):
    return client.post(reverse("profiles:readme_preview", args=["platform"]), {"readme": text})


def test_the_preview_shows_the_nesting_message_instead_of_a_500(production, logged_in, platform):
    response = preview(logged_in, nested_list(250))
    assert response.status_code == 200
    assert "The readme nests too deeply" in response.content.decode()
    assert "<li>" not in response.content.decode()


def test_the_preview_shows_the_size_message_for_a_readme_over_the_limit(logged_in, platform):
    response = preview(logged_in, "é" * (SIZE // 2 + 1))
    assert "The readme may be at most 256 KiB" in response.content.decode()


def test_the_preview_of_an_ordinary_readme_is_its_html(logged_in, platform):
    response = preview(logged_in, "# Title\n\n- one")
    assert "<li>one</li>" in response.content.decode()
