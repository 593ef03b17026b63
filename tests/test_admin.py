"""The Django admin for service profiles (SPEC §2, §3, §6).

Superusers may change anything here, but not into something SPEC §3 forbids: every bad value is
refused with a message at the field at fault, nothing of the submission is saved, and no input
answers 500. A good save writes revisions and events like every other way in.
"""

import json
import re

import pytest
from django.forms import CheckboxInput
from django.urls import reverse

from profiles import services
from profiles.documents import profile_document
from profiles.models import ProfileEvent, ProfileRevision, ServiceProfile
from studio.models import Project
from tests.factories import make_profile, make_template, make_variable

SECRET = "hf_template_secret"  # the default of hf_token in the notebook_version fixture
KIB = 1024


# Helpers: what a browser posts, and what comes back ---------------------------------------------


def profile_add_url() -> str:
    return reverse("admin:profiles_serviceprofile_add")


def profile_change_url(profile) -> str:
    return reverse("admin:profiles_serviceprofile_change", args=[profile.pk])


def _put_form(data: dict, form) -> None:
    """Add what ``form`` posts when submitted as rendered (an unchecked box posts nothing)."""
    for name, field in form.fields.items():
        value = form[name].value()
        key = form.add_prefix(name)
        if isinstance(field.widget, CheckboxInput):
            if value:
                data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = [str(item) for item in value]
        else:
            data[key] = "" if value is None else value
        if field.show_hidden_initial:
            initial = form.get_initial_for_field(field, name)
            data[form.add_initial_prefix(name)] = field.prepare_value(initial)


def page_data(response) -> dict:
    """The POST body of the admin page in ``response``, saved untouched."""
    assert response.status_code == 200
    data: dict = {}
    _put_form(data, response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for form in formset.forms:
            _put_form(data, form)
    return data


def row(data: dict, prefix: str, name: str) -> str:
    """The prefix (e.g. ``inputs-5``) of the inline row named ``name`` in a POST body."""
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    return next(f"{prefix}-{i}" for i in range(total) if data[f"{prefix}-{i}-name"] == name)


def formset_data(prefix: str, rows: list[dict]) -> dict:
    """Management form and rows for new inline objects; ``True``/``False`` become checkboxes."""
    data: dict = {
        f"{prefix}-TOTAL_FORMS": len(rows),
        f"{prefix}-INITIAL_FORMS": 0,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }
    for index, fields in enumerate(rows):
        for name, value in fields.items():
            if value is True:
                data[f"{prefix}-{index}-{name}"] = "on"
            elif value is not False:
                data[f"{prefix}-{index}-{name}"] = value
    return data


def errors_of(form) -> dict[str, str]:
    """Each field's messages joined into one string, so a test can look for a phrase."""
    return {field: " ".join(messages) for field, messages in form.errors.items()}


def refused(response) -> dict[str, str]:
    """The field errors of an admin form that came back to be corrected (not saved, no 500)."""
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors
    return errors_of(form)


def row_errors(response, key: str) -> dict[str, str]:
    """The errors of inline row ``key`` (e.g. ``inputs-5``) of a page that came back."""
    assert response.status_code == 200
    prefix, index = key.rsplit("-", 1)
    formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.prefix == prefix
    )
    return errors_of(formset.forms[int(index)])


def new_profile_data(project: Project, version, /, **fields) -> dict:
    """A valid add-page submission: a draft notebook profile ``acme`` shared with nobody."""
    return {
        "project": project.pk,
        "name": "acme",
        "display_name": "ACME Notebook",
        "description": "GPU notebook with the team's libraries.",
        "template_version": version.pk,
        "service_type": "notebook",
        "icon_url": "https://example.com/jupyter.svg",
        "readme": "# ACME Notebook",
        "labels": '{"team": "ml"}',
        "annotations": '{"owner": "ml-platform@example.com"}',
        "extra_config": '{"PIP_INDEX_URL": "https://pypi.example.com/simple"}',
        "sharing": "none",
        "status": "draft",
    } | fields


def stored(profile) -> dict:
    """Everything the database holds for ``profile``, secrets included."""
    return profile_document(ServiceProfile.objects.get(pk=profile.pk), include_secrets=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def profile(platform, notebook_version, alice):
    """platform/acme on jupyter-notebook v1, at revision 1, with every input and output."""
    return make_profile(platform, "acme", version=notebook_version, actor=alice)


@pytest.fixture
def change_page(superuser_client, profile):
    """The POST body of acme's change page as loaded, and what the database holds before."""
    data = page_data(superuser_client.get(profile_change_url(profile)))
    return data, stored(profile)


def post_change(superuser_client, profile, data):
    return superuser_client.post(profile_change_url(profile), data)


# Adding a profile: every field of SPEC §3 --------------------------------------------------------


def test_a_valid_profile_is_saved_at_revision_one_with_a_created_event(
    superuser_client, superuser, platform, notebook_version
):
    response = superuser_client.post(
        profile_add_url(), new_profile_data(platform, notebook_version)
    )
    assert response.status_code == 302
    profile = ServiceProfile.objects.get(project=platform, name="acme")
    assert profile.revision == 1
    assert profile.created_by == superuser
    assert profile.labels == {"team": "ml"}
    assert list(profile.revisions.values_list("number", "author")) == [(1, superuser.pk)]
    event = profile.events.get()
    assert (event.action, event.revision, event.actor_name) == ("created", 1, "admin")


def test_a_profile_added_in_the_admin_gets_the_inputs_and_outputs_of_its_template(
    superuser_client, platform, notebook_version
):
    superuser_client.post(profile_add_url(), new_profile_data(platform, notebook_version))
    profile = ServiceProfile.objects.get(project=platform, name="acme")
    assert list(profile.inputs.values_list("name", flat=True)) == [
        "notebook_profile",
        "image",
        "gpu_count",
        "enable_ssh",
        "region",
        "hf_token",
    ]
    assert profile.inputs.get(name="hf_token").secret == SECRET
    assert list(profile.outputs.values_list("name", "sensitive")) == [
        ("url", False),
        ("token", True),
    ]
    assert profile.revisions.get().document["spec"]["outputs"][1]["name"] == "token"


def test_the_add_page_has_no_input_or_output_rows_to_fill(superuser_client):
    response = superuser_client.get(profile_add_url())
    assert response.status_code == 200
    assert list(response.context["inline_admin_formsets"]) == []


def test_input_rows_posted_to_the_add_page_are_ignored_for_the_templates_own(
    superuser_client, platform, notebook_version
):
    data = new_profile_data(platform, notebook_version) | formset_data(
        "inputs", [{"name": "hf_token", "value": "in-clear", "override": "allowed"}]
    )
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    setting = ServiceProfile.objects.get(name="acme").inputs.get(name="hf_token")
    assert (setting.sensitive, setting.value, setting.secret) == (True, "", SECRET)


def test_empty_key_value_boxes_save_as_no_pairs(superuser_client, platform, notebook_version):
    data = new_profile_data(platform, notebook_version, labels="", annotations="", extra_config="")
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    profile = ServiceProfile.objects.get(name="acme")
    assert (profile.labels, profile.annotations, profile.extra_config) == ({}, {}, {})


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("Acme", "lowercase letters", id="uppercase"),
        pytest.param("1acme", "starting with a letter", id="leading-digit"),
        pytest.param("acme-", "not ending with a hyphen", id="trailing-hyphen"),
        pytest.param("acme_notebook", "lowercase letters, digits and hyphens", id="underscore"),
        pytest.param("a" * 64, "at most 63 characters", id="64-chars"),
        pytest.param("", "required", id="empty"),
    ],
)
def test_a_unique_name_breaking_the_slug_rule_is_refused(
    superuser_client, platform, notebook_version, name, message
):
    response = superuser_client.post(
        profile_add_url(), new_profile_data(platform, notebook_version, name=name)
    )
    assert message in refused(response)["name"]
    assert not ServiceProfile.objects.exists()


