"""profiles.readme.render_readme: markdown in, sanitized HTML out (SPEC §3, Readme).

Nothing active survives (scripts, event handlers, dangerous URLs, frames, plugins, styles, SVG,
MathML, forms, meta refresh, base, comments, relative URLs); good markdown does (headings,
lists, tables with alignment, highlighted fenced code, blockquotes, https images, links with
``rel="noopener noreferrer nofollow"``).
"""

import re
from html.parser import HTMLParser

import pytest
from django.utils.safestring import SafeString

from profiles.readme import render_readme

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "xlink:href", "action", "formaction", "data", "background"}


class Parsed(HTMLParser):
    """Every element, attribute and comment of an HTML fragment, as a browser would tokenize it."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_comment(self, data):
        self.comments.append(data)

    @property
    def tags(self) -> set[str]:
        return {tag for tag, _ in self.elements}

    def attributes(self, tag: str | None = None) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if tag is None or name == tag]


def assert_inert(html: str) -> None:
    """No element, attribute or URL in ``html`` can run code, load a frame or restyle the page."""
    parsed = Parsed(html)
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS
    assert not parsed.comments
    for tag, attrs in parsed.elements:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in URL_ATTRIBUTES:
                assert (value or "").startswith(("https://", "http://", "mailto:")), (tag, value)
            if name == "class":
                assert "btn" not in value and "position" not in value, value
            for scheme in ("javascript:", "vbscript:", "data:"):
                assert scheme not in (value or "").lower().replace(" ", ""), (tag, name, value)
    lowered = html.lower()
    for needle in ("<script", "<iframe", "<svg", "<style", "<math", "<object", "<embed"):
        assert needle not in lowered, needle


# Nothing active survives -------------------------------------------------------------------------

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "script-upper": "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "script-in-markdown-paragraph": "Hello <script>alert(1)</script> world",
    "img-onerror": "<img src=x onerror=alert(1)>",
    "img-onerror-https": '<img src="https://example.com/a.png" onerror="alert(1)">',
    "onclick": '<p onclick="alert(1)">click</p>',
    "onload-body": "<body onload=alert(1)>text",
    "onmouseover-link": '<a href="https://example.com" onmouseover="alert(1)">x</a>',
    "javascript-link": '<a href="javascript:alert(1)">x</a>',
    "javascript-mixed-case": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "javascript-leading-space": '<a href="  javascript:alert(1)">x</a>',
    "javascript-hex-entity": '<a href="jav&#x61;script:alert(1)">x</a>',
    "javascript-decimal-entity": '<a href="&#106;avascript:alert(1)">x</a>',
    "javascript-tab": '<a href="java\tscript:alert(1)">x</a>',
    "javascript-tab-entity": '<a href="java&#x09;script:alert(1)">x</a>',
    "javascript-newline-entity": '<a href="java&#10;script:alert(1)">x</a>',
    "javascript-colon-entity": '<a href="javascript&colon;alert(1)">x</a>',
    "data-link": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "data-link-base64": '<a href="DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKT4=">x</a>',
    "vbscript-link": '<a href="vbscript:msgbox(1)">x</a>',
    "javascript-img": '<img src="javascript:alert(1)">',
    "data-img": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "vbscript-img": '<img src="VBSCRIPT:msgbox(1)">',
    "markdown-javascript-link": "[x](javascript:alert(1))",
    "markdown-javascript-link-upper": "[x](JAVASCRIPT:alert(1))",
    "markdown-javascript-entity": "[x](jav&#x61;script:alert(1))",
    "markdown-data-link": "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "markdown-vbscript-link": "[x](vbscript:msgbox(1))",
    "markdown-javascript-image": "![x](javascript:alert(1))",
    "markdown-reference-link": "[x][evil]\n\n[evil]: javascript:alert(1)",
    "autolink-javascript": "<javascript:alert(1)>",
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "iframe-srcdoc": '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    "object": '<object data="https://evil.example/x.swf"></object>',
    "embed": '<embed src="https://evil.example/x.swf">',
    "style-tag": "<style>body { display: none }</style>",
    "style-attribute": '<p style="position:fixed;top:0;left:0;width:100%">cover</p>',
    "style-on-span": '<span style="background:url(javascript:alert(1))">x</span>',
    "svg-onload": "<svg onload=alert(1)></svg>",
    "svg-script": "<svg><script>alert(1)</script></svg>",
    "svg-xlink": '<svg><a xlink:href="javascript:alert(1)"><text x="0" y="10">t</text></a></svg>',
    "svg-animate": '<svg><animate onbegin="alert(1)" attributeName="x" dur="1s"/></svg>',
    "math": '<math><mtext><a href="javascript:alert(1)">m</a></mtext></math>',
    "math-xlink": '<math><maction xlink:href="javascript:alert(1)">m</maction></math>',
    "form": '<form action="https://evil.example"><input name="password"></form>',
    "button-formaction": '<button formaction="javascript:alert(1)">go</button>',
    "input-autofocus": "<input autofocus onfocus=alert(1)>",
    "textarea-select": "<textarea>t</textarea><select><option>o</option></select>",
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "base": '<base href="https://evil.example/">',
    "link-stylesheet": '<link rel="stylesheet" href="https://evil.example/x.css">',
    "comment": "before <!-- a comment --> after",
    "conditional-comment": "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "noscript-mutation": '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "template": "<template><script>alert(1)</script></template>",
    "details-ontoggle": "<details open ontoggle=alert(1)><summary>s</summary></details>",
    "video-onerror": "<video><source onerror=alert(1)></video>",
    "marquee": "<marquee onstart=alert(1)>x</marquee>",
    "relative-link": "[docs](/admin/)",
    "relative-path-link": "[docs](../secret)",
    "protocol-relative-link": "[docs](//evil.example/x)",
    "relative-image": "![logo](/static/img/logo.svg)",
    "fragment-link": "[top](#main)",
    "class-borrowing": '<div class="btn position-fixed top-0 start-0">overlay</div>',
    "id-clobbering": '<a id="main" name="x" href="https://example.com">x</a>',
    "target-blank": '<a href="https://example.com" target="_blank">x</a>',
}


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_nothing_active_survives(source):
    assert_inert(render_readme(source))


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_nothing_active_survives_inside_markdown(source):
    """The same payloads inside a list, a table cell and a blockquote."""
    text = f"# Title\n\n- {source}\n\n| a |\n|---|\n| {source} |\n\n> {source}\n"
    assert_inert(render_readme(text))


@pytest.mark.parametrize(
    "source",
    [
        '<a href="javascript:alert(1)">keep me</a>',
        "[keep me](javascript:alert(1))",
        '<a href="jav&#x61;script:alert(1)">keep me</a>',
    ],
)
def test_a_dangerous_link_keeps_its_text_but_loses_its_address(source):
    html = render_readme(source)
    (link,) = Parsed(html).attributes("a")
    assert "href" not in link
    assert "keep me" in html


def test_script_content_is_dropped_not_shown_as_text():
    html = render_readme("<script>window.__xss = 1</script>Hello")
    assert "__xss" not in html
    assert "Hello" in html


@pytest.mark.parametrize("tag", ["style", "iframe", "svg", "math", "object"])
def test_content_of_dangerous_containers_is_dropped(tag):
    html = render_readme(f"<{tag}>window.__xss = 1</{tag}>after")
    assert "__xss" not in html
    assert "after" in html


def test_event_handler_dropped_but_safe_image_kept():
    html = render_readme('<img src="https://example.com/a.png" onerror="alert(1)" alt="a">')
    (img,) = Parsed(html).attributes("img")
    assert img == {"src": "https://example.com/a.png", "alt": "a"}


def test_only_highlighting_classes_survive():
    html = render_readme(
        '<div class="btn position-fixed">a</div><span class="k btn">b</span>'
        '<code class="language-python d-none">c</code>'
    )
    classes = [attrs.get("class") for _, attrs in Parsed(html).elements if attrs.get("class")]
    assert classes == ["k", "language-python"]


def test_html_comment_is_removed_without_its_text():
    html = render_readme("before <!-- secret note --> after")
    assert "secret" not in html and "<!--" not in html
    assert "before" in html and "after" in html


# Good markdown survives --------------------------------------------------------------------------

GOOD = """\
# Title

