"""Readme rendering: markdown to sanitized HTML, the one function every page uses."""

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from pygments.token import STANDARD_TYPES

_EXTENSIONS = ["tables", "fenced_code", "codehilite", "sane_lists", "nl2br", "toc"]
_EXTENSION_CONFIGS = {
    # A readme sits under the page's own h1 and a section h2: its "# Title" becomes an h3.
    "toc": {"baselevel": 3},
    "codehilite": {"css_class": "highlight", "guess_lang": False},
    "tables": {"use_align_attribute": True},
}
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
    ``rel="noopener noreferrer nofollow"``.
    """
    if not text.strip():
        return mark_safe("")
    html = markdown.markdown(
        text, extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS, output_format="html"
    )
    clean = nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style", "iframe", "svg", "math", "object", "embed"},
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # sanitized by nh3 just above
