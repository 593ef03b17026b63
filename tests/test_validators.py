"""The syntax rules of SPEC §3: studio/validators.py and profiles/validators.py.

Example tests pin each rule and the message a person reads; property tests (hypothesis) check
the grammars as a whole.
"""

import json
import re
import string
from decimal import Decimal
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.validators import (
    ANNOTATIONS_MAX_BYTES,
    ICON_URL_MAX_LENGTH,
    README_MAX_BYTES,
    parse_value,
    unique_pairs,
    validate_annotations,
    validate_extra_config,
    validate_icon_url,
    validate_label_key,
    validate_label_value,
    validate_labels,
    validate_readme,
    validate_variable_name,
)
from studio.models import Project
from studio.validators import (
    RESOURCE_NAME_MAX_LENGTH,
    RESOURCE_NAME_PATTERN,
    validate_listed_name,
    validate_resource_name,
)

fast = settings(max_examples=200, deadline=None, database=None)

RESOURCE_NAME_CHARS = string.ascii_lowercase + string.digits + "-"
LABEL_CHARS = string.ascii_letters + string.digits + "-_."
VARIABLE_CHARS = string.ascii_letters + string.digits + "_"
VALUE_TYPES = ["text", "number", "boolean", "json"]


def refusal(validator, value) -> ValidationError:
    """The ValidationError ``validator`` raises for ``value`` (the test fails if it does not)."""
    with pytest.raises(ValidationError) as caught:
        validator(value)
    return caught.value


def accepts(validator, value) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


def codes(error: ValidationError) -> list[str]:
    return [item.code for item in error.error_list]


# Grammars of SPEC §3, as hypothesis strategies -----------------------------------------------

resource_names = st.from_regex(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
dns_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)
dns_subdomains = (
    st.lists(dns_labels, min_size=1, max_size=4).map(".".join).filter(lambda p: len(p) <= 253)
)
label_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?", fullmatch=True)
label_keys = st.one_of(label_names, st.tuples(dns_subdomains, label_names).map("/".join))
label_values = st.one_of(st.just(""), label_names)
variable_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True)


def outside(charset: str) -> st.SearchStrategy[str]:
    """One character that ``charset`` does not hold (nor "/", which splits a label key)."""
    return st.characters().filter(lambda c: c not in charset and c != "/")


def insert(text: str, char: str, position: int) -> str:
    index = position % (len(text) + 1)
    return text[:index] + char + text[index:]


# Resource names (studio/validators.py) ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "jupyter-notebook", "gpu2", "a-b-c", "x1-y2", "a" * RESOURCE_NAME_MAX_LENGTH]
)
def test_resource_name_following_the_rule_is_accepted(name):
    validate_resource_name(name)


def test_empty_resource_name_is_refused_as_required():
    error = refusal(validate_resource_name, "")
    assert error.code == "required"
    assert error.messages == ["Enter a name."]


@pytest.mark.parametrize("value", [None, 42, ["jupyter"]])
def test_resource_name_that_is_not_text_is_refused(value):
    assert refusal(validate_resource_name, value).messages == ["Enter a name."]


def test_resource_name_of_64_characters_is_refused_with_limit_and_length():
    error = refusal(validate_resource_name, "a" * 64)
    assert error.code == "max_length"
    assert error.messages == ["Use at most 63 characters (this one has 64)."]


@pytest.mark.parametrize("name", ["1notebook", "-notebook", "_notebook"])
def test_resource_name_not_starting_with_a_letter_is_refused(name):
    error = refusal(validate_resource_name, name)
    assert error.code == "invalid_name"
    assert "starting with a letter" in error.messages[0]


def test_resource_name_ending_with_a_hyphen_is_refused():
    error = refusal(validate_resource_name, "notebook-")
    assert error.code == "invalid_name"
    assert "not ending with a hyphen" in error.messages[0]