def test_a_unique_name_of_63_chars_is_accepted(superuser_client, platform, notebook_version):
    name = "a" * 63
    data = new_profile_data(platform, notebook_version, name=name)
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    assert ServiceProfile.objects.filter(name=name).exists()


def test_a_name_the_project_already_uses_is_refused_at_the_name(
    superuser_client, profile, platform, notebook_version
):
    response = superuser_client.post(
        profile_add_url(), new_profile_data(platform, notebook_version)
    )
    errors = refused(response)
    assert "“acme” is taken in project platform; pick another name." in errors["name"]
    assert ServiceProfile.objects.count() == 1


def test_the_same_name_in_another_project_is_accepted(
    superuser_client, profile, research, notebook_version
):
    data = new_profile_data(research, notebook_version)
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    assert ServiceProfile.objects.filter(name="acme").count() == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("display_name", "", "This field is required", id="display-name-missing"),
        pytest.param("display_name", "x" * 101, "at most 100 characters", id="display-name-101"),
        pytest.param("description", "x" * 2001, "at most 2000 characters", id="description-2001"),
        pytest.param("icon_url", "javascript:alert(1)", "http:// or https://", id="icon-js"),
        pytest.param(
            "icon_url", "ftp://example.com/icon.svg", "http:// or https://", id="icon-ftp"
        ),
        pytest.param("icon_url", "/static/icon.svg", "http:// or https://", id="icon-relative"),
        pytest.param("icon_url", "https://", "valid URL", id="icon-no-host"),
        pytest.param(
            "icon_url",
            "https://example.com/" + "a" * 2029,
            "at most 2048 characters",
            id="icon-2049-chars",
        ),
        pytest.param("readme", "x" * (256 * KIB + 1), "at most 256 KiB", id="readme-over-256kib"),
        pytest.param("readme", "é" * (128 * KIB + 1), "at most 256 KiB", id="readme-bytes-count"),
        pytest.param("service_type", "webapp", "Select a valid choice", id="service-type"),
        pytest.param("status", "launched", "Select a valid choice", id="status"),
        pytest.param("sharing", "everyone", "Select a valid choice", id="sharing"),
        pytest.param("project", "999999", "Select a valid choice", id="unknown-project"),
        pytest.param("project", "platform", "Select a valid choice", id="project-not-a-key"),
        pytest.param("template_version", "", "This field is required", id="no-version"),
        pytest.param("template_version", "x", "Choose an active version", id="version-not-a-key"),
    ],
)
def test_a_general_field_breaking_its_rule_is_refused_at_that_field(
    superuser_client, platform, notebook_version, field, value, message
):
    data = new_profile_data(platform, notebook_version, **{field: value})
    assert message in refused(superuser_client.post(profile_add_url(), data))[field]
    assert not ServiceProfile.objects.exists()


def test_a_readme_of_exactly_256_kib_is_accepted(superuser_client, platform, notebook_version):
    data = new_profile_data(platform, notebook_version, readme="x" * 256 * KIB)
    assert superuser_client.post(profile_add_url(), data).status_code == 302


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        pytest.param({"-team": "ml"}, "“-team”: use letters, digits", id="key-leading-dash"),
        pytest.param({"team!": "ml"}, "“team!”: use letters, digits", id="key-bad-char"),
        pytest.param({"": "ml"}, "a key may not be empty", id="key-empty"),
        pytest.param({"t" * 64: "ml"}, "longer than 63 characters", id="key-name-64"),
        pytest.param({"Example.com/team": "ml"}, "DNS subdomain", id="prefix-uppercase"),
        pytest.param({"exa_mple.com/team": "ml"}, "DNS subdomain", id="prefix-underscore"),
        pytest.param({"/team": "ml"}, "prefix before “/” may not be empty", id="prefix-empty"),
        pytest.param({"example.com/": "ml"}, "name after the prefix", id="name-empty"),
        pytest.param({"team": "m" * 64}, "value is longer than 63", id="value-64"),
        pytest.param({"team": "ml team"}, "the value may hold letters", id="value-space"),
        pytest.param({"team": "-ml"}, "the value may hold letters", id="value-leading-dash"),
        pytest.param({"gpus": 2}, "“gpus”: the value must be text", id="value-number"),
        pytest.param({"team": None}, "“team”: the value must be text", id="value-null"),
        pytest.param({"team": ["ml"]}, "“team”: the value must be text", id="value-list"),
        pytest.param(["team", "ml"], "Enter key/value pairs", id="json-list"),
        pytest.param("team=ml", "Enter key/value pairs", id="json-string"),
        pytest.param(7, "Enter key/value pairs", id="json-number"),
    ],
)
def test_labels_breaking_the_kubernetes_syntax_are_refused(
    superuser_client, platform, notebook_version, labels, message
):
    data = new_profile_data(platform, notebook_version, labels=json.dumps(labels))
    assert message in refused(superuser_client.post(profile_add_url(), data))["labels"]
    assert not ServiceProfile.objects.exists()


