"""Input resolution at launch (SPEC §8): compute/inputs.py, on revision documents as stored."""

import pytest

from compute.inputs import InputProblems, as_env, launchable_inputs, resolve_inputs


def item(name, value="", *, override="allowed", restricted=(), required=False, sensitive=False):
    document = {
        "name": name,
        "displayName": name.replace("_", " ").capitalize(),
        "description": "",
        "required": required,
        "sensitive": sensitive,
        "override": {"type": override},
    }
    if override == "restricted":
        document["override"]["restrictedValues"] = list(restricted)
    if not sensitive:
        document["value"] = value
    return document


def document(*inputs):
    return {"spec": {"inputs": list(inputs)}}


def resolve(*inputs, submitted=None, secrets=None, types=None):
    return resolve_inputs(
        document=document(*inputs),
        secrets=secrets or {},
        value_types=types or {},
        submitted=submitted or {},
    )


def refused(*inputs, **kwargs) -> dict[str, list[str]]:
    with pytest.raises(InputProblems) as caught:
        resolve(*inputs, **kwargs)
    return caught.value.problems


def test_an_allowed_input_takes_the_value_sent():
    assert resolve(item("image", "a"), submitted={"image": "b"}).values == {"image": "b"}


def test_an_allowed_input_not_sent_takes_the_profiles_default():
    assert resolve(item("image", "a")).values == {"image": "a"}


def test_a_notallowed_input_takes_the_profiles_value():
    assert resolve(item("region", "eu", override="notallowed")).values == {"region": "eu"}


def test_a_notallowed_input_cannot_be_sent_another_value():
    problems = refused(item("region", "eu", override="notallowed"), submitted={"region": "us"})
    assert problems == {"region": ["Region is set by the profile and cannot be changed at launch."]}


def test_a_notallowed_input_sent_its_own_value_is_accepted():
    resolved = resolve(item("region", "eu", override="notallowed"), submitted={"region": "eu"})
    assert resolved.values == {"region": "eu"}


def test_a_restricted_input_takes_one_of_its_values():
    notebook = item("flavour", "rapids", override="restricted", restricted=["rapids", "torch"])
    assert resolve(notebook, submitted={"flavour": "torch"}).values == {"flavour": "torch"}


def test_a_restricted_input_refuses_a_value_off_its_list():
    notebook = item("flavour", "rapids", override="restricted", restricted=["rapids", "torch"])
    problems = refused(notebook, submitted={"flavour": "jax"})
    assert problems == {"flavour": ["Flavour must be one of: rapids, torch."]}


def test_a_required_input_must_end_with_a_value():
    problems = refused(item("image", "a", required=True), submitted={"image": ""})
    assert problems == {"image": ["Image needs a value."]}


def test_an_optional_input_may_be_left_empty():
    assert resolve(item("note", "x"), submitted={"note": ""}).values == {"note": ""}


@pytest.mark.parametrize(
    ("value_type", "sent", "message"),
    [
        ("number", "two", "Gpu count: “two” is not a number."),
        ("boolean", "maybe", "Gpu count: “maybe” is not a boolean: use true or false."),
        ("json", "{oops", "Gpu count: This is not valid JSON: Expecting property name enclosed in "
         "double quotes."),
    ],
)  # fmt: skip
def test_a_value_must_parse_as_its_type(value_type, sent, message):
    problems = refused(
        item("gpu_count"), submitted={"gpu_count": sent}, types={"gpu_count": value_type}
    )
    assert problems == {"gpu_count": [message]}


@pytest.mark.parametrize(
    ("value_type", "sent", "env"),
    [
        ("number", " 2 ", "2"),
        ("number", "1.50", "1.50"),
        ("boolean", "TRUE", "true"),
        ("boolean", "False", "false"),
        ("json", '{"a": [1, 2]}', '{"a":[1,2]}'),
        ("text", " spaced ", " spaced "),
    ],
)
def test_values_reach_the_code_in_the_form_of_their_type(value_type, sent, env):
    resolved = resolve(item("x"), submitted={"x": sent}, types={"x": value_type})
    assert resolved.values == {"x": env}


def test_an_input_the_profile_does_not_have_is_refused_by_name():
    assert refused(item("image", "a"), submitted={"imagee": "b"}) == {
        "imagee": ["“imagee” is not an input of this profile."]
    }


def test_a_sensitive_input_sent_empty_keeps_its_stored_value():
    token = item("hf_token", sensitive=True)
    resolved = resolve(token, submitted={"hf_token": ""}, secrets={"hf_token": "hf_secret"})
    assert resolved.secrets == {"hf_token": "hf_secret"}
    assert resolved.plain == {}


def test_a_sensitive_input_takes_a_new_value_sent():
    token = item("hf_token", sensitive=True)
    resolved = resolve(token, submitted={"hf_token": "hf_new"}, secrets={"hf_token": "hf_old"})
    assert resolved.values == {"hf_token": "hf_new"}
    assert resolved.sensitive == {"hf_token"}


def test_a_sensitive_value_of_the_wrong_type_is_refused_without_repeating_it():
    pin = item("pin", sensitive=True)
    problems = refused(pin, submitted={"pin": "s3cret"}, types={"pin": "number"})
    assert problems == {"pin": ["Pin: The value is not a valid number value."]}
    assert "s3cret" not in str(problems)


def test_a_notallowed_sensitive_input_cannot_be_sent_at_all():
    token = item("hf_token", sensitive=True, override="notallowed")
    problems = refused(token, submitted={"hf_token": "x"}, secrets={"hf_token": "stored"})
    assert list(problems) == ["hf_token"]


def test_every_problem_is_reported_at_once():
    problems = refused(
        item("image", "a", required=True),
        item("region", "eu", override="notallowed"),
        submitted={"image": "", "region": "us", "extra": "1"},
    )
    assert sorted(problems) == ["extra", "image", "region"]


def test_the_launch_form_offers_only_the_inputs_a_user_may_set():
    doc = document(item("image", "a"), item("region", "eu", override="notallowed"))
    assert [i["name"] for i in launchable_inputs(doc)] == ["image"]


def test_an_empty_value_reaches_the_code_as_empty_text():
    assert as_env("number", None) == ""