def test_a_listed_name_is_a_resource_name_other_than_a_page_name():
    assert validate_listed_name("new-notebook") is None
    assert validate_listed_name("renew") is None
    assert refusal(validate_listed_name, "new").code == "reserved_name"
    assert refusal(validate_listed_name, "New").code == "invalid_name"


@pytest.mark.parametrize(
    "name", ["Jupyter", "jupyter_notebook", "jupyter.notebook", "jupyter notebook", "café"]
)
def test_resource_name_with_a_character_outside_lowercase_digits_hyphen_is_refused(name):
    error = refusal(validate_resource_name, name)
    assert error.code == "invalid_name"
    assert "lowercase letters, digits and hyphens" in error.messages[0]


def test_resource_name_refusal_gives_an_example():
    assert "for example jupyter-notebook" in refusal(validate_resource_name, "Bad").messages[0]


def test_resource_name_with_a_trailing_newline_is_refused():
    assert refusal(validate_resource_name, "jupyter\n").code == "invalid_name"


def test_database_pattern_refuses_a_name_with_a_trailing_newline():
    # Django's SQLite backend runs `REGEXP` as re.search(pattern, value).
    assert re.search(RESOURCE_NAME_PATTERN, "jupyter\n") is None


def test_database_refuses_a_project_name_with_a_trailing_newline(db):
    with pytest.raises(IntegrityError):
        Project.objects.create(name="jupyter\n", display_name="Jupyter")


@fast
@given(resource_names)
def test_every_name_of_the_resource_grammar_is_accepted(name):
    validate_resource_name(name)


@fast
@given(resource_names, outside(RESOURCE_NAME_CHARS), st.integers(min_value=0))
def test_resource_name_holding_a_character_outside_the_charset_is_refused(name, char, position):
    assert not accepts(validate_resource_name, insert(name, char, position))


@fast
@given(st.text(alphabet=RESOURCE_NAME_CHARS, min_size=RESOURCE_NAME_MAX_LENGTH + 1))
def test_resource_name_longer_than_63_characters_is_refused(name):
    assert refusal(validate_resource_name, name).code == "max_length"


@fast
@given(st.one_of(resource_names, st.text(alphabet=RESOURCE_NAME_CHARS + "A_. é\n", max_size=70)))
def test_resource_name_verdict_agrees_with_the_database_pattern(name):
    assert accepts(validate_resource_name, name) == (
        re.search(RESOURCE_NAME_PATTERN, name) is not None
    )


@fast
@given(st.text())
def test_resource_name_validator_raises_only_validation_error_on_any_text(text):
    accepts(validate_resource_name, text)


# Label keys --------------------------------------------------------------------------------

PREFIX_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])


@pytest.mark.parametrize(
    "key",
    [
        "app",
        "A",
        "Team1",
        "a_b.c-d",
        "app.kubernetes.io/name",
        "example.com/tier",
        "gpu-2.example.org/Model_Family",
        "x" * 63,
        f"{PREFIX_253}/app",
    ],
)
def test_label_key_following_the_rule_is_accepted(key):
    validate_label_key(key)


def test_empty_label_key_is_refused():
    error = refusal(validate_label_key, "")
    assert error.code == "invalid_key"
    assert error.messages == ["a key may not be empty."]


def test_label_key_with_uppercase_prefix_is_refused():
    error = refusal(validate_label_key, "Example.com/app")
    assert error.code == "invalid_key"
    assert error.messages == [
        "“Example.com/app”: the prefix must be a DNS subdomain "
        "(lowercase letters, digits, “-” and “.”, e.g. example.com)."
    ]


@pytest.mark.parametrize(
    "key",
    [
        "my_co.com/app",
        "-example.com/app",
        "example-.com/app",
        "example..com/app",
        "example.com./app",
        "exa mple.com/app",
        "a/b/c",
        f"{'a' * 64}.com/app",
    ],
)
def test_label_key_whose_prefix_is_not_a_dns_subdomain_is_refused(key):
    assert "the prefix must be a DNS subdomain" in refusal(validate_label_key, key).messages[0]


