"""SPEC §6 on the PaaS Studio forms: bad input gets a field-level message and saves nothing.

Each test starts from a valid body (what the page rendered, or a valid new profile), changes
one thing, and checks the status, the message at the right field, and that the database is as
it was. No input, however malformed, may produce a 500.
"""

from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils.html import escape

from profiles.models import (
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
)
from tests.factories import make_profile, make_template
from tests.test_studio_wizard import (
    new_profile_body,
    open_step,
    page_body,
    row,
    row_errors,
    step_url,
)


def database_state() -> tuple:
    """Everything a Studio form could write, to compare before and after a refused post."""
    return (
        list(ServiceProfile.objects.values()),
        list(ServiceProfile.shared_with.through.objects.order_by("pk").values()),
        list(InputSetting.objects.values()),
        list(OutputSetting.objects.values()),
        ProfileRevision.objects.count(),
        ProfileEvent.objects.count(),
    )


def error_shown_at(response, bound_field) -> bool:
    """Whether the page shows an error right at ``bound_field`` (crispy or key/value editor)."""
    html = response.content.decode()
    return (
        f'id="error_1_{bound_field.auto_id}"' in html
        or f'id="{bound_field.auto_id}_error_1"' in html
    )


@pytest.fixture
def logged_in(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def ready(platform, notebook_version, alice):
    return make_profile(
        platform,
        "team-notebook",
        display_name="Team Notebook",
        version=notebook_version,
        status="ready",
        wizard_step="sharing",
        actor=alice,
    )


@dataclass
class Page:
    """A form page as loaded, with the valid body it would post and the state before."""

    client: object
    url: str
    body: dict
    before: tuple
    loaded: object = None  # the GET response, for pages with a row per variable or output

    def post(self, **changes):
        return self.client.post(self.url, self.body | changes)

    def post_row(self, row_name: str, **changes):
        """Post with ``changes`` to the fields of one input or output row."""
        prefix = row(self.loaded, row_name)
        return self.post(**{f"{prefix}-{field}": value for field, value in changes.items()})

    def post_without(self, row_name: str, field: str):
        """Post with one row's ``field`` left out, as a browser does for an unticked box."""
        key = f"{row(self.loaded, row_name)}-{field}"
        return self.client.post(self.url, {k: v for k, v in self.body.items() if k != key})


# General: creating (profile_new) and editing (a ready profile's General section) ------------------


@pytest.fixture(params=["new", "edit"])
def general(request, logged_in, ready, notebook_version) -> Page:
    if request.param == "new":
        url = reverse("profiles:new", args=["platform"])
        body = new_profile_body(notebook_version, name="fresh-notebook")
    else:
        url = step_url(ready, "general")
        body = page_body(logged_in.get(url))
    return Page(logged_in, url, body, database_state())


@pytest.fixture
def new_profile(logged_in, ready, notebook_version) -> Page:
    url = reverse("profiles:new", args=["platform"])
    body = new_profile_body(notebook_version, name="fresh-notebook")
    return Page(logged_in, url, body, database_state())


def general_refused(response, field: str) -> list[str]:
    """The messages at ``field`` of a refused General form (asserting it was refused there)."""
    form = response.context["form"]
    assert response.status_code == 400
    assert error_shown_at(response, form[field])
    return form.errors[field]


def test_a_valid_new_profile_body_is_accepted(new_profile):
    response = new_profile.post()
    assert response.status_code == 302


@pytest.mark.parametrize(
    "name",
    ["Team-Notebook", "1notebook", "notebook-", "team_notebook", "a" * 64, "ünïcode", "a b"],
)
def test_a_unique_name_breaking_the_slug_rule_is_refused(new_profile, name):
    response = new_profile.post(name=name)
    assert general_refused(response, "name")
    assert database_state() == new_profile.before


def test_a_missing_unique_name_is_refused(new_profile):
    response = new_profile.post(name="")
    assert general_refused(response, "name") == ["This field is required."]
    assert database_state() == new_profile.before


def test_the_name_of_the_new_profile_page_is_refused(new_profile):
    """A profile named ``new`` could not be opened: its page's URL is the wizard's."""
    response = new_profile.post(name="new")
    assert general_refused(response, "name") == [
        "“new” is the name of the page that creates one: choose another name."
    ]
    assert database_state() == new_profile.before


def test_a_unique_name_taken_in_the_project_is_refused(new_profile):
    response = new_profile.post(name="team-notebook")
    assert general_refused(response, "name") == [
        "“team-notebook” is taken in project platform; pick another name."
    ]
    assert database_state() == new_profile.before


def test_a_missing_display_name_is_refused(general):
    response = general.post(display_name="")
    assert general_refused(response, "display_name") == ["This field is required."]
    assert database_state() == general.before


def test_a_display_name_over_100_characters_is_refused(general):
    response = general.post(display_name="x" * 101)
    assert general_refused(response, "display_name") == [
        "Ensure this value has at most 100 characters (it has 101)."
    ]
    assert database_state() == general.before


def test_a_description_over_2000_characters_is_refused(general):
    response = general.post(description="x" * 2001)
    assert general_refused(response, "description") == [
        "Ensure this value has at most 2000 characters (it has 2001)."
    ]
    assert database_state() == general.before


def test_a_javascript_icon_url_is_refused(general):
    response = general.post(icon_url="javascript:alert(1)")
    assert general_refused(response, "icon_url") == [
        "Enter an absolute http:// or https:// address."
    ]
    assert database_state() == general.before


# Syntax variants are checked on the create form only; the edit form shares its fields.


@pytest.mark.parametrize(
    "icon_url",
    [
        "/static/icon.svg",
        "icon.svg",
        "ftp://example.com/icon.svg",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "https://",
        "http://[::1",
    ],
)
def test_an_icon_url_that_is_not_absolute_http_is_refused(new_profile, icon_url):
    response = new_profile.post(icon_url=icon_url)
    assert general_refused(response, "icon_url")
    assert database_state() == new_profile.before


def test_an_icon_url_over_2048_characters_is_refused(general):
    response = general.post(icon_url="https://example.com/" + "a" * 2029)
    messages = general_refused(response, "icon_url")
    assert any("2,048" in m or "2048" in m for m in messages)
    assert database_state() == general.before


def test_a_readme_over_256_kib_is_refused(general):
    response = general.post(readme="x" * (256 * 1024 + 1))
    assert general_refused(response, "readme") == [
        "The readme may be at most 256 KiB (this one is 262,145 bytes)."
    ]
    assert database_state() == general.before


def test_a_readme_of_exactly_256_kib_is_accepted(new_profile):
    assert new_profile.post(readme="x" * (256 * 1024)).status_code == 302


def test_a_readme_over_256_kib_in_multibyte_characters_is_refused(general):
    response = general.post(readme="é" * (128 * 1024 + 1))  # fewer characters, more bytes
    assert general_refused(response, "readme")
    assert database_state() == general.before


def test_a_label_with_a_bad_key_is_refused(general):
    response = general.post(**{"labels-key": ["-team"], "labels-value": ["ml"]})
    assert general_refused(response, "labels") == [
        "“-team”: use letters, digits, “-”, “_” and “.”, beginning and ending with a letter "
        "or digit."
    ]
    assert database_state() == general.before


@pytest.mark.parametrize("key", ["team-", "te am", "a/b/c", "/team", "Example.com/team", "x" * 64])
def test_label_key_syntax_is_kubernetes_syntax(new_profile, key):
    response = new_profile.post(**{"labels-key": [key], "labels-value": ["ml"]})
    assert general_refused(response, "labels")
    assert database_state() == new_profile.before


def test_a_label_with_a_bad_value_is_refused(general):
    response = general.post(**{"labels-key": ["team"], "labels-value": ["has space"]})
    assert general_refused(response, "labels")
    assert database_state() == general.before


@pytest.mark.parametrize("value", ["-ml", "ml-", "a/b"])
def test_label_value_syntax_is_kubernetes_syntax(new_profile, value):
    response = new_profile.post(**{"labels-key": ["team"], "labels-value": [value]})
    assert general_refused(response, "labels")
    assert database_state() == new_profile.before


def test_a_label_value_over_63_characters_says_so(general):
    response = general.post(**{"labels-key": ["team"], "labels-value": ["x" * 64]})
    assert general_refused(response, "labels") == [
        "“team”: the value is longer than 63 characters."
    ]


def test_duplicate_label_keys_are_refused(general):
    response = general.post(**{"labels-key": ["team", "team"], "labels-value": ["ml", "ai"]})
    assert general_refused(response, "labels") == [
        "Each label key may appear once; given more than once: team."
    ]
    assert database_state() == general.before


def test_a_label_value_without_a_key_is_refused(general):
    response = general.post(**{"labels-key": [""], "labels-value": ["ml"]})
    assert general_refused(response, "labels") == ["Every label with a value needs a key."]
    assert database_state() == general.before


def test_more_keys_than_values_does_not_fail(new_profile):
    response = new_profile.post(**{"labels-key": ["team", "tier"], "labels-value": ["ml"]})
    assert response.status_code == 302
    assert ServiceProfile.objects.get(name="fresh-notebook").labels == {"team": "ml"}


def test_an_annotation_with_a_bad_key_is_refused(general):
    response = general.post(**{"annotations-key": ["own er"], "annotations-value": ["x"]})
    assert general_refused(response, "annotations")
    assert database_state() == general.before


@pytest.mark.parametrize("key", ["-owner", "a/b/c"])
def test_annotation_keys_follow_label_key_syntax(new_profile, key):
    response = new_profile.post(**{"annotations-key": [key], "annotations-value": ["x"]})
    assert general_refused(response, "annotations")
    assert database_state() == new_profile.before


def test_annotations_over_256_kib_in_all_are_refused(general):
    response = general.post(
        **{"annotations-key": ["notes"], "annotations-value": ["x" * (256 * 1024)]}
    )
    assert any("256 KiB" in m for m in general_refused(response, "annotations"))
    assert database_state() == general.before


def test_an_extra_configuration_key_that_is_no_variable_name_is_refused(general):
    response = general.post(**{"extra_config-key": ["PIP-INDEX"], "extra_config-value": ["x"]})
    assert general_refused(response, "extra_config")
    assert database_state() == general.before


@pytest.mark.parametrize("key", ["1PATH", "has space", "ÜBER"])
def test_extra_configuration_keys_are_variable_names(new_profile, key):
    response = new_profile.post(**{"extra_config-key": [key], "extra_config-value": ["x"]})
    assert general_refused(response, "extra_config")
    assert database_state() == new_profile.before


def test_duplicate_extra_configuration_keys_are_refused(general):
    response = general.post(
        **{"extra_config-key": ["PATH", "PATH"], "extra_config-value": ["/a", "/b"]}
    )
    assert general_refused(response, "extra_config") == [
        "Each setting key may appear once; given more than once: PATH."
    ]
    assert database_state() == general.before


def test_a_template_not_available_to_the_project_is_refused(general, research):
    elsewhere = make_template(research, "research-only")
    response = general.post(
        environment_template=str(elsewhere.template_id), template_version=str(elsewhere.pk)
    )
    assert general_refused(response, "environment_template")
    assert database_state() == general.before


@pytest.mark.parametrize("state", ["draft", "disabled"])
def test_a_version_that_is_not_active_is_refused(general, system, notebook_version, state):
    other = make_template(system, "jupyter-notebook", version="v2", state=state)
    response = general.post(template_version=str(other.pk))
    assert general_refused(response, "template_version")
    assert database_state() == general.before


def test_a_version_of_another_template_is_refused(general, system, notebook_version):
    other = make_template(system, "vllm-inference")
    response = general.post(template_version=str(other.pk))  # template stays jupyter-notebook
    assert general_refused(response, "template_version")
    assert database_state() == general.before


def test_a_malformed_template_id_is_refused(general):
    response = general.post(environment_template="abc")
    assert general_refused(response, "environment_template")
    assert database_state() == general.before


@pytest.mark.parametrize("value", ["", "999999", "-1", "1e3"])
def test_a_template_id_that_is_no_template_is_refused(new_profile, value):
    response = new_profile.post(environment_template=value)
    assert general_refused(response, "environment_template")
    assert database_state() == new_profile.before


def test_a_malformed_version_id_is_refused(general):
    response = general.post(template_version="abc")
    assert general_refused(response, "template_version")
    assert database_state() == general.before


@pytest.mark.parametrize("value", ["", "999999"])
def test_a_version_id_that_is_no_version_is_refused(new_profile, value):
    response = new_profile.post(template_version=value)
    assert general_refused(response, "template_version")
    assert database_state() == new_profile.before


def test_an_unknown_service_type_is_refused(general):
    response = general.post(service_type="database")
    assert general_refused(response, "service_type")
    assert database_state() == general.before


def test_a_page_opened_with_a_bad_template_in_the_query_does_not_fail(logged_in, ready):
    for url in [reverse("profiles:new", args=["platform"]), step_url(ready, "general")]:
        assert logged_in.get(url, {"environment_template": "abc"}).status_code == 200


# Input Settings -----------------------------------------------------------------------------------


@pytest.fixture
def inputs(logged_in, ready) -> Page:
    response = open_step(logged_in, ready, "inputs")
    return Page(
        logged_in, step_url(ready, "inputs"), page_body(response), database_state(), response
    )


def input_refused(response, variable: str, field: str) -> list[str]:
    """The messages at ``field`` of input row ``variable`` (asserting it was refused there)."""
    assert response.status_code == 400
    assert error_shown_at(response, response_form(response, variable)[field])
    return row_errors(response, variable)[field]


def test_a_valid_inputs_body_is_accepted(inputs):
    assert inputs.post_row("gpu_count", value="4").status_code == 302


def loosening_kept_out(loaded, response, variable: str, field: str) -> str:
    """How the inputs page kept a loosened template rule out of the profile.

    Either the control is locked ("locked": rendered disabled, and Django ignores what is posted
    for a disabled field, so the save goes through changing nothing) or the post is refused
    with status 400 and a message at the field, which is returned.
    """
    form = response_form(loaded, variable)
    if form.fields[field].disabled:
        assert response.status_code == 302
        assert " disabled" in str(form[field])
        return "locked"
    return input_refused(response, variable, field)[0]


def response_form(response, variable: str):
    return response.context["formset"].forms[int(row(response, variable).split("-")[1])]


def test_a_template_required_input_cannot_become_optional(inputs):
    response = inputs.post_without("gpu_count", "required")
    assert loosening_kept_out(inputs.loaded, response, "gpu_count", "required") in {
        "locked",
        "The template requires this variable, so it stays required.",
    }
    assert database_state() == inputs.before


def test_a_template_sensitive_input_cannot_become_plain(inputs):
    response = inputs.post_without("hf_token", "sensitive")
    assert loosening_kept_out(inputs.loaded, response, "hf_token", "sensitive") in {
        "locked",
        "The template marks this variable sensitive; it stays sensitive.",
    }
    assert database_state() == inputs.before


def test_a_notallowed_input_cannot_become_allowed(inputs):
    response = inputs.post_row("region", override="allowed")
    assert loosening_kept_out(inputs.loaded, response, "region", "override") in {
        "locked",
        "The template does not allow overriding this variable; it stays Not allowed.",
    }
    assert database_state() == inputs.before


def test_a_notallowed_inputs_value_cannot_change(inputs):
    response = inputs.post_row("region", value="eu-west")
    assert loosening_kept_out(inputs.loaded, response, "region", "value") in {
        "locked",
        "The template fixes this value; it cannot be changed here.",
    }
    assert database_state() == inputs.before


def test_a_restricted_list_cannot_be_widened(inputs):
    response = inputs.post_row(
        "notebook_profile", restricted_values="pytorch\ntensorflow\nrapids\njax"
    )
    assert input_refused(response, "notebook_profile", "restricted_values") == [
        "The template allows only pytorch, tensorflow, rapids; not jax."
    ]
    assert database_state() == inputs.before


def test_a_restricted_input_cannot_become_allowed(inputs):
    response = inputs.post_row("notebook_profile", override="allowed", restricted_values="")
    assert input_refused(response, "notebook_profile", "override")
    assert database_state() == inputs.before


def test_a_restricted_list_may_shrink(inputs):
    response = inputs.post_row("notebook_profile", restricted_values="pytorch\nrapids")
    assert response.status_code == 302
    setting = InputSetting.objects.get(name="notebook_profile")
    assert setting.restricted_values == ["pytorch", "rapids"]


def test_a_number_that_does_not_parse_is_refused(inputs):
    response = inputs.post_row("gpu_count", value="abc")
    assert input_refused(response, "gpu_count", "value") == ["“abc” is not a number."]
    assert database_state() == inputs.before


def test_a_boolean_that_does_not_parse_is_refused(inputs):
    response = inputs.post_row("enable_ssh", value="maybe")
    assert input_refused(response, "enable_ssh", "value") == [
        "“maybe” is not a boolean: use true or false."
    ]
    assert database_state() == inputs.before


def test_json_that_does_not_parse_is_refused(logged_in, platform, system):
    version = make_template(
        system,
        "configurable",
        variables=[{"name": "settings", "value_type": "json", "value": '{"a": 1}'}],
    )
    profile = make_profile(platform, "configured", version=version, status="ready")
    loaded = open_step(logged_in, profile, "inputs")
    before = database_state()
    body = page_body(loaded) | {f"{row(loaded, 'settings')}-value": '{"a": 1'}
    response = logged_in.post(step_url(profile, "inputs"), body)
    assert input_refused(response, "settings", "value")[0].startswith("This is not valid JSON")
    assert database_state() == before


def test_restricted_with_no_values_is_refused(inputs):
    response = inputs.post_row("image", override="restricted", restricted_values="")
    assert input_refused(response, "image", "restricted_values") == [
        "List at least one value end users may choose."
    ]
    assert database_state() == inputs.before


def test_a_restricted_default_outside_the_values_is_refused(inputs):
    response = inputs.post_row("notebook_profile", value="jax")
    assert input_refused(response, "notebook_profile", "value")
    assert database_state() == inputs.before


def test_a_required_notallowed_input_without_a_value_is_refused(inputs):
    response = inputs.post_row("image", override="notallowed", required="on", value="")
    assert input_refused(response, "image", "value") == [
        "A required input that end users may not override needs a value."
    ]
    assert database_state() == inputs.before


def test_an_unknown_override_is_refused(inputs):
    response = inputs.post_row("image", override="sometimes")
    assert input_refused(response, "image", "override")
    assert database_state() == inputs.before


def test_a_display_name_over_100_characters_on_an_input_is_refused(inputs):
    response = inputs.post_row("image", display_name="x" * 101)
    assert input_refused(response, "image", "display_name")
    assert database_state() == inputs.before


def test_an_input_row_of_another_profile_is_refused(inputs, platform, notebook_version):
    other = make_profile(platform, "other", version=notebook_version)
    before = database_state()
    foreign = other.inputs.get(name="image")
    response = inputs.post_row("image", id=str(foreign.pk), value="stolen")
    assert response.status_code == 400
    assert database_state() == before


# Output Settings ----------------------------------------------------------------------------------


@pytest.fixture
def outputs(logged_in, ready) -> Page:
    response = open_step(logged_in, ready, "outputs")
    return Page(
        logged_in, step_url(ready, "outputs"), page_body(response), database_state(), response
    )


def test_a_valid_outputs_body_is_accepted(outputs):
    assert outputs.post_row("url", display_name="Notebook URL").status_code == 302


def test_an_output_shown_without_a_display_name_is_refused(outputs):
    response = outputs.post_row("url", show="on", display_name="")
    assert response.status_code == 400
    assert row_errors(response, "url")["display_name"] == [
        "Give the output a name end users will see."
    ]
    assert "Give the output a name end users will see." in response.content.decode()
    assert database_state() == outputs.before


def test_a_hidden_output_needs_no_display_name(outputs):
    body = outputs.body | {f"{row(outputs.loaded, 'url')}-display_name": ""}
    body.pop(f"{row(outputs.loaded, 'url')}-show")
    response = outputs.client.post(outputs.url, body)
    assert response.status_code == 302
    assert list(OutputSetting.objects.values_list("name", flat=True)) == ["token"]


def test_a_template_sensitive_output_is_locked_sensitive_like_an_input(outputs):
    # The box is shown ticked and disabled, with the reason beside it, as for inputs ...
    html = outputs.loaded.content.decode()
    box = html[
        html.rindex("<input", 0, html.index(f'name="{row(outputs.loaded, "token")}-sensitive"')) :
    ]
    box = box[: box.index(">")]
    assert "checked" in box and "disabled" in box
    assert "The template marks it sensitive." in html
    # ... and a post that leaves it out changes nothing: it stays sensitive.
    response = outputs.post_without("token", "sensitive")
    assert response.status_code == 302
    assert OutputSetting.objects.get(name="token").sensitive is True


@pytest.mark.parametrize("position", ["abc", "-1", "1000"])
def test_an_output_order_out_of_range_is_refused(outputs, position):
    response = outputs.post_row("url", position=position)
    assert response.status_code == 400
    assert row_errors(response, "url")["position"]
    assert database_state() == outputs.before


def test_an_output_the_version_does_not_declare_is_refused(outputs):
    response = outputs.post_row("url", name="password")
    assert response.status_code == 400
    assert response.context["formset"].non_form_errors()
    assert database_state() == outputs.before


# Sharing ------------------------------------------------------------------------------------------


@pytest.fixture
def sharing(logged_in, ready) -> Page:
    body = page_body(open_step(logged_in, ready, "sharing"))
    return Page(logged_in, step_url(ready, "sharing"), body, database_state())


def sharing_refused(response, field: str) -> list[str]:
    assert response.status_code == 400
    messages = response.context["form"].errors[field]
    html = response.content.decode()
    assert all(escape(m) in html for m in messages)
    return messages


def test_selected_projects_without_a_project_is_refused(sharing):
    response = sharing.post(sharing="selected", shared_with=[])
    assert sharing_refused(response, "shared_with") == ["Pick at least one project to share with."]
    assert database_state() == sharing.before


@pytest.mark.parametrize("project_id", ["999999", "abc", ""])
def test_sharing_with_an_unknown_project_is_refused(sharing, project_id, research):
    response = sharing.post(sharing="selected", shared_with=[str(research.pk), project_id])
    assert sharing_refused(response, "shared_with")
    assert database_state() == sharing.before


def test_sharing_with_the_own_project_is_refused(sharing, platform):
    response = sharing.post(sharing="selected", shared_with=[str(platform.pk)])
    assert sharing_refused(response, "shared_with")
    assert database_state() == sharing.before


def test_sharing_with_the_system_catalog_is_refused(sharing, system):
    response = sharing.post(sharing="selected", shared_with=[str(system.pk)])
    assert sharing_refused(response, "shared_with")
    assert database_state() == sharing.before


@pytest.mark.parametrize("value", ["everyone", "", "ALL"])
def test_an_unknown_sharing_choice_is_refused(sharing, value):
    response = sharing.post(sharing=value)
    assert sharing_refused(response, "sharing")
    assert database_state() == sharing.before


def test_projects_ticked_for_all_projects_are_not_kept(sharing, research):
    response = sharing.post(sharing="all", shared_with=[str(research.pk)])
    assert response.status_code == 302
    profile = ServiceProfile.objects.get(name="team-notebook")
    assert (profile.sharing, list(profile.shared_with.all())) == ("all", [])


def test_a_refused_sharing_step_leaves_a_draft_a_draft(logged_in, platform, notebook_version):
    draft = make_profile(platform, "draft-nb", version=notebook_version, wizard_step="sharing")
    body = page_body(open_step(logged_in, draft, "sharing"))
    response = logged_in.post(step_url(draft, "sharing"), body | {"sharing": "selected"})
    assert response.status_code == 400
    assert ServiceProfile.objects.get(pk=draft.pk).status == "draft"


# The revision every section carries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "revision"),
    [
        *[(step, revision) for step in ServiceProfile.Step.values for revision in ["abc", None]],
        ("general", "0"),
        ("general", ""),
    ],
)
def test_a_malformed_revision_is_refused(logged_in, ready, step, revision):
    body = page_body(open_step(logged_in, ready, step))
    if revision is None:
        body.pop("revision")
    else:
        body["revision"] = revision
    before = database_state()
    response = logged_in.post(step_url(ready, step), body)
    assert response.status_code == 400
    assert response.context["revision_form"].errors["revision"]
    assert database_state() == before