def test_labels_with_a_dns_prefix_and_an_empty_value_are_accepted(
    superuser_client, platform, notebook_version
):
    labels = {"example.com/team": "ml", "tier": "", "a.b-c_d": "x.y-z_1"}
    data = new_profile_data(platform, notebook_version, labels=json.dumps(labels))
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    assert ServiceProfile.objects.get(name="acme").labels == labels


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        pytest.param({"owner email": "x"}, "“owner email”: use letters", id="key-space"),
        pytest.param({"Example.com/owner": "x"}, "DNS subdomain", id="key-bad-prefix"),
        pytest.param({"owner": 1}, "“owner”: the value must be text", id="value-number"),
        pytest.param({"notes": "x" * (256 * KIB)}, "at most 256 KiB in all", id="over-256kib"),
        pytest.param(
            {f"note{i}": "x" * (64 * KIB) for i in range(4)},
            "at most 256 KiB in all",
            id="over-256kib-in-all",
        ),
        pytest.param(["owner"], "Enter key/value pairs", id="json-list"),
    ],
)
def test_annotations_breaking_their_rules_are_refused(
    superuser_client, platform, notebook_version, annotations, message
):
    data = new_profile_data(platform, notebook_version, annotations=json.dumps(annotations))
    assert message in refused(superuser_client.post(profile_add_url(), data))["annotations"]
    assert not ServiceProfile.objects.exists()


def test_annotations_take_any_text_value(superuser_client, platform, notebook_version):
    annotations = {"example.com/notes": "Anything: spaces, ünïcode, <b>markup</b>.\nLines."}
    data = new_profile_data(platform, notebook_version, annotations=json.dumps(annotations))
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    assert ServiceProfile.objects.get(name="acme").annotations == annotations


@pytest.mark.parametrize(
    ("extra_config", "message"),
    [
        pytest.param({"1BAD": "x"}, "“1BAD” is not a valid key", id="leading-digit"),
        pytest.param({"PIP-INDEX": "x"}, "“PIP-INDEX” is not a valid key", id="hyphen"),
        pytest.param({"": "x"}, "“” is not a valid key", id="empty-key"),
        pytest.param({"THREADS": 4}, "“THREADS”: the value must be text", id="value-number"),
        pytest.param(["PIP_INDEX_URL"], "Enter key/value pairs", id="json-list"),
    ],
)
def test_extra_configuration_breaking_its_rules_is_refused(
    superuser_client, platform, notebook_version, extra_config, message
):
    data = new_profile_data(platform, notebook_version, extra_config=json.dumps(extra_config))
    assert message in refused(superuser_client.post(profile_add_url(), data))["extra_config"]
    assert not ServiceProfile.objects.exists()


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        pytest.param("labels", "{team: ml}", "Enter a valid JSON", id="not-json"),
        pytest.param("labels", '{"team": "ml"', "Enter a valid JSON", id="unclosed"),
        pytest.param("labels", "null", "other than null", id="labels-null"),
        pytest.param("annotations", "null", "other than null", id="annotations-null"),
        pytest.param("extra_config", "null", "other than null", id="extra-config-null"),
        pytest.param("labels", "[" * 100_000, "Enter a valid JSON", id="nested-100k-deep"),
        pytest.param("annotations", "{}" + "]" * 9, "Enter a valid JSON", id="trailing-junk"),
        pytest.param("extra_config", "1" * 5000, "Enter a valid JSON", id="5000-digit-number"),
    ],
)
def test_malformed_json_in_a_key_value_box_is_refused_not_a_500(
    superuser_client, platform, notebook_version, field, text, message
):
    data = new_profile_data(platform, notebook_version, **{field: text})
    assert message in refused(superuser_client.post(profile_add_url(), data))[field]
    assert not ServiceProfile.objects.exists()


@pytest.mark.parametrize(
    ("field", "key"),
    [
        pytest.param("project", "abc", id="project-not-a-number"),
        pytest.param("template_version", "9" * 30, id="version-out-of-range"),
        pytest.param("shared_with", "abc", id="shared-with-not-a-number"),
        pytest.param("shared_with", "9" * 30, id="shared-with-out-of-range"),
        pytest.param("shared_with", "1.5", id="shared-with-fraction"),
        pytest.param("shared_with", "\x00", id="shared-with-null-character"),
    ],
)
def test_a_malformed_key_for_a_relation_is_refused_not_a_500(
    superuser_client, platform, notebook_version, field, key
):
    data = new_profile_data(platform, notebook_version, sharing="selected", **{field: key})
    assert field in refused(superuser_client.post(profile_add_url(), data))
    assert not ServiceProfile.objects.exists()


def test_a_null_character_in_a_text_field_is_refused(superuser_client, platform, notebook_version):
    data = new_profile_data(platform, notebook_version, display_name="ACME\x00")
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "Null characters are not allowed" in errors["display_name"]
    assert not ServiceProfile.objects.exists()