def test_label_key_with_empty_prefix_is_refused():
    assert refusal(validate_label_key, "/app").messages == [
        "“/app”: the prefix before “/” may not be empty."
    ]


def test_label_key_with_prefix_longer_than_253_characters_is_refused():
    key = f"{PREFIX_253}d/app"
    assert refusal(validate_label_key, key).messages == [
        f"“{key}”: the prefix is longer than 253 characters."
    ]


def test_label_key_with_empty_name_after_the_prefix_is_refused():
    assert refusal(validate_label_key, "example.com/").messages == [
        "“example.com/”: the name after the prefix may not be empty."
    ]


def test_label_key_with_name_longer_than_63_characters_is_refused():
    key = "example.com/" + "n" * 64
    assert refusal(validate_label_key, key).messages == [
        f"“{key}”: the name is longer than 63 characters."
    ]


@pytest.mark.parametrize(
    "key", ["-app", "_app", ".app", "app-", "app_", "app.", "example.com/-app"]
)
def test_label_key_name_not_alphanumeric_at_both_ends_is_refused(key):
    message = refusal(validate_label_key, key).messages[0]
    assert message.startswith(f"“{key}”:")
    assert "beginning and ending with a letter or digit" in message


@pytest.mark.parametrize("key", ["my app", "app@1", "größe", "app:1", "app\n"])
def test_label_key_name_with_a_character_outside_the_charset_is_refused(key):
    message = refusal(validate_label_key, key).messages[0]
    assert "use letters, digits, “-”, “_” and “.”" in message


@fast
@given(label_keys)
def test_every_key_of_the_label_key_grammar_is_accepted(key):
    validate_label_key(key)


@fast
@given(label_names, outside(LABEL_CHARS), st.integers(min_value=0))
def test_label_key_name_holding_a_character_outside_the_charset_is_refused(name, char, position):
    assert not accepts(validate_label_key, insert(name, char, position))


@fast
@given(dns_subdomains, label_names, outside(string.ascii_lowercase + string.digits + "-."))
def test_label_key_prefix_holding_a_character_outside_dns_is_refused(prefix, name, char):
    assert not accepts(validate_label_key, f"{char}{prefix}/{name}")


@fast
@given(st.text())
def test_label_key_validator_raises_only_validation_error_on_any_text(text):
    accepts(validate_label_key, text)


# Label values ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "v1", "A", "1.2.3", "a_b-c.d", "x" * 63])
def test_label_value_following_the_rule_is_accepted(value):
    validate_label_value(value)


def test_label_value_longer_than_63_characters_is_refused():
    error = refusal(validate_label_value, "x" * 64)
    assert error.code == "invalid_value"
    assert "the value is longer than 63 characters" in error.messages[0]


@pytest.mark.parametrize("value", ["-v1", "v1-", ".v1", "v1_", "has space", "ünï", "a/b", "a:b"])
def test_label_value_breaking_the_charset_or_ends_is_refused(value):
    message = refusal(validate_label_value, value).messages[0]
    assert "may hold letters, digits, “-”, “_” and “.”" in message
    assert "beginning and ending with a letter or digit" in message


@pytest.mark.parametrize("value", [None, 1, True, ["v1"]])
def test_label_value_that_is_not_text_is_refused(value):
    assert "must be text" in refusal(validate_label_value, value).messages[0]


@fast
@given(label_values)
def test_every_value_of_the_label_value_grammar_is_accepted(value):
    validate_label_value(value)


@fast
@given(label_names, st.characters().filter(lambda c: c not in LABEL_CHARS), st.integers(0))
def test_label_value_holding_a_character_outside_the_charset_is_refused(value, char, position):
    assert not accepts(validate_label_value, insert(value, char, position))