def test_a_revision_from_the_future_is_a_conflict(logged_in, ready):
    body = page_body(open_step(logged_in, ready, "general")) | {"revision": "7"}
    before = database_state()
    response = logged_in.post(step_url(ready, "general"), body | {"display_name": "Changed"})
    assert response.status_code == 409
    assert database_state() == before


# Tampered formsets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [pytest.param("inputs"), pytest.param("outputs")],
)
def test_a_formset_with_a_huge_total_forms_count_does_not_fail(logged_in, ready, step):
    body = page_body(open_step(logged_in, ready, step)) | {f"{step}-TOTAL_FORMS": "100000000"}
    before = database_state()
    response = logged_in.post(step_url(ready, step), body)
    assert response.status_code in {302, 400}
    assert list(InputSetting.objects.values()) == before[2]
    assert list(OutputSetting.objects.values()) == before[3]


MANAGEMENT_FORM_CASES = [
    pytest.param("inputs", "TOTAL_FORMS"),
    pytest.param("inputs", "INITIAL_FORMS"),
    pytest.param("inputs", "both"),
    pytest.param("outputs", "TOTAL_FORMS"),
    pytest.param("outputs", "INITIAL_FORMS"),
    pytest.param("outputs", "both"),
]


@pytest.mark.parametrize(("step", "missing"), MANAGEMENT_FORM_CASES)
def test_a_formset_without_its_management_form_is_refused(logged_in, ready, step, missing):
    body = page_body(open_step(logged_in, ready, step))
    for key in ["TOTAL_FORMS", "INITIAL_FORMS"] if missing == "both" else [missing]:
        body.pop(f"{step}-{key}")
    before = database_state()
    response = logged_in.post(step_url(ready, step), body)
    assert response.status_code == 400
    assert response.context["formset"].non_form_errors()
    assert database_state() == before


