"""The domain rules of SPEC §3 that look at several values at once: profiles/rules.py.

Settings are unsaved model instances (a template's ``TemplateVariable``, a profile's
``InputSetting``); sharing and version rules use the projects and templates of tests/conftest.py.
"""

import pytest
from django.core.exceptions import ValidationError

from profiles.models import InputSetting, TemplateVariable
from profiles.rules import (
    raise_problems,
    setting_problems,
    sharing_problems,
    tightening_problems,
)
from profiles.validators import validate_version_name
from studio.models import Project
from tests.factories import make_template

NOTEBOOKS = ["pytorch", "tensorflow", "rapids"]


def variable(
    value: str = "",
    *,
    value_type: str = "text",
    override: str = "allowed",
    restricted=(),
    required: bool = False,
    sensitive: bool = False,
) -> TemplateVariable:
    """An unsaved template variable."""
    result = TemplateVariable(
        name="var",
        value_type=value_type,
        override=override,
        restricted_values=list(restricted) if isinstance(restricted, tuple | list) else restricted,
        required=required,
        sensitive=sensitive,
    )
    result.set_value(value)
    return result


def profile_input(
    value: str = "",
    *,
    override: str = "allowed",
    restricted=(),
    required: bool = False,
    sensitive: bool = False,
) -> InputSetting:
    """An unsaved profile input setting."""
    result = InputSetting(
        name="var",
        override=override,
        restricted_values=list(restricted) if isinstance(restricted, tuple | list) else restricted,
        required=required,
        sensitive=sensitive,
    )
    result.set_value(value)
    return result


def copy_of(template_variable: TemplateVariable) -> InputSetting:
    """The input a profile starts with: the variable's own settings."""
    return profile_input(
        template_variable.effective_value,
        override=template_variable.override,
        restricted=template_variable.restricted_values,
        required=template_variable.required,
        sensitive=template_variable.sensitive,
    )


# raise_problems and version names ------------------------------------------------------------


def test_no_problems_raise_nothing():
    raise_problems({})


def test_problems_raise_a_validation_error_by_field():
    with pytest.raises(ValidationError) as caught:
        raise_problems({"value": ["Fix the value."], "required": ["Keep it required."]})
    assert caught.value.message_dict == {
        "value": ["Fix the value."],
        "required": ["Keep it required."],
    }


@pytest.mark.parametrize("name", ["v1", "v2", "v10", "v999999"])
def test_version_named_v_and_a_number_is_accepted(name):
    validate_version_name(name)


@pytest.mark.parametrize("name", ["", None, "v0", "v01", "V1", "1", "v1.0", "v-1", "v1234567"])
def test_version_name_other_than_v_and_a_number_is_refused_with_the_pattern(name):
    with pytest.raises(ValidationError) as caught:
        validate_version_name(name)
    assert caught.value.code == "invalid_version"
    assert caught.value.messages == ["Name versions v1, v2, v3, …"]


# setting_problems: values must parse as their valueType ---------------------------------------


def test_allowed_text_variable_with_a_default_has_no_problems():
    assert setting_problems("text", variable("pytorch")) == {}


def test_allowed_variable_without_a_default_has_no_problems():
    assert setting_problems("number", variable("")) == {}


def test_required_variable_that_end_users_may_override_needs_no_default():
    assert setting_problems("text", variable("", required=True)) == {}


@pytest.mark.parametrize(
    ("value_type", "value"),
    [("number", "2"), ("number", "-0.5"), ("boolean", "true"), ("json", '{"a": [1]}')],
)
def test_default_that_parses_as_its_value_type_has_no_problems(value_type, value):
    assert setting_problems(value_type, variable(value, value_type=value_type)) == {}


def test_number_default_that_is_not_a_number_is_a_value_problem_naming_it():
    problems = setting_problems("number", variable("two", value_type="number"))
    assert problems == {"value": ["“two” is not a number."]}


def test_number_default_that_is_nan_is_a_value_problem():
    assert setting_problems("number", variable("NaN")) == {"value": ["“NaN” is not a number."]}


def test_boolean_default_other_than_true_or_false_is_a_value_problem_saying_what_to_use():
    problems = setting_problems("boolean", variable("yes"))
    assert problems == {"value": ["“yes” is not a boolean: use true or false."]}


def test_json_default_that_is_malformed_is_a_value_problem():
    problems = setting_problems("json", variable('{"a": '))
    assert list(problems) == ["value"]
    assert problems["value"][0].startswith("This is not valid JSON: ")