@fast
@given(st.text())
def test_label_value_validator_raises_only_validation_error_on_any_text(text):
    accepts(validate_label_value, text)


# Labels (the mapping) ------------------------------------------------------------------------


def test_labels_following_the_rule_are_accepted():
    validate_labels({"app.kubernetes.io/name": "jupyter", "tier": "", "gpu": "a100"})


def test_no_labels_are_accepted():
    validate_labels({})


@pytest.mark.parametrize("value", [[("tier", "gpu")], "tier=gpu", None])
def test_labels_that_are_not_a_mapping_are_refused(value):
    error = refusal(validate_labels, value)
    assert error.code == "invalid_type"
    assert error.messages == ["Enter key/value pairs."]


def test_label_with_a_bad_key_is_refused_naming_the_key():
    error = refusal(validate_labels, {"Example.com/tier": "gpu"})
    assert codes(error) == ["invalid_label"]
    assert error.messages[0].startswith("“Example.com/tier”: the prefix must be a DNS subdomain")


def test_label_with_a_bad_value_is_refused_naming_its_key():
    error = refusal(validate_labels, {"tier": "gpu nodes"})
    assert error.messages[0].startswith("“tier”: the value may hold letters, digits")


def test_label_with_a_value_that_is_not_text_is_refused_naming_its_key():
    assert refusal(validate_labels, {"replicas": 2}).messages == [
        "“replicas”: the value must be text."
    ]


def test_labels_report_every_bad_pair_at_once():
    error = refusal(validate_labels, {"bad key": "x", "ok": "fine", "tier": "-gpu"})
    assert len(error.messages) == 2
    assert error.messages[0].startswith("“bad key”:")
    assert error.messages[1].startswith("“tier”:")


@fast
@given(st.dictionaries(label_keys, label_values, max_size=5))
def test_every_mapping_of_grammar_keys_and_values_is_accepted_as_labels(labels):
    validate_labels(labels)


@fast
@given(st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none()), max_size=5))
def test_labels_validator_raises_only_validation_error_on_any_mapping(labels):
    accepts(validate_labels, labels)


# Annotations -------------------------------------------------------------------------------


def test_annotations_with_label_keys_and_any_text_are_accepted():
    validate_annotations(
        {
            "example.com/owner": "Platform team <platform@example.com>",
            "note": "Any text: spaces, punctuation !?, ✓ and\nnew lines.",
            "empty": "",
        }
    )


def test_annotations_that_are_not_a_mapping_are_refused():
    assert refusal(validate_annotations, ["note"]).messages == ["Enter key/value pairs."]


def test_annotation_with_a_bad_key_is_refused_naming_the_key():
    error = refusal(validate_annotations, {"my note": "hello"})
    assert codes(error) == ["invalid_annotation"]
    assert error.messages[0].startswith("“my note”: use letters, digits")


def test_annotation_with_a_value_that_is_not_text_is_refused_naming_its_key():
    assert refusal(validate_annotations, {"replicas": 2}).messages == [
        "“replicas”: the value must be text."
    ]


def test_annotations_report_every_bad_pair_at_once():
    error = refusal(validate_annotations, {"/x": "a", "ok": "b", "n": None})
    assert [m.split(":")[0] for m in error.messages] == ["“/x”", "“n”"]


def test_annotations_of_exactly_256_kib_are_accepted():
    validate_annotations({"a": "x" * (ANNOTATIONS_MAX_BYTES - 1)})


def test_annotations_one_byte_over_256_kib_are_refused_with_their_size():
    error = refusal(validate_annotations, {"a": "x" * ANNOTATIONS_MAX_BYTES})
    assert error.code == "too_large"
    assert error.messages == [
        "Annotations may hold at most 256 KiB in all (these hold 262,145 bytes)."
    ]


def test_annotations_size_counts_the_keys_too():
    assert refusal(validate_annotations, {"ab": "x" * (ANNOTATIONS_MAX_BYTES - 1)}).code == (
        "too_large"
    )