def test_an_outputs_formset_with_a_form_missing_is_refused(outputs):
    response = outputs.post(**{"outputs-TOTAL_FORMS": "1"})
    assert response.status_code == 400
    assert database_state() == outputs.before


def test_an_inputs_formset_with_an_extra_row_is_refused(inputs):
    count = int(inputs.body["inputs-TOTAL_FORMS"])
    response = inputs.post(
        **{
            "inputs-TOTAL_FORMS": str(count + 1),
            f"inputs-{count}-value": "x",
            f"inputs-{count}-override": "allowed",
        }
    )
    assert response.status_code == 400
    assert database_state() == inputs.before


# Delete and clone ---------------------------------------------------------------------------------


def delete_url() -> str:
    return reverse("profiles:delete", args=["platform", "team-notebook"])


@pytest.mark.parametrize("typed", ["team-notebok", "Team-Notebook", "", "x" * 500])
def test_delete_with_a_wrong_typed_name_is_refused(logged_in, ready, typed):
    before = database_state()
    response = logged_in.post(delete_url(), {"confirm": typed})
    assert response.status_code == 400
    assert error_shown_at(response, response.context["form"]["confirm"])
    assert response.context["form"].errors["confirm"]
    assert database_state() == before


def test_an_empty_delete_post_is_refused_with_a_message(logged_in, ready):
    response = logged_in.post(delete_url(), {})
    assert response.status_code == 400
    assert response.context["form"].errors["confirm"] == ["This field is required."]