def test_a_body_over_the_upload_limit_answers_400_and_saves_nothing(
    superuser_client, platform, notebook_version, settings
):
    data = new_profile_data(
        platform, notebook_version, readme="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    )
    assert superuser_client.post(profile_add_url(), data).status_code == 400
    assert not ServiceProfile.objects.exists()


# The environment template version ----------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "disabled"])
def test_a_version_that_is_not_active_is_refused(
    superuser_client, platform, system, notebook_version, state
):
    version = make_template(system, "jupyter-notebook", version="v2", state=state)
    data = new_profile_data(platform, version)
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "Choose an active version" in errors["template_version"]
    assert not ServiceProfile.objects.exists()


def test_a_template_of_another_project_not_shared_is_refused(superuser_client, platform, research):
    private = make_template(platform, "platform-only")
    data = new_profile_data(research, private)
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "“platform-only” is not available to project research" in errors["template_version"]
    assert not ServiceProfile.objects.exists()


def test_a_template_shared_with_the_project_is_accepted(superuser_client, platform, research):
    shared = make_template(platform, "platform-shared", sharing="selected")
    shared.template.shared_with.set([research])
    data = new_profile_data(research, shared)
    assert superuser_client.post(profile_add_url(), data).status_code == 302


def test_a_template_owned_by_the_project_is_accepted(superuser_client, platform):
    data = new_profile_data(platform, make_template(platform, "platform-only"))
    assert superuser_client.post(profile_add_url(), data).status_code == 302


# Sharing -----------------------------------------------------------------------------------------


def test_selected_projects_with_no_project_is_refused(superuser_client, platform, notebook_version):
    data = new_profile_data(platform, notebook_version, sharing="selected")
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "Pick at least one project" in errors["shared_with"]
    assert not ServiceProfile.objects.exists()


@pytest.mark.parametrize("sharing", ["none", "all"])
def test_projects_picked_without_selected_projects_are_refused(
    superuser_client, platform, research, notebook_version, sharing
):
    data = new_profile_data(platform, notebook_version, sharing=sharing, shared_with=[research.pk])
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "only for Selected Projects" in errors["shared_with"]
    assert not ServiceProfile.objects.exists()


def test_sharing_with_its_own_project_is_refused(
    superuser_client, platform, research, notebook_version
):
    data = new_profile_data(
        platform, notebook_version, sharing="selected", shared_with=[platform.pk, research.pk]
    )
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "“platform” owns it already" in errors["shared_with"]
    assert not ServiceProfile.objects.exists()


def test_sharing_into_the_system_catalog_is_refused(
    superuser_client, platform, system, notebook_version
):
    data = new_profile_data(platform, notebook_version, sharing="selected", shared_with=[system.pk])
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "Select a valid choice" in errors["shared_with"]
    assert not ServiceProfile.objects.exists()


def test_sharing_with_an_unknown_project_is_refused(superuser_client, platform, notebook_version):
    data = new_profile_data(platform, notebook_version, sharing="selected", shared_with=["99999"])
    errors = refused(superuser_client.post(profile_add_url(), data))
    assert "Select a valid choice" in errors["shared_with"]


def test_the_sharing_picker_never_lists_the_system_catalog(superuser_client, system):
    form = superuser_client.get(profile_add_url()).context["adminform"].form
    assert system not in form.fields["shared_with"].queryset
    assert set(form.fields["shared_with"].queryset.values_list("name", flat=True)) == {
        "platform",
        "research",
        "finance",
    }


def test_sharing_with_selected_projects_is_saved(
    superuser_client, platform, research, finance, notebook_version
):
    data = new_profile_data(
        platform, notebook_version, sharing="selected", shared_with=[research.pk, finance.pk]
    )
    assert superuser_client.post(profile_add_url(), data).status_code == 302
    profile = ServiceProfile.objects.get(name="acme")
    assert set(profile.shared_with.all()) == {research, finance}
    assert profile.revisions.get().document["spec"]["sharing"] == {
        "type": "selected",
        "projects": ["finance", "research"],
    }


# Changing a profile: revisions, read-only name ---------------------------------------------------


def test_the_unique_name_and_project_are_read_only_on_the_change_page(superuser_client, profile):
    response = superuser_client.get(profile_change_url(profile))
    form = response.context["adminform"].form
    assert "name" not in form.fields
    assert "project" not in form.fields
    assert "acme" in response.content.decode()


def test_a_posted_name_or_project_does_not_rename_or_move_the_profile(
    superuser_client, profile, change_page, research
):
    data, _ = change_page
    data |= {"name": "renamed", "project": research.pk, "display_name": "Changed"}
    assert post_change(superuser_client, profile, data).status_code == 302
    profile.refresh_from_db()
    assert (profile.name, profile.project.name, profile.display_name) == (
        "acme",
        "platform",
        "Changed",
    )


def test_a_save_with_a_change_bumps_the_revision(superuser_client, superuser, profile, change_page):
    data, _ = change_page
    data["display_name"] = "ACME Notebook"
    assert post_change(superuser_client, profile, data).status_code == 302
    profile.refresh_from_db()
    assert profile.revision == 2
    assert profile.modified_by == superuser
    assert profile.revisions.get(number=2).document["metadata"]["displayName"] == "ACME Notebook"
    event = profile.events.order_by("-pk").first()
    assert (event.action, event.revision, event.actor_name) == ("updated", 2, "admin")
    assert event.detail["changed"] == ["metadata.displayName"]


def test_a_change_to_an_input_row_bumps_the_revision(superuser_client, profile, change_page):
    data, _ = change_page
    data[f"{row(data, 'inputs', 'gpu_count')}-value"] = "4"
    assert post_change(superuser_client, profile, data).status_code == 302
    profile.refresh_from_db()
    assert profile.revision == 2
    assert profile.inputs.get(name="gpu_count").value == "4"
    assert profile.events.order_by("-pk").first().detail["changed"] == ["spec.inputs"]


def test_a_save_without_a_change_writes_no_revision(superuser_client, profile, change_page):
    data, before = change_page
    assert post_change(superuser_client, profile, data).status_code == 302
    profile.refresh_from_db()
    assert profile.revision == 1
    assert profile.revisions.count() == 1
    assert profile.events.count() == 1
    # Only the bookkeeping moves: modifiedAt and modifiedBy under "status".
    assert stored(profile) | {"status": None} == before | {"status": None}


def test_each_save_with_a_change_bumps_again_and_one_without_does_not(superuser_client, profile):
    for description in ["One.", "Two.", "Two."]:
        data = page_data(superuser_client.get(profile_change_url(profile)))
        data["description"] = description
        assert post_change(superuser_client, profile, data).status_code == 302
    assert list(profile.revisions.order_by("number").values_list("number", flat=True)) == [1, 2, 3]
    assert list(profile.events.order_by("pk").values_list("action", flat=True)) == [
        "created",
        "updated",
        "updated",
    ]


def test_the_change_page_sends_back_the_revision_it_shows(superuser_client, profile):
    html = superuser_client.get(profile_change_url(profile)).content.decode()
    assert re.search(r'<input type="hidden" name="seen_revision" value="1"', html)


def test_a_save_from_a_stale_page_is_refused_naming_who_saved_in_between(
    superuser_client, profile, change_page, dave
):
    data, _ = change_page
    profile.description = "Dave's words."
    profile.save()
    services.commit_revision(profile=profile, actor=dave)
    response = post_change(superuser_client, profile, data | {"display_name": "Mine"})
    errors = refused(response)
    assert errors["__all__"].startswith("dave saved this profile at ")
    assert "(it is now at revision 2)" in errors["__all__"]
    profile.refresh_from_db()
    assert (profile.revision, profile.display_name, profile.description) == (
        2,
        "Acme",
        "Dave's words.",
    )


def test_a_save_from_a_page_reloaded_after_the_other_save_goes_through(
    superuser_client, profile, dave
):
    profile.description = "Dave's words."
    profile.save()
    services.commit_revision(profile=profile, actor=dave)
    data = page_data(superuser_client.get(profile_change_url(profile)))
    response = post_change(superuser_client, profile, data | {"display_name": "Mine"})
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.revision, profile.display_name) == (3, "Mine")
    assert profile.description == "Dave's words."