def test_annotations_size_is_the_sum_over_all_pairs():
    quarter = "x" * (ANNOTATIONS_MAX_BYTES // 4)
    error = refusal(validate_annotations, {f"k{i}": quarter for i in range(4)})
    assert error.code == "too_large"


def test_annotations_size_counts_utf8_bytes_not_characters():
    value = "é" * (ANNOTATIONS_MAX_BYTES // 2)  # as many characters as 128 KiB, twice the bytes
    assert refusal(validate_annotations, {"a": value}).code == "too_large"


def test_annotation_holding_a_lone_surrogate_is_refused_not_crashing():
    assert not accepts(validate_annotations, {"note": json.loads('"\\ud800"')})


@fast
@given(st.dictionaries(label_keys, st.text(), max_size=5))
def test_every_mapping_of_label_keys_to_text_is_accepted_as_annotations(annotations):
    validate_annotations(annotations)


@fast
@given(st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none()), max_size=5))
def test_annotations_validator_raises_only_validation_error_on_any_mapping(annotations):
    accepts(validate_annotations, annotations)


# Variable names and extra configuration -------------------------------------------------------


@pytest.mark.parametrize("name", ["gpu_count", "HF_TOKEN", "_private", "A", "a1", "x" * 100])
def test_variable_name_like_an_environment_variable_is_accepted(name):
    validate_variable_name(name)


@pytest.mark.parametrize(
    "name", ["", "1gpu", "gpu-count", "gpu count", "gpu.count", "größe", "a\n"]
)
def test_variable_name_breaking_the_rule_is_refused_naming_it(name):
    error = refusal(validate_variable_name, name)
    assert error.code == "invalid_name"
    assert error.messages == [
        f"“{name}” is not a valid name: use letters, digits and “_”, not starting with a digit."
    ]


@pytest.mark.parametrize("value", [None, 7])
def test_variable_name_that_is_not_text_is_refused(value):
    assert refusal(validate_variable_name, value).code == "invalid_name"


@fast
@given(variable_names)
def test_every_name_of_the_variable_grammar_is_accepted(name):
    validate_variable_name(name)


@fast
@given(variable_names, st.characters().filter(lambda c: c not in VARIABLE_CHARS), st.integers(0))
def test_variable_name_holding_a_character_outside_the_charset_is_refused(name, char, position):
    assert not accepts(validate_variable_name, insert(name, char, position))


@fast
@given(st.sampled_from(string.digits), variable_names)
def test_variable_name_starting_with_a_digit_is_refused(digit, name):
    assert not accepts(validate_variable_name, digit + name)


@fast
@given(st.text())
def test_variable_name_validator_raises_only_validation_error_on_any_text(text):
    accepts(validate_variable_name, text)


def test_extra_configuration_with_environment_variable_keys_is_accepted():
    validate_extra_config({"CUDA_VISIBLE_DEVICES": "0,1", "_debug": "", "jupyter_port": "8888"})


def test_extra_configuration_that_is_not_a_mapping_is_refused():
    assert refusal(validate_extra_config, [("A", "1")]).messages == ["Enter key/value pairs."]


@pytest.mark.parametrize("key", ["1ST", "MY-VAR", "my var", "my.var", "", "ÄPFEL"])
def test_extra_configuration_key_unlike_an_environment_variable_is_refused_naming_it(key):
    error = refusal(validate_extra_config, {key: "x"})
    assert codes(error) == ["invalid_extra_config"]
    assert error.messages == [
        f"“{key}” is not a valid key: use letters, digits and “_”, not starting with a digit."
    ]


@pytest.mark.parametrize("value", [1, True, None, ["a"]])
def test_extra_configuration_value_that_is_not_text_is_refused_naming_its_key(value):
    assert refusal(validate_extra_config, {"DEBUG": value}).messages == [
        "“DEBUG”: the value must be text."
    ]