def test_sensitive_default_is_checked_too():
    setting = variable("lots", value_type="number", sensitive=True)
    assert setting.value == ""  # the default is kept in the encrypted column
    assert setting_problems("number", setting) == {
        "value": ["The sensitive value is not a valid number value; enter a new one."]
    }


def test_profile_input_is_checked_like_a_template_variable():
    assert setting_problems("boolean", profile_input("maybe")) == {
        "value": ["“maybe” is not a boolean: use true or false."]
    }


# setting_problems: restricted values ----------------------------------------------------------


def test_restricted_variable_with_default_among_its_values_has_no_problems():
    setting = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    assert setting_problems("text", setting) == {}


def test_restricted_variable_without_a_default_has_no_problems():
    setting = variable("", override="restricted", restricted=NOTEBOOKS, required=True)
    assert setting_problems("text", setting) == {}


def test_restricted_variable_with_an_empty_list_is_a_restricted_values_problem():
    problems = setting_problems("text", variable("", override="restricted", restricted=[]))
    assert problems == {"restricted_values": ["List at least one value end users may choose."]}


def test_restricted_default_outside_the_list_is_a_value_problem():
    setting = variable("jax", override="restricted", restricted=NOTEBOOKS)
    assert setting_problems("text", setting) == {
        "value": ["The default must be one of the restricted values."]
    }


def test_restricted_number_default_is_compared_by_value():
    setting = variable("1.0", override="restricted", restricted=["1", "2", "4"])
    assert setting_problems("number", setting) == {}


def test_restricted_boolean_default_is_compared_by_value():
    setting = variable("TRUE", override="restricted", restricted=["true"])
    assert setting_problems("boolean", setting) == {}


def test_restricted_json_default_is_compared_by_value():
    setting = variable('{"b": 2, "a": 1}', override="restricted", restricted=['{"a":1,"b":2}'])
    assert setting_problems("json", setting) == {}


def test_restricted_json_default_true_is_not_the_number_one():
    setting = variable("true", override="restricted", restricted=["1", "2"])
    assert setting_problems("json", setting) == {
        "value": ["The default must be one of the restricted values."]
    }


def test_restricted_list_with_an_empty_value_is_a_restricted_values_problem():
    setting = variable("pytorch", override="restricted", restricted=["pytorch", ""])
    assert setting_problems("text", setting) == {
        "restricted_values": ["A restricted value may not be empty."]
    }


def test_restricted_list_with_a_value_given_twice_is_a_restricted_values_problem():
    setting = variable("pytorch", override="restricted", restricted=["pytorch", "pytorch"])
    assert setting_problems("text", setting) == {
        "restricted_values": ["Each restricted value may appear once."]
    }


def test_restricted_value_that_does_not_parse_is_a_restricted_values_problem_naming_it():
    setting = variable("1", override="restricted", restricted=["1", "many"])
    assert setting_problems("number", setting) == {
        "restricted_values": ["Every restricted value must be valid: “many” is not a number."]
    }


def test_restricted_default_that_does_not_parse_is_reported_once():
    setting = variable("x", override="restricted", restricted=["1", "2"])
    assert setting_problems("number", setting) == {"value": ["“x” is not a number."]}


@pytest.mark.parametrize("restricted", ["pytorch", None, {"pytorch": 1}, [1, 2], ["a", None]])
def test_restricted_values_that_are_not_a_list_of_text_are_a_restricted_values_problem(
    restricted,
):
    setting = variable("pytorch", override="restricted", restricted=restricted)
    assert setting_problems("text", setting) == {
        "restricted_values": ["Restricted values must be a list of text values."]
    }


@pytest.mark.parametrize("override", ["allowed", "notallowed"])
def test_restricted_values_without_restricted_override_are_a_restricted_values_problem(override):
    setting = variable("pytorch", override=override, restricted=NOTEBOOKS)
    assert setting_problems("text", setting) == {
        "restricted_values": ["Restricted values apply only when override is Restricted."]
    }


def test_restricted_problems_are_all_reported_together():
    setting = variable("1", override="restricted", restricted=["1", "1", ""])
    assert setting_problems("number", setting) == {
        "restricted_values": [
            "A restricted value may not be empty.",
            "Each restricted value may appear once.",
        ]
    }


# setting_problems: notallowed + required --------------------------------------------------------


def test_required_variable_end_users_may_not_override_without_a_value_is_a_value_problem():
    setting = variable("", override="notallowed", required=True)
    assert setting_problems("text", setting) == {
        "value": ["A required input that end users may not override needs a value."]
    }