@pytest.fixture
def system_profile(system, notebook_version):
    return make_profile(system, "jupyter-notebook", version=notebook_version, status="ready")


def clone_url() -> str:
    return reverse("profiles:clone", args=["platform", "jupyter-notebook"])


def test_an_empty_clone_post_is_refused_with_a_message(logged_in, system_profile):
    response = logged_in.post(clone_url(), {})
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["This field is required."]


def test_clone_under_a_name_taken_in_the_project_is_refused(logged_in, ready, system_profile):
    before = database_state()
    response = logged_in.post(clone_url(), {"name": "team-notebook"})
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        "“team-notebook” is taken in project platform; pick another name."
    ]
    assert error_shown_at(response, response.context["form"]["name"])
    assert database_state() == before


@pytest.mark.parametrize("name", ["Our-Notebook", "1notebook", "our_notebook", "", "x" * 64])
def test_clone_under_a_bad_name_is_refused(logged_in, system_profile, name):
    before = database_state()
    response = logged_in.post(clone_url(), {"name": name})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert database_state() == before


def test_cloning_a_system_profile_under_its_own_name_is_fine(logged_in, system_profile):
    response = logged_in.post(clone_url(), {"name": "jupyter-notebook"})
    assert response.status_code == 302
    assert ServiceProfile.objects.filter(name="jupyter-notebook").count() == 2