def test_extra_configuration_reports_every_bad_pair_at_once():
    error = refusal(validate_extra_config, {"1A": "x", "OK": "y", "B": 2})
    assert len(error.messages) == 2
    assert error.messages[0].startswith("“1A” is not a valid key")
    assert error.messages[1] == "“B”: the value must be text."


@fast
@given(st.dictionaries(variable_names, st.text(), max_size=5))
def test_every_mapping_of_variable_names_to_text_is_accepted_as_extra_configuration(config):
    validate_extra_config(config)


@fast
@given(st.dictionaries(st.text(), st.one_of(st.text(), st.integers()), max_size=5))
def test_extra_configuration_validator_raises_only_validation_error_on_any_mapping(config):
    accepts(validate_extra_config, config)


# unique_pairs ------------------------------------------------------------------------------


def test_unique_pairs_become_a_mapping_in_their_order():
    result = unique_pairs([("B", "2"), ("A", "1")])
    assert result == {"B": "2", "A": "1"}
    assert list(result) == ["B", "A"]


def test_no_pairs_become_an_empty_mapping():
    assert unique_pairs([]) == {}


def test_a_key_given_twice_is_refused_naming_it():
    error = refusal(unique_pairs, [("PORT", "1"), ("HOST", "h"), ("PORT", "2")])
    assert error.code == "duplicate_key"
    assert error.messages == ["Each key may appear once; given more than once: PORT."]


def test_a_key_given_three_times_is_named_once():
    error = refusal(unique_pairs, [("A", "1"), ("A", "2"), ("A", "3")])
    assert error.messages == ["Each key may appear once; given more than once: A."]


def test_every_duplicated_key_is_named_in_order_of_repetition():
    error = refusal(unique_pairs, [("A", ""), ("B", ""), ("B", ""), ("A", "")])
    assert error.messages[0].endswith("given more than once: B, A.")


def test_duplicate_message_names_what_the_keys_are():
    with pytest.raises(ValidationError) as caught:
        unique_pairs([("tier", "a"), ("tier", "b")], what="label")
    assert caught.value.messages[0].startswith("Each label may appear once;")


def test_keys_differing_only_in_case_are_not_duplicates():
    assert unique_pairs([("path", "a"), ("PATH", "b")]) == {"path": "a", "PATH": "b"}


@fast
@given(st.lists(st.tuples(st.sampled_from("ABCDEF"), st.text(max_size=3)), max_size=8))
def test_unique_pairs_refuses_exactly_when_a_key_repeats(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) == len(keys):
        assert unique_pairs(pairs) == dict(pairs)
    else:
        assert refusal(unique_pairs, pairs).code == "duplicate_key"


# Icon URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/icon.png",
        "http://cdn.example.org/icons/jupyter.svg?v=2#x",
        "HTTPS://EXAMPLE.COM/ICON.PNG",
        "https://example.com:8443/i.png",
        "https://192.0.2.10/icon.png",
    ],
)
def test_absolute_http_or_https_icon_url_is_accepted(url):
    validate_icon_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        " javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "ftp://example.com/icon.png",
        "file:///etc/passwd",
        "mailto:team@example.com",
        "/static/icon.png",
        "icon.png",
        "../icon.png",
        "//example.com/icon.png",
    ],
)
def test_icon_url_that_is_not_absolute_http_or_https_is_refused(url):
    error = refusal(validate_icon_url, url)
    assert error.code == "invalid_scheme"
    assert error.messages == ["Enter an absolute http:// or https:// address."]


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "https:example.com/icon.png",
        "http://exa mple.com/icon.png",
        "https://example.com/icon.png\n",
        "http://-bad-.example/icon.png",
    ],
)
def test_malformed_http_icon_url_is_refused(url):
    error = refusal(validate_icon_url, url)
    assert error.code == "invalid"
    assert error.messages == ["Enter a valid URL."]