def test_required_variable_end_users_may_not_override_with_a_value_has_no_problems():
    assert setting_problems("text", variable("us-east", override="notallowed", required=True)) == {}


def test_sensitive_required_variable_end_users_may_not_override_with_a_secret_has_no_problems():
    setting = variable("hf_secret", override="notallowed", required=True, sensitive=True)
    assert setting_problems("text", setting) == {}


def test_optional_variable_end_users_may_not_override_may_have_no_value():
    assert setting_problems("text", variable("", override="notallowed")) == {}


def test_value_problems_are_all_reported_together():
    setting = variable("", override="notallowed", required=True, restricted=["a"])
    assert setting_problems("text", setting) == {
        "restricted_values": ["Restricted values apply only when override is Restricted."],
        "value": ["A required input that end users may not override needs a value."],
    }


# tightening_problems: progressive templating ---------------------------------------------------


@pytest.mark.parametrize(
    "template_variable",
    [
        variable("pytorch"),
        variable("1", value_type="number", required=True),
        variable("secret", sensitive=True),
        variable("us-east", override="notallowed", required=True),
        variable("pytorch", override="restricted", restricted=NOTEBOOKS),
    ],
    ids=["allowed", "required", "sensitive", "notallowed", "restricted"],
)
def test_input_copying_its_variable_has_no_problems(template_variable):
    assert tightening_problems(template_variable, copy_of(template_variable)) == {}


def test_input_may_change_the_value_of_a_variable_end_users_may_override():
    assert tightening_problems(variable("pytorch"), profile_input("jax")) == {}


def test_input_may_make_an_optional_variable_required():
    assert tightening_problems(variable("a"), profile_input("a", required=True)) == {}


def test_input_may_make_a_variable_sensitive():
    assert tightening_problems(variable("a"), profile_input("a", sensitive=True)) == {}


@pytest.mark.parametrize("override", ["notallowed", "restricted"])
def test_input_may_tighten_an_allowed_variable_override(override):
    restricted = ["a"] if override == "restricted" else []
    setting = profile_input("a", override=override, restricted=restricted)
    assert tightening_problems(variable("a"), setting) == {}


def test_input_may_not_drop_required_from_a_required_variable():
    problems = tightening_problems(variable("1", required=True), profile_input("1"))
    assert problems == {"required": ["The template requires this variable, so it stays required."]}


def test_input_may_not_drop_sensitive_from_a_sensitive_variable():
    problems = tightening_problems(variable("s", sensitive=True), profile_input("s"))
    assert problems == {
        "sensitive": ["The template marks this variable sensitive; it stays sensitive."]
    }


@pytest.mark.parametrize("override", ["allowed", "restricted"])
def test_input_may_not_loosen_a_variable_end_users_may_not_override(override):
    template_variable = variable("us-east", override="notallowed")
    setting = profile_input("us-east", override=override, restricted=["us-east"])
    assert tightening_problems(template_variable, setting) == {
        "override": ["The template does not allow overriding this variable; it stays Not allowed."]
    }


def test_input_may_not_change_the_value_the_template_fixes():
    template_variable = variable("us-east", override="notallowed")
    setting = profile_input("eu-west", override="notallowed")
    assert tightening_problems(template_variable, setting) == {
        "value": ["The template fixes this value; it cannot be changed here."]
    }


def test_input_may_not_clear_the_value_the_template_fixes():
    template_variable = variable("us-east", override="notallowed")
    setting = profile_input("", override="notallowed")
    assert list(tightening_problems(template_variable, setting)) == ["value"]


def test_input_may_not_change_the_secret_the_template_fixes():
    template_variable = variable("template-secret", override="notallowed", sensitive=True)
    setting = profile_input("other-secret", override="notallowed", sensitive=True)
    assert tightening_problems(template_variable, setting) == {
        "value": ["The template fixes this value; it cannot be changed here."]
    }


def test_input_may_not_make_a_restricted_variable_freely_overridable():
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    assert tightening_problems(template_variable, profile_input("pytorch")) == {
        "override": [
            "The template restricts this variable to a list; choose Restricted or Not allowed."
        ]
    }


def test_input_may_shrink_a_restricted_list_to_a_subset():
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    setting = profile_input("rapids", override="restricted", restricted=["rapids", "pytorch"])
    assert tightening_problems(template_variable, setting) == {}


