"""YAML beside JSON for the API (``Accept`` / ``Content-Type: application/yaml``, or
``?format=json|yaml``).

Kept apart from studio.api: DRF imports renderers, parsers and the content negotiation while
it sets up its views.
"""

import json
import re
from typing import Any

import yaml
from rest_framework import exceptions, negotiation, parsers, renderers


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line text (readmes) as literal blocks."""


# Text that YAML 1.2 readers take for a number, though PyYAML (YAML 1.1) would write it plain:
# 1e+100, 0o17, .5e3 and the like.
_YAML_1_2_NUMBER = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value and not any(c in value for c in "\r\t") else None
    if style and any(line != line.rstrip() for line in value.splitlines()):
        style = None  # trailing spaces cannot survive a literal block
    if _YAML_1_2_NUMBER.fullmatch(value):
        style = "'"  # text stays text for every reader
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


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when built
    """Safe YAML that refuses aliases (no billion laughs) and keys given twice.

    An alias is a node met a second time: the parser shares the anchored node, and nothing is
    built from it twice, so refusing the second visit refuses every alias before it expands.
    """

    def construct_object(self, node, deep=False):
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not accepted", node.start_mark
            )
        return super().construct_object(node, deep)

    def construct_mapping(self, node, deep=False):
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be text or a number", key_node.start_mark
                )
        mapping = super().construct_mapping(node, deep)
        seen = set()
        for key_node, _ in node.value:
            key = self.constructed_objects[key_node]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


def load_yaml_documents(text: str) -> list:
    """Every document of a YAML text; ValueError (or yaml.YAMLError) when it is not one."""
    return list(yaml.load_all(text, Loader=_Loader))


class YAMLParser(parsers.BaseParser):
    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            documents = load_yaml_documents(stream.read().decode())
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError) as error:
            raise exceptions.ParseError(f"The body is not valid YAML: {error}") from None
        if len(documents) > 1:
            raise exceptions.ParseError("Send one YAML document per request.")
        return documents[0] if documents else None


def _unique_keys(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"the key {twice[0]!r} is given twice")
    return dict(pairs)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing keys given twice, NaN and Infinity, and nesting too deep."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json.loads(
                stream.read().decode(),
                object_pairs_hook=_unique_keys,
                parse_constant=_refuse_constant,
            )
        except (ValueError, RecursionError, UnicodeDecodeError) as error:
            raise exceptions.ParseError(f"The body is not valid JSON: {error}") from None


class ContentNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's, except that a ``?format=`` naming no renderer (or nothing) is a 400 naming the
    parameter: DRF would answer an unknown one with 404 and ignore an empty one."""

    def select_renderer(self, request, renderers, format_suffix=None):
        parameter = self.settings.URL_FORMAT_OVERRIDE
        if parameter and parameter in request.query_params:
            formats = list(dict.fromkeys(renderer.format for renderer in renderers))
            if request.query_params[parameter] not in formats:
                raise exceptions.ValidationError(
                    {parameter: [f"Give one of: {', '.join(formats)}."]}
                )
        return super().select_renderer(request, renderers, format_suffix)