def test_icon_url_of_exactly_2048_characters_is_accepted():
    url = "https://example.com/"
    validate_icon_url(url + "a" * (ICON_URL_MAX_LENGTH - len(url)))


def test_icon_url_of_2049_characters_is_refused_with_the_limit():
    url = "https://example.com/"
    error = refusal(validate_icon_url, url + "a" * (ICON_URL_MAX_LENGTH + 1 - len(url)))
    assert error.code == "max_length"
    assert error.messages == ["Use at most 2,048 characters."]


@pytest.mark.parametrize("url", ["http://[", "https://[::1/icon.png", "https://example.com]/i.png"])
def test_icon_url_with_an_unbalanced_ipv6_bracket_is_refused_not_crashing(url):
    assert refusal(validate_icon_url, url).code == "invalid"


url_text = st.text()


@fast
@given(
    st.sampled_from(
        ["", "http://", "https://", "javascript:", "data:", "ftp://", "//", " http://"]
    ),
    url_text,
)
def test_accepted_icon_url_is_always_http_or_https(start, rest):
    if accepts(validate_icon_url, start + rest):
        assert (start + rest).lower().startswith(("http://", "https://"))


@fast
@given(st.one_of(url_text, url_text.map("https://".__add__)))
def test_icon_url_validator_raises_only_validation_error_on_any_text(text):
    accepts(validate_icon_url, text)


# Readme ------------------------------------------------------------------------------------


def test_empty_readme_is_accepted():
    validate_readme("")


def test_readme_of_exactly_256_kib_is_accepted():
    validate_readme("x" * README_MAX_BYTES)


def test_readme_one_byte_over_256_kib_is_refused_with_its_size():
    error = refusal(validate_readme, "x" * (README_MAX_BYTES + 1))
    assert error.code == "too_large"
    assert error.messages == ["The readme may be at most 256 KiB (this one is 262,145 bytes)."]


def test_readme_of_256_kib_in_two_byte_characters_is_accepted():
    validate_readme("é" * (README_MAX_BYTES // 2))


def test_readme_size_counts_utf8_bytes_not_characters():
    readme = "€" * (README_MAX_BYTES // 3 + 1)  # 87,382 characters, 262,146 bytes
    assert len(readme) < README_MAX_BYTES
    assert refusal(validate_readme, readme).messages == [
        "The readme may be at most 256 KiB (this one is 262,146 bytes)."
    ]


def test_readme_holding_a_lone_surrogate_is_refused_not_crashing():
    assert not accepts(validate_readme, "# Title\n" + json.loads('"\\ud800"'))


@fast
@given(st.text())
def test_readme_validator_raises_only_validation_error_on_any_text(text):
    accepts(validate_readme, text)


# parse_value ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value_type", VALUE_TYPES)
def test_empty_text_parses_to_no_value_for_every_type(value_type):
    assert parse_value(value_type, "") is None


@pytest.mark.parametrize("text", ["pytorch", " spaced ", "true", "1", "{"])
def test_text_value_is_kept_as_given(text):
    assert parse_value("text", text) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1", Decimal(1)),
        ("-2.5", Decimal("-2.5")),
        ("+7", Decimal(7)),
        (".5", Decimal("0.5")),
        ("1e3", Decimal(1000)),
        (" 4 ", Decimal(4)),
        ("0.1", Decimal("0.1")),
    ],
)
def test_number_value_parses_to_an_exact_decimal(text, number):
    assert parse_value("number", text) == number


@pytest.mark.parametrize("text", ["abc", "1,5", "1.2.3", "0x10", "1 000", "   ", "one", "--1"])
def test_number_value_that_is_not_a_number_is_refused_naming_it(text):
    with pytest.raises(ValidationError) as caught:
        parse_value("number", text)
    assert caught.value.code == "invalid_number"
    assert caught.value.messages == [f"“{text}” is not a number."]


@pytest.mark.parametrize(
    "text", ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "-inf", "Inf"]
)
def test_number_value_that_is_nan_or_infinite_is_refused(text):
    with pytest.raises(ValidationError) as caught:
        parse_value("number", text)
    assert caught.value.messages == [f"“{text}” is not a number."]