def test_input_may_not_add_values_to_a_restricted_list_and_is_told_which():
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    setting = profile_input(
        "pytorch", override="restricted", restricted=["pytorch", "jax", "mxnet"]
    )
    assert tightening_problems(template_variable, setting) == {
        "restricted_values": [
            "The template allows only pytorch, tensorflow, rapids; not jax, mxnet."
        ]
    }


def test_restricted_number_list_shrinks_by_value_not_by_spelling():
    template_variable = variable(
        "1", value_type="number", override="restricted", restricted=["1", "2", "4"]
    )
    setting = profile_input("2", override="restricted", restricted=["1.0", "2"])
    assert tightening_problems(template_variable, setting) == {}


def test_input_may_fix_a_restricted_variable_to_one_of_its_values():
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    setting = profile_input("rapids", override="notallowed")
    assert tightening_problems(template_variable, setting) == {}


def test_input_may_not_fix_a_restricted_variable_to_another_value():
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    setting = profile_input("jax", override="notallowed")
    assert tightening_problems(template_variable, setting) == {
        "value": ["The template allows only pytorch, tensorflow, rapids."]
    }


def test_restricted_input_outside_the_template_list_is_told_about_list_and_default():
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    setting = profile_input("jax", override="restricted", restricted=["jax"])
    assert tightening_problems(template_variable, setting) == {
        "restricted_values": ["The template allows only pytorch, tensorflow, rapids; not jax."],
        "value": ["The template allows only pytorch, tensorflow, rapids."],
    }


def test_unparseable_input_values_are_left_to_setting_problems():
    template_variable = variable(
        "1", value_type="number", override="restricted", restricted=["1", "2"]
    )
    setting = profile_input("x", override="restricted", restricted=["x"])
    assert tightening_problems(template_variable, setting) == {}


def test_input_may_not_fix_a_restricted_json_variable_to_null():
    template_variable = variable("1", value_type="json", override="restricted", restricted=["1"])
    setting = profile_input("null", override="notallowed")
    assert tightening_problems(template_variable, setting) == {
        "value": ["The template allows only 1."]
    }


def test_input_may_not_put_true_in_a_restricted_json_list_of_numbers():
    template_variable = variable(
        "1", value_type="json", override="restricted", restricted=["1", "2"]
    )
    setting = profile_input("true", override="restricted", restricted=["true"])
    assert "restricted_values" in tightening_problems(template_variable, setting)


@pytest.mark.parametrize("restricted", [3, None])
def test_restricted_values_that_are_not_a_list_do_not_crash_the_tightening_check(restricted):
    template_variable = variable("pytorch", override="restricted", restricted=NOTEBOOKS)
    setting = profile_input("pytorch", override="restricted", restricted=restricted)
    assert "restricted_values" not in tightening_problems(template_variable, setting)


def test_every_loosening_is_reported_at_once():
    template_variable = variable(
        "pytorch", override="restricted", restricted=NOTEBOOKS, required=True, sensitive=True
    )
    assert set(tightening_problems(template_variable, profile_input("jax"))) == {
        "required",
        "sensitive",
        "override",
        "value",
    }


# sharing_problems --------------------------------------------------------------------------


@pytest.mark.parametrize("sharing", ["none", "all"])
def test_sharing_none_or_all_without_projects_has_no_problems(db, platform, sharing):
    assert sharing_problems(owner=platform, sharing=sharing, projects=[]) == {}


def test_sharing_with_selected_other_projects_has_no_problems(platform, research, finance):
    problems = sharing_problems(owner=platform, sharing="selected", projects=[research, finance])
    assert problems == {}


def test_sharing_accepts_a_queryset_of_projects(platform, research, finance):
    projects = Project.objects.filter(name__in=["research", "finance"])
    assert sharing_problems(owner=platform, sharing="selected", projects=projects) == {}


def test_sharing_with_selected_but_no_projects_is_a_shared_with_problem(platform):
    assert sharing_problems(owner=platform, sharing="selected", projects=[]) == {
        "shared_with": ["Pick at least one project to share with."]
    }


@pytest.mark.parametrize("sharing", ["none", "all"])
def test_projects_picked_for_none_or_all_are_a_shared_with_problem(platform, research, sharing):
    assert sharing_problems(owner=platform, sharing=sharing, projects=[research]) == {
        "shared_with": ["Projects are picked only for Selected Projects."]
    }