def test_a_refused_change_leaves_the_profile_and_its_revisions_alone(
    superuser_client, profile, change_page
):
    data, before = change_page
    data |= {"description": "Valid change.", "labels": '{"-bad": "x"}'}
    refused(post_change(superuser_client, profile, data))
    assert stored(profile) == before
    assert profile.revisions.count() == 1


def test_changing_the_version_to_one_not_active_is_refused(
    superuser_client, profile, change_page, system
):
    data, before = change_page
    draft = make_template(system, "jupyter-notebook", version="v2", state="draft")
    errors = refused(post_change(superuser_client, profile, data | {"template_version": draft.pk}))
    assert "Choose an active version" in errors["template_version"]
    assert stored(profile) == before


def test_changing_the_version_to_a_template_not_available_is_refused(
    superuser_client, profile, change_page, research
):
    data, before = change_page
    private = make_template(research, "research-only")
    errors = refused(
        post_change(superuser_client, profile, data | {"template_version": private.pk})
    )
    assert "not available to project platform" in errors["template_version"]
    assert stored(profile) == before


def test_sharing_a_saved_profile_with_its_own_project_is_refused(
    superuser_client, profile, change_page, platform
):
    data, before = change_page
    data |= {"sharing": "selected", "shared_with": [platform.pk]}
    errors = refused(post_change(superuser_client, profile, data))
    assert "“platform” owns it already" in errors["shared_with"]
    assert stored(profile) == before


def test_a_missing_management_form_is_refused_not_a_500(superuser_client, profile, change_page):
    data, before = change_page
    data = {k: v for k, v in data.items() if "_FORMS" not in k} | {"description": "Changed."}
    response = post_change(superuser_client, profile, data)
    assert response.status_code == 200
    messages = [
        " ".join(inline.formset.non_form_errors())
        for inline in response.context["inline_admin_formsets"]
    ]
    assert all("ManagementForm data is missing" in message for message in messages)
    assert stored(profile) == before


def test_a_change_page_of_an_unknown_profile_redirects_to_the_admin_index(superuser_client, db):
    response = superuser_client.get(reverse("admin:profiles_serviceprofile_change", args=[99999]))
    assert response.status_code == 302
    response = superuser_client.get("/admin/profiles/serviceprofile/not-a-number/change/")
    assert response.status_code == 302


@pytest.fixture
def notebook_v2(system):
    """jupyter-notebook v2: keeps ``image``, adds ``idle_timeout_minutes``, drops the rest."""
    v2 = make_template(system, "jupyter-notebook", version="v2", outputs=[{"name": "url"}])
    make_variable(v2, "image", "nvcr.io/nvidia/pytorch:25.01-py3")
    make_variable(v2, "idle_timeout_minutes", "120", value_type="number", position=1)
    return v2


# The admin says what changed once its transaction has committed: a transaction of the test's own
# would never commit.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_changing_the_version_reconciles_the_rows_and_says_which(
    superuser_client, profile, change_page, notebook_v2
):
    data, _ = change_page
    data["template_version"] = notebook_v2.pk
    response = superuser_client.post(profile_change_url(profile), data, follow=True)
    messages = [str(message) for message in response.context["messages"]]
    assert (
        "Input settings now follow system-catalog/jupyter-notebook v2: added "
        "idle_timeout_minutes; removed enable_ssh, gpu_count, hf_token, notebook_profile, region."
    ) in messages
    assert (
        "Outputs system-catalog/jupyter-notebook v2 does not declare are no longer shown: token."
    ) in messages
    assert sorted(profile.inputs.values_list("name", "value")) == [
        ("idle_timeout_minutes", "120"),
        ("image", "nvcr.io/nvidia/pytorch:24.10-py3"),
    ]
    assert list(profile.outputs.values_list("name", flat=True)) == ["url"]
    document = profile.revisions.get(number=2).document
    assert document["spec"]["environmentTemplate"] == {"name": "jupyter-notebook", "version": "v2"}