def test_cloning_a_draft_system_profile_is_404(logged_in, system, notebook_version):
    make_profile(system, "unfinished", version=notebook_version)
    response = logged_in.post(
        reverse("profiles:clone", args=["platform", "unfinished"]), {"name": "mine"}
    )
    assert response.status_code == 404


# When the template moved on under a profile -------------------------------------------------------


@pytest.fixture
def version_disabled(notebook_version):
    notebook_version.state = "disabled"
    notebook_version.save()
    return notebook_version


def test_sharing_a_profile_whose_version_was_disabled_does_not_fail(
    logged_in, ready, version_disabled
):
    body = page_body(open_step(logged_in, ready, "sharing")) | {"sharing": "all"}
    response = logged_in.post(step_url(ready, "sharing"), body)
    assert response.status_code in {302, 400}


def test_general_of_a_profile_whose_version_was_disabled_asks_for_an_active_one(
    logged_in, ready, version_disabled
):
    body = page_body(open_step(logged_in, ready, "general")) | {"display_name": "Renamed"}
    before = database_state()
    response = logged_in.post(step_url(ready, "general"), body)
    assert response.status_code == 400
    assert response.context["form"].errors["template_version"]
    assert database_state() == before


def test_cloning_a_system_profile_whose_version_was_disabled_does_not_fail(
    logged_in, system_profile, version_disabled
):
    before = database_state()
    response = logged_in.post(clone_url(), {"name": "our-notebook"})
    assert response.status_code == 400
    assert database_state() == before


def test_output_rows_posted_under_each_others_names_are_refused(outputs, ready):
    response = outputs.post(
        **{
            f"{row(outputs.loaded, 'url')}-name": "token",
            f"{row(outputs.loaded, 'token')}-name": "url",
            f"{row(outputs.loaded, 'url')}-sensitive": "on",
        }
    )
    assert response.status_code == 400
    assert ready.outputs.get(name="token").sensitive