def test_sharing_with_the_owner_itself_is_a_shared_with_problem_naming_it(platform, research):
    problems = sharing_problems(owner=platform, sharing="selected", projects=[research, platform])
    assert problems == {"shared_with": ["“platform” owns it already; pick other projects."]}


def test_sharing_into_the_system_catalog_is_a_shared_with_problem(platform, system):
    assert sharing_problems(owner=platform, sharing="selected", projects=[system]) == {
        "shared_with": ["Nothing is shared into the system catalog."]
    }


def test_system_catalog_may_not_share_with_itself(system, research):
    problems = sharing_problems(owner=system, sharing="selected", projects=[research, system])
    assert problems == {"shared_with": ["Nothing is shared into the system catalog."]}


def test_every_sharing_problem_is_reported_at_once(platform, system):
    problems = sharing_problems(owner=platform, sharing="all", projects=[platform, system])
    assert problems == {
        "shared_with": [
            "Projects are picked only for Selected Projects.",
            "“platform” owns it already; pick other projects.",
            "Nothing is shared into the system catalog.",
        ]
    }


@pytest.mark.parametrize("sharing", ["", "everyone", "SELECTED", None])
def test_unknown_sharing_is_a_sharing_problem_listing_the_choices(platform, sharing):
    assert sharing_problems(owner=platform, sharing=sharing, projects=[]) == {
        "sharing": ["Choose None, All Projects or Selected Projects."]
    }


def test_sharing_without_the_project_list_checks_only_the_choice(platform):
    assert sharing_problems(owner=platform, sharing="selected", projects=None) == {}


def test_sharing_without_an_owner_skips_the_owner_check(platform):
    assert sharing_problems(owner=None, sharing="selected", projects=[platform]) == {}


# version_problems, through TemplateVersion.problems_in -------------------------------------


def test_active_version_of_a_system_catalog_template_is_available_to_every_project(
    notebook_version, research
):
    assert notebook_version.problems_in(research) == {}


def test_active_version_of_the_projects_own_template_has_no_problems(research):
    version = make_template(research, "own-template")
    assert version.problems_in(research) == {}


def test_system_catalog_template_is_available_even_when_not_shared(system, finance):
    version = make_template(system, "private-base", sharing="none")
    assert version.problems_in(finance) == {}


def test_template_of_another_project_that_is_not_shared_is_a_template_version_problem(
    platform, research
):
    version = make_template(platform, "platform-only")
    assert version.problems_in(research) == {
        "template_version": ["The template “platform-only” is not available to project research."]
    }


def test_template_shared_with_all_projects_is_available(platform, finance):
    version = make_template(platform, "shared-base", sharing="all")
    assert version.problems_in(finance) == {}


def test_template_shared_with_selected_projects_is_available_to_them(platform, research):
    version = make_template(platform, "for-research", sharing="selected")
    version.template.shared_with.add(research)
    assert version.problems_in(research) == {}


def test_template_shared_with_selected_projects_is_not_available_to_others(
    platform, research, finance
):
    version = make_template(platform, "for-research", sharing="selected")
    version.template.shared_with.add(research)
    assert version.problems_in(finance) == {
        "template_version": ["The template “for-research” is not available to project finance."]
    }


def test_template_no_longer_shared_is_not_available_through_its_old_project_list(
    platform, research
):
    version = make_template(platform, "was-shared", sharing="selected")
    version.template.shared_with.add(research)
    version.template.sharing = "none"
    version.template.save()
    assert list(version.problems_in(research)) == ["template_version"]


@pytest.mark.parametrize("state", ["draft", "disabled"])
def test_version_that_is_not_active_is_a_template_version_problem_naming_its_state(
    notebook_version, research, state
):
    version = make_template(notebook_version.template.project, "jupyter-notebook", version="v2")
    version.state = state
    version.save()
    assert version.problems_in(research) == {
        "template_version": [
            f"Version v2 of jupyter-notebook is {state}; choose an active version."
        ]
    }


def test_unavailable_template_is_reported_before_its_version_state(platform, research):
    version = make_template(platform, "platform-drafts", state="draft")
    assert version.problems_in(research) == {
        "template_version": ["The template “platform-drafts” is not available to project research."]
    }


def test_a_sensitive_value_is_never_repeated_in_a_message():
    variable = TemplateVariable(name="hf_token", value_type="number", sensitive=True)
    variable.set_value("hf_very_secret")
    messages = setting_problems("number", variable)["value"]
    assert not any("hf_very_secret" in message for message in messages)
    assert messages == ["The sensitive value is not a valid number value; enter a new one."]