def test_a_kept_input_that_loosens_the_new_version_is_refused(
    superuser_client, profile, change_page, notebook_v2
):
    notebook_v2.variables.filter(name="image").update(override="notallowed")
    data, before = change_page
    data["template_version"] = notebook_v2.pk
    response = post_change(superuser_client, profile, data)
    key = row(data, "inputs", "image")
    assert "it stays Not allowed" in row_errors(response, key)["override"]
    assert stored(profile) == before


# Input settings: progressive templating ----------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "changes", "field", "message"),
    [
        pytest.param(
            "notebook_profile",
            {"required": False},
            "required",
            "The template requires this variable, so it stays required",
            id="required-to-optional",
        ),
        pytest.param(
            "hf_token",
            {"sensitive": False},
            "sensitive",
            "it stays sensitive",
            id="sensitive-to-plain",
        ),
        pytest.param(
            "region",
            {"override": "allowed"},
            "override",
            "it stays Not allowed",
            id="notallowed-to-allowed",
        ),
        pytest.param(
            "region",
            {"override": "restricted", "restricted_values": '["us-east"]'},
            "override",
            "it stays Not allowed",
            id="notallowed-to-restricted",
        ),
        pytest.param(
            "region",
            {"value": "eu-west"},
            "value",
            "The template fixes this value",
            id="notallowed-value-changed",
        ),
        pytest.param(
            "notebook_profile",
            {"restricted_values": '["pytorch", "jax"]'},
            "restricted_values",
            "The template allows only pytorch, tensorflow, rapids; not jax",
            id="restricted-list-grows",
        ),
        pytest.param(
            "notebook_profile",
            {"override": "allowed", "restricted_values": "[]"},
            "override",
            "choose Restricted or Not allowed",
            id="restricted-to-allowed",
        ),
        pytest.param(
            "notebook_profile",
            {"override": "notallowed", "restricted_values": "[]", "value": "jax"},
            "value",
            "The template allows only pytorch, tensorflow, rapids",
            id="restricted-fixed-to-other-value",
        ),
    ],
)
def test_an_input_may_not_loosen_its_template_variable(
    superuser_client, profile, change_page, variable, changes, field, message
):
    data, before = change_page
    key = row(data, "inputs", variable)
    for name, value in changes.items():
        if value is False:
            data.pop(f"{key}-{name}", None)
        else:
            data[f"{key}-{name}"] = value
    response = post_change(superuser_client, profile, data)
    assert message in row_errors(response, key)[field]
    assert stored(profile) == before


@pytest.mark.parametrize(
    ("variable", "changes", "field", "message"),
    [
        pytest.param("gpu_count", {"value": "abc"}, "value", "“abc” is not a number", id="number"),
        pytest.param("gpu_count", {"value": "NaN"}, "value", "is not a number", id="number-nan"),
        pytest.param(
            "enable_ssh", {"value": "maybe"}, "value", "use true or false", id="boolean-maybe"
        ),
        pytest.param(
            "notebook_profile",
            {"value": "rapids", "restricted_values": '["pytorch", "tensorflow"]'},
            "value",
            "must be one of the restricted values",
            id="restricted-default-not-listed",
        ),
        pytest.param(
            "image",
            {"override": "restricted", "restricted_values": "[]", "value": ""},
            "restricted_values",
            "List at least one value",
            id="restricted-empty-list",
        ),
        pytest.param(
            "image",
            {"override": "restricted", "restricted_values": "", "value": ""},
            "restricted_values",
            "List at least one value",
            id="restricted-empty-box",
        ),
        pytest.param(
            "image",
            {"restricted_values": '["a"]'},
            "restricted_values",
            "apply only when override is Restricted",
            id="list-without-restricted",
        ),
        pytest.param(
            "notebook_profile",
            {"restricted_values": '["pytorch", "pytorch"]'},
            "restricted_values",
            "may appear once",
            id="restricted-duplicate",
        ),
        pytest.param(
            "notebook_profile",
            {"restricted_values": "[1, 2]"},
            "restricted_values",
            "must be a list of text values",
            id="restricted-not-text",
        ),
        pytest.param(
            "notebook_profile",
            {"restricted_values": "[pytorch]"},
            "restricted_values",
            "Enter a valid JSON",
            id="restricted-not-json",
        ),
        pytest.param(
            "image",
            {"override": "notallowed", "required": True, "value": ""},
            "value",
            "A required input that end users may not override needs a value",
            id="notallowed-required-empty",
        ),
        pytest.param(
            "image",
            {"override": "forbidden"},
            "override",
            "Select a valid choice",
            id="override-unknown",
        ),
        pytest.param(
            "image", {"display_name": "x" * 101}, "display_name", "at most 100", id="display-name"
        ),
        pytest.param("image", {"position": "-1"}, "position", "greater than or equal", id="pos"),
        pytest.param("image", {"position": "first"}, "position", "whole number", id="pos-text"),
    ],
)
def test_an_input_whose_settings_do_not_hang_together_is_refused(
    superuser_client, profile, change_page, variable, changes, field, message
):
    data, before = change_page
    key = row(data, "inputs", variable)
    for name, value in changes.items():
        if value is True:
            data[f"{key}-{name}"] = "on"
        else:
            data[f"{key}-{name}"] = value
    response = post_change(superuser_client, profile, data)
    assert message in row_errors(response, key)[field]
    assert stored(profile) == before


def test_an_input_may_tighten_its_template_variable(superuser_client, profile, change_page):
    data, _ = change_page
    image = row(data, "inputs", "image")
    data |= {
        f"{image}-required": "on",
        f"{image}-override": "notallowed",
        f"{image}-value": "nvcr.io/nvidia/pytorch:25.01-py3",
    }
    notebook = row(data, "inputs", "notebook_profile")
    data |= {f"{notebook}-restricted_values": '["pytorch", "rapids"]'}
    assert post_change(superuser_client, profile, data).status_code == 302
    image_setting = profile.inputs.get(name="image")
    assert (image_setting.required, image_setting.override) == (True, "notallowed")
    assert profile.inputs.get(name="notebook_profile").restricted_values == ["pytorch", "rapids"]


