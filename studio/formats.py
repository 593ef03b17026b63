"""YAML beside JSON for the API (``Accept`` / ``Content-Type: application/yaml``).

Kept apart from studio.api: DRF imports renderers and parsers while it sets up its views.
"""

from typing import Any

import yaml
from rest_framework import exceptions, parsers, renderers


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line text (readmes) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value and not any(c in value for c in "\r\t") else None
    if style and any(line != line.rstrip() for line in value.splitlines()):
        style = None  # trailing spaces cannot survive a literal block
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(documents: list) -> str:
    """One or more documents as YAML, keys in document order, readmes as literal blocks."""
    return yaml.dump_all(
        [_plain(d) for d in documents],
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )


class YAMLRenderer(renderers.BaseRenderer):
    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        return dump_yaml([data]).encode()


def _plain(data: Any) -> Any:
    """DRF's ReturnDict/ErrorDetail as the plain types PyYAML's safe dumper knows."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    if isinstance(data, str):
        return str(data)
    return data


class YAMLParser(parsers.BaseParser):
    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return yaml.safe_load(stream.read().decode())
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as error:
            raise exceptions.ParseError(f"The body is not valid YAML: {error}") from None