def test_number_value_with_an_exponent_beyond_decimal_range_is_refused():
    with pytest.raises(ValidationError):
        parse_value("number", "1e9999999999999999999")


@pytest.mark.parametrize("text", ["1_000", "١٢٣", "１２"])
def test_number_value_in_a_form_only_python_reads_is_refused(text):
    with pytest.raises(ValidationError):
        parse_value("number", text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("false", False), ("TRUE", True), ("False", False), (" true ", True)],
)
def test_boolean_value_true_or_false_in_any_case_is_parsed(text, value):
    assert parse_value("boolean", text) is value


@pytest.mark.parametrize("text", ["yes", "no", "1", "0", "t", "on", "truthy", "   "])
def test_boolean_value_other_than_true_or_false_is_refused_saying_what_to_use(text):
    with pytest.raises(ValidationError) as caught:
        parse_value("boolean", text)
    assert caught.value.code == "invalid_boolean"
    assert caught.value.messages == [f"“{text}” is not a boolean: use true or false."]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": [1, 2.5, null]}', {"a": [1, 2.5, None]}),
        ("[]", []),
        ('"pytorch"', "pytorch"),
        ("3", 3),
        ("true", True),
    ],
)
def test_json_value_is_parsed(text, value):
    assert parse_value("json", text) == value


@pytest.mark.parametrize("text", ["{", "{'a': 1}", "[1,]", "undefined", "pytorch", "[1] [2]"])
def test_malformed_json_value_is_refused_saying_it_is_not_json(text):
    with pytest.raises(ValidationError) as caught:
        parse_value("json", text)
    assert caught.value.code == "invalid_json"
    assert caught.value.messages[0].startswith("This is not valid JSON: ")


def test_malformed_json_refusal_gives_the_reason_without_the_position():
    with pytest.raises(ValidationError) as caught:
        parse_value("json", "{'a': 1}")
    assert caught.value.messages == [
        "This is not valid JSON: Expecting property name enclosed in double quotes."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
    ],
    ids=["unclosed-arrays", "closed-arrays", "objects"],
)
def test_deeply_nested_json_value_is_refused_as_validation_error(text):
    with pytest.raises(ValidationError) as caught:
        parse_value("json", text)
    assert caught.value.messages[0].startswith("This is not valid JSON: maximum recursion depth")


def test_json_integer_too_long_to_convert_is_refused_as_validation_error():
    with pytest.raises(ValidationError) as caught:
        parse_value("json", "1" * 5_000)
    assert caught.value.code == "invalid_json"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"lr": NaN}'])
def test_json_value_with_nan_or_infinity_is_refused(text):
    with pytest.raises(ValidationError):
        parse_value("json", text)


def test_unknown_value_type_is_refused_naming_it():
    with pytest.raises(ValidationError) as caught:
        parse_value("date", "2026-01-01")
    assert caught.value.code == "invalid_type"
    assert caught.value.messages == ["Unknown value type “date”."]


@fast
@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_every_finite_decimal_parses_back_as_a_number(number):
    assert parse_value("number", str(number)) == number


@fast
@given(st.booleans(), st.sampled_from([str.lower, str.upper, str.title]), st.text(" ", max_size=2))
def test_every_spelling_of_true_or_false_parses_as_a_boolean(value, case, padding):
    assert parse_value("boolean", padding + case(str(value)) + padding) is value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@fast
@given(json_values)
def test_every_json_document_parses_back_to_its_value(value):
    assert parse_value("json", json.dumps(value)) == value


@fast
@given(st.sampled_from(VALUE_TYPES), st.text())
def test_parse_value_raises_only_validation_error_on_any_text(value_type, text):
    accepts(partial(parse_value, value_type), text)