def test_an_input_named_after_no_template_variable_is_refused(
    superuser_client, profile, change_page
):
    data, before = change_page
    key = row(data, "inputs", "image")
    data[f"{key}-name"] = "container_image"
    response = post_change(superuser_client, profile, data)
    assert "“container_image” is not a variable of" in row_errors(response, key)["name"]
    assert stored(profile) == before


def test_an_input_with_a_name_that_is_no_variable_name_is_refused(
    superuser_client, profile, change_page
):
    data, before = change_page
    key = row(data, "inputs", "image")
    data[f"{key}-name"] = "container-image"
    response = post_change(superuser_client, profile, data)
    assert "not a valid name" in row_errors(response, key)["name"]
    assert stored(profile) == before


def test_a_second_row_for_the_same_variable_is_refused(superuser_client, profile, change_page):
    data, before = change_page
    key = row(data, "inputs", "enable_ssh")
    data[f"{key}-name"] = "image"
    response = post_change(superuser_client, profile, data)
    assert "already has settings for this variable" in row_errors(response, key)["__all__"]
    assert stored(profile) == before


# Output settings ---------------------------------------------------------------------------------


def test_an_output_the_version_does_not_declare_is_refused(superuser_client, profile, change_page):
    data, before = change_page
    key = row(data, "outputs", "url")
    data[f"{key}-name"] = "password"
    response = post_change(superuser_client, profile, data)
    assert "“password” is not an output of" in row_errors(response, key)["name"]
    assert stored(profile) == before


def test_a_new_output_row_the_version_does_not_declare_is_refused(
    superuser_client, profile, change_page
):
    data, before = change_page
    data["outputs-TOTAL_FORMS"] = 3
    data |= {"outputs-2-name": "password", "outputs-2-position": 2, "outputs-2-profile": profile.pk}
    response = post_change(superuser_client, profile, data)
    assert "“password” is not an output of" in row_errors(response, "outputs-2")["name"]
    assert stored(profile) == before


def test_a_template_sensitive_output_may_not_be_made_plain(superuser_client, profile, change_page):
    data, before = change_page
    key = row(data, "outputs", "token")
    data.pop(f"{key}-sensitive")
    response = post_change(superuser_client, profile, data)
    assert "it stays sensitive" in row_errors(response, key)["sensitive"]
    assert stored(profile) == before


def test_a_plain_output_may_be_made_sensitive(superuser_client, profile, change_page):
    data, _ = change_page
    data[f"{row(data, 'outputs', 'url')}-sensitive"] = "on"
    assert post_change(superuser_client, profile, data).status_code == 302
    assert profile.outputs.get(name="url").sensitive


def test_an_output_may_be_hidden_from_end_users(superuser_client, profile, change_page):
    data, _ = change_page
    data[f"{row(data, 'outputs', 'url')}-DELETE"] = "on"
    assert post_change(superuser_client, profile, data).status_code == 302
    assert list(profile.outputs.values_list("name", flat=True)) == ["token"]
    profile.refresh_from_db()
    assert profile.revision == 2


# Sensitive values --------------------------------------------------------------------------------


def test_a_sensitive_input_value_is_never_written_into_the_change_page(superuser_client, profile):
    html = superuser_client.get(profile_change_url(profile)).content.decode()
    assert SECRET not in html
    assert "Sensitive value: set." in html


def test_a_sensitive_input_without_a_value_says_not_set(superuser_client, profile):
    setting = profile.inputs.get(name="hf_token")
    setting.set_value("")
    setting.save()
    html = superuser_client.get(profile_change_url(profile)).content.decode()
    assert "Sensitive value: not set." in html


def test_leaving_the_sensitive_value_empty_keeps_the_stored_secret(
    superuser_client, profile, change_page
):
    data, _ = change_page
    assert data[f"{row(data, 'inputs', 'hf_token')}-value"] == ""
    data["description"] = "Changed."
    assert post_change(superuser_client, profile, data).status_code == 302
    setting = profile.inputs.get(name="hf_token")
    assert (setting.value, setting.secret) == ("", SECRET)


def test_a_new_sensitive_value_is_stored_encrypted_and_not_shown(
    superuser_client, profile, change_page
):
    data, _ = change_page
    data[f"{row(data, 'inputs', 'hf_token')}-value"] = "hf_new_secret"
    assert post_change(superuser_client, profile, data).status_code == 302
    setting = profile.inputs.get(name="hf_token")
    assert (setting.value, setting.secret) == ("", "hf_new_secret")
    profile.refresh_from_db()
    assert profile.revision == 2
    assert "hf_new_secret" not in json.dumps(profile.revisions.get(number=2).document)
    assert "hf_new_secret" not in superuser_client.get(profile_change_url(profile)).content.decode()


def test_a_sensitive_value_typed_into_a_refused_page_is_not_shown_back(
    superuser_client, profile, change_page
):
    data, _ = change_page
    data[f"{row(data, 'inputs', 'hf_token')}-value"] = "hf_typed_secret"
    data["labels"] = '{"-bad": "x"}'
    response = post_change(superuser_client, profile, data)
    refused(response)
    assert "hf_typed_secret" not in response.content.decode()
    assert SECRET not in response.content.decode()


def test_a_value_made_sensitive_moves_to_the_encrypted_column(
    superuser_client, profile, change_page
):
    data, _ = change_page
    key = row(data, "inputs", "image")
    data[f"{key}-sensitive"] = "on"
    assert post_change(superuser_client, profile, data).status_code == 302
    setting = profile.inputs.get(name="image")
    assert (setting.value, setting.secret) == ("", "nvcr.io/nvidia/pytorch:24.10-py3")
    html = superuser_client.get(profile_change_url(profile)).content.decode()
    assert "nvcr.io/nvidia/pytorch:24.10-py3" not in html