## Section

### Sub-section

Some *emphasis*, **strong**, `inline code` and ~~nothing~~.

- one
- two
    - nested

1. first
2. second

| Left | Right | Center |
|:-----|------:|:------:|
| a    |     1 |   x    |

```python
def launch(gpus: int = 1) -> str:
    return "ok"
```

```bash
echo "$HOME"
```

> A quoted note.

![diagram](https://example.com/diagram.png "The diagram")

[A link](https://example.com/docs) and <https://example.com/auto> and <mailto:ops@example.com>.

---
"""


@pytest.fixture(scope="module")
def good():
    return render_readme(GOOD)


def test_good_markdown_is_inert(good):
    assert_inert(good)


def test_headings(good):
    """#, ## and ### become three headings, one level apart (where they start is the
    renderer's choice: it may push a readme's headings under the page's own)."""
    found = re.findall(r"<h([1-6])>([^<]+)</h\1>", good)
    assert [text for _, text in found] == ["Title", "Section", "Sub-section"]
    levels = [int(level) for level, _ in found]
    assert levels == [levels[0], levels[0] + 1, levels[0] + 2]


def test_inline_formatting(good):
    assert "<em>emphasis</em>" in good
    assert "<strong>strong</strong>" in good
    assert "<code>inline code</code>" in good


def test_lists(good):
    parsed = Parsed(good)
    assert {"ul", "ol", "li"} <= parsed.tags
    assert "<li>one</li>" in good
    assert "<li>first</li>" in good


def test_table_with_alignment(good):
    assert '<th align="left">Left</th>' in good
    assert '<th align="right">Right</th>' in good
    assert '<th align="center">Center</th>' in good
    assert '<td align="right">1</td>' in good
    assert {"table", "thead", "tbody", "tr", "th", "td"} <= Parsed(good).tags


def test_fenced_code_is_highlighted(good):
    assert '<div class="highlight"><pre>' in good
    assert '<span class="k">def</span>' in good
    assert '<span class="nf">launch</span>' in good
    assert (
        '<span class="s2">&quot;ok&quot;</span>' in good or '<span class="s2">"ok"</span>' in good
    )
    assert '<span class="nb">echo</span>' in good
    spans = [attrs["class"] for attrs in Parsed(good).attributes("span") if "class" in attrs]
    assert len(spans) > 5


def test_code_without_language_is_not_guessed():
    html = render_readme("```\nplain <b>text</b>\n```")
    assert '<div class="highlight"><pre>' in html
    assert "plain &lt;b&gt;text&lt;/b&gt;" in html
    assert 'class="k' not in html


def test_blockquote(good):
    assert "<blockquote>" in good
    assert "A quoted note." in good


def test_https_image(good):
    (img,) = Parsed(good).attributes("img")
    assert img == {
        "alt": "diagram",
        "src": "https://example.com/diagram.png",
        "title": "The diagram",
    }


def test_links_get_rel_noopener_noreferrer_nofollow(good):
    links = Parsed(good).attributes("a")
    assert [link["href"] for link in links] == [
        "https://example.com/docs",
        "https://example.com/auto",
        "mailto:ops@example.com",
    ]
    assert all(link["rel"] == "noopener noreferrer nofollow" for link in links)


def test_a_links_own_rel_is_replaced():
    html = render_readme('<a href="https://example.com" rel="opener">x</a>')
    assert Parsed(html).attributes("a") == [
        {"href": "https://example.com", "rel": "noopener noreferrer nofollow"}
    ]


def test_plain_http_is_allowed_for_links():
    html = render_readme("[x](http://example.com)")
    assert 'href="http://example.com"' in html


def test_text_that_looks_like_html_is_escaped():
    html = render_readme("1 < 2 & 3 > 2")
    assert "1 &lt; 2 &amp; 3 &gt; 2" in html


@pytest.mark.parametrize("source", ["", "   ", "\n\n\t  \n"])
def test_empty_input_gives_empty_output(source):
    html = render_readme(source)
    assert html == ""
    assert isinstance(html, SafeString)


def test_result_is_safe_for_templates():
    assert isinstance(render_readme("# Hi"), SafeString)