def test_a_sensitive_value_of_a_new_row_is_not_shown_back_on_a_refused_page(
    superuser_client, profile, change_page
):
    data, _ = change_page
    key = row(data, "inputs", "hf_token")
    data[f"{key}-DELETE"] = "on"
    data["inputs-TOTAL_FORMS"] += 1
    new = f"inputs-{data['inputs-TOTAL_FORMS'] - 1}"
    data |= {
        f"{new}-name": "hf_token",
        f"{new}-sensitive": "on",
        f"{new}-value": "hf_retyped_secret",
        f"{new}-override": "allowed",
        f"{new}-restricted_values": "[]",
        f"{new}-position": 9,
        "display_name": "",
    }
    response = post_change(superuser_client, profile, data)
    refused(response)
    assert "hf_retyped_secret" not in response.content.decode()


def test_the_revision_pages_never_show_a_secret(superuser_client, profile, change_page):
    data, _ = change_page
    data[f"{row(data, 'inputs', 'hf_token')}-value"] = "hf_new_secret"
    post_change(superuser_client, profile, data)
    for revision in profile.revisions.all():
        url = reverse("admin:profiles_profilerevision_change", args=[revision.pk])
        html = superuser_client.get(url).content.decode()
        assert "hf_new_secret" not in html
        assert SECRET not in html
    html = superuser_client.get(
        reverse("admin:profiles_profilerevision_changelist")
    ).content.decode()
    assert SECRET not in html


# Deleting ----------------------------------------------------------------------------------------


def test_deleting_a_profile_keeps_a_deleted_event_with_its_final_document(
    superuser_client, profile, change_page
):
    data, _ = change_page
    post_change(superuser_client, profile, data | {"display_name": "Final Name"})
    url = reverse("admin:profiles_serviceprofile_delete", args=[profile.pk])
    assert superuser_client.get(url).status_code == 200
    assert superuser_client.post(url, {"post": "yes"}).status_code == 302
    assert not ServiceProfile.objects.filter(pk=profile.pk).exists()
    event = ProfileEvent.objects.get(action="deleted")
    assert (event.profile, event.profile_name, event.actor_name) == (None, "acme", "admin")
    assert event.revision == 2
    assert event.detail["document"]["metadata"]["displayName"] == "Final Name"
    assert event.detail["document"]["metadata"]["project"] == "platform"
    assert SECRET not in json.dumps(event.detail)
    assert ProfileEvent.objects.filter(profile_name="acme").count() == 3
    assert not ProfileRevision.objects.exists()


def test_deleting_profiles_from_the_list_keeps_a_deleted_event_for_each(
    superuser_client, platform, notebook_version, profile
):
    other = make_profile(platform, "other", version=notebook_version)
    response = superuser_client.post(
        reverse("admin:profiles_serviceprofile_changelist"),
        {"action": "delete_selected", "_selected_action": [profile.pk, other.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ServiceProfile.objects.exists()
    deleted = ProfileEvent.objects.filter(action="deleted")
    assert sorted(deleted.values_list("profile_name", flat=True)) == ["acme", "other"]
    assert all(event.detail["document"]["kind"] == "ServiceProfile" for event in deleted)


def test_the_events_of_a_deleted_profile_stay_listed(superuser_client, profile):
    url = reverse("admin:profiles_serviceprofile_delete", args=[profile.pk])
    superuser_client.post(url, {"post": "yes"})
    html = superuser_client.get(reverse("admin:profiles_profileevent_changelist")).content.decode()
    assert "acme <em>(deleted)</em>" in html


# Lists: search and filters -----------------------------------------------------------------------


@pytest.fixture
def three_profiles(platform, research, notebook_version):
    make_profile(platform, "acme", version=notebook_version, display_name="ACME Notebook")
    make_profile(
        platform,
        "llama-serve",
        version=notebook_version,
        display_name="Llama Serving",
        service_type="inference",
    )
    make_profile(
        research,
        "nightly-train",
        version=notebook_version,
        description="Trains the ACME model every night.",
        service_type="jobs",
        status="ready",
    )


def listed(superuser_client, url_name: str, query: str = "") -> set[str]:
    response = superuser_client.get(reverse(url_name) + query)
    assert response.status_code == 200
    return {obj.name for obj in response.context["cl"].result_list}


def test_the_profile_list_searches_names_display_names_and_descriptions(
    superuser_client, three_profiles
):
    url = "admin:profiles_serviceprofile_changelist"
    assert listed(superuser_client, url) == {"acme", "llama-serve", "nightly-train"}
    assert listed(superuser_client, url, "?q=llama") == {"llama-serve"}
    assert listed(superuser_client, url, "?q=acme") == {"acme", "nightly-train"}
    assert listed(superuser_client, url, "?q=no-such-thing") == set()


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("?service_type__exact=inference", {"llama-serve"}),
        ("?status__exact=ready", {"nightly-train"}),
        ("?sharing__exact=none", {"acme", "llama-serve", "nightly-train"}),
        ("?sharing__exact=all", set()),
        ("?service_type__exact=notebook&q=acme", {"acme"}),
    ],
)
def test_the_profile_list_filters(superuser_client, three_profiles, query, names):
    assert listed(superuser_client, "admin:profiles_serviceprofile_changelist", query) == names


def test_the_profile_list_filters_by_project(superuser_client, three_profiles, research):
    query = f"?project__id__exact={research.pk}"
    assert listed(superuser_client, "admin:profiles_serviceprofile_changelist", query) == {
        "nightly-train"
    }


def test_a_malformed_list_query_is_not_a_500(superuser_client, three_profiles):
    url = reverse("admin:profiles_serviceprofile_changelist")
    for query in ["?project__id__exact=abc", "?o=99", "?service_type__exact=x&p=abc", "?e=1"]:
        assert superuser_client.get(url + query).status_code in {200, 302}


# Found while testing the admin: the same malformed key on the Studio sharing step ----------------


def test_a_project_key_out_of_range_on_the_studio_sharing_step_is_refused(
    client, alice, platform, notebook_version
):
    make_profile(platform, "acme", version=notebook_version, actor=alice, status="ready")
    client.force_login(alice)
    url = reverse("profiles:step", args=["platform", "acme", "sharing"])
    data = {"revision": 1, "sharing": "selected", "shared_with": ["9" * 30]}
    response = client.post(url, data)
    assert response.status_code == 400
    assert "shared_with" in response.context["form"].errors
