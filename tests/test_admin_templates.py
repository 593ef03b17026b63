"""The Django admin for environment templates, their versions, projects and memberships.

Superusers manage templates only here and as code (SPEC §3), so the admin is where the template
rules are enforced: names, versions, where the code lives, what each variable allows. As for
profiles, a bad value is refused at its field, nothing is saved and nothing answers 500.
"""

import pytest
from django.urls import reverse

from profiles.models import EnvironmentTemplate, TemplateOutput, TemplateVariable, TemplateVersion
from studio.models import Membership, Project
from tests.factories import make_profile, make_project, make_template, make_user
from tests.test_admin import formset_data, page_data, refused, row, row_errors

SECRET = "hf_template_secret"  # the default of hf_token in the notebook_version fixture


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    return client


def variable(name: str = "gpu_count", **fields) -> dict:
    """A template variable row as the version page posts it."""
    return {
        "name": name,
        "value_type": "text",
        "position": 0,
        "value": "",
        "description": "",
        "required": False,
        "sensitive": False,
        "override": "allowed",
        "restricted_values": "[]",
    } | fields


def new_version_data(template, /, *, variables=(), outputs=(), **fields) -> dict:
    """A valid add-page submission: active version v2 of ``template`` with its code in git."""
    return (
        {
            "template": template.pk,
            "name": "v2",
            "state": "active",
            "code_repository": "https://git.example.com/templates.git",
            "code_path": "jupyter-notebook",
            "code_revision": "main",
            "code_inline": "",
        }
        | fields
        | formset_data("variables", list(variables))
        | formset_data("outputs", list(outputs))
    )


def new_template_data(project, /, *, versions=(), **fields) -> dict:
    return (
        {
            "project": project.pk,
            "name": "notebook",
            "display_name": "Notebook",
            "description": "",
            "sharing": "none",
        }
        | fields
        | formset_data("versions", list(versions))
    )


def new_project_data(**fields) -> dict:
    return (
        {"name": "ml-team", "display_name": "ML Team", "description": ""}
        | fields
        | (formset_data("memberships", []))
    )


def version_add(superuser_client, data):
    return superuser_client.post(reverse("admin:profiles_templateversion_add"), data)


@pytest.fixture
def template(notebook_version):
    """system-catalog/jupyter-notebook, with its active v1."""
    return notebook_version.template


# Environment templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("Notebook", "lowercase letters", id="uppercase"),
        pytest.param("1notebook", "starting with a letter", id="leading-digit"),
        pytest.param("notebook-", "not ending with a hyphen", id="trailing-hyphen"),
        pytest.param("n" * 64, "at most 63 characters", id="64-chars"),
    ],
)
def test_a_template_name_breaking_the_slug_rule_is_refused(
    superuser_client, platform, name, message
):
    response = superuser_client.post(
        reverse("admin:profiles_environmenttemplate_add"), new_template_data(platform, name=name)
    )
    assert message in refused(response)["name"]
    assert not EnvironmentTemplate.objects.filter(project=platform).exists()


def test_a_template_name_the_project_already_uses_is_refused_at_the_name(
    superuser_client, platform
):
    make_template(platform, "notebook")
    response = superuser_client.post(
        reverse("admin:profiles_environmenttemplate_add"), new_template_data(platform)
    )
    errors = refused(response)
    assert "“notebook” is taken in project platform; pick another name." in errors["name"]
    assert EnvironmentTemplate.objects.filter(project=platform).count() == 1


def test_a_template_without_a_display_name_is_refused(superuser_client, platform):
    response = superuser_client.post(
        reverse("admin:profiles_environmenttemplate_add"),
        new_template_data(platform, display_name=""),
    )
    assert "This field is required" in refused(response)["display_name"]


@pytest.mark.parametrize(
    ("sharing", "shared", "message"),
    [
        pytest.param("selected", [], "Pick at least one project", id="selected-without-projects"),
        pytest.param("none", ["research"], "only for Selected Projects", id="none-with-projects"),
        pytest.param("selected", ["platform"], "“platform” owns it already", id="own-project"),
        pytest.param("selected", ["system-catalog"], "Select a valid choice", id="system-catalog"),
    ],
)
def test_a_template_sharing_breaking_the_rule_is_refused(
    superuser_client, platform, research, system, sharing, shared, message
):
    shared_with = [Project.objects.get(name=name).pk for name in shared]
    data = new_template_data(platform, sharing=sharing, shared_with=shared_with)
    response = superuser_client.post(reverse("admin:profiles_environmenttemplate_add"), data)
    assert message in refused(response)["shared_with"]
    assert not EnvironmentTemplate.objects.filter(project=platform).exists()


def test_a_template_with_a_first_version_is_saved(superuser_client, platform, research):
    data = new_template_data(
        platform,
        sharing="selected",
        shared_with=[research.pk],
        versions=[
            {
                "name": "v1",
                "state": "active",
                "code_repository": "https://git.example.com/t.git",
                "code_path": "notebook",
                "code_revision": "main",
            }
        ],
    )
    response = superuser_client.post(reverse("admin:profiles_environmenttemplate_add"), data)
    assert response.status_code == 302
    saved = EnvironmentTemplate.objects.get(project=platform, name="notebook")
    assert list(saved.shared_with.all()) == [research]
    assert list(saved.versions.values_list("name", "state")) == [("v1", "active")]


@pytest.mark.parametrize(
    ("version", "field", "message"),
    [
        pytest.param({"name": "V1"}, "name", "Name versions v1, v2, v3", id="name-uppercase"),
        pytest.param({"code_repository": ""}, "code_repository", "or inline code", id="no-code"),
        pytest.param({"code_repository": "not a url"}, "code_repository", "valid URL", id="url"),
        pytest.param({"state": "retired"}, "state", "Select a valid choice", id="state"),
    ],
)
def test_a_bad_version_row_on_the_template_page_is_refused(
    superuser_client, platform, version, field, message
):
    row_data = {
        "name": "v1",
        "state": "active",
        "code_repository": "https://git.example.com/t.git",
        "code_path": "notebook",
        "code_revision": "main",
    } | version
    data = new_template_data(platform, versions=[row_data])
    response = superuser_client.post(reverse("admin:profiles_environmenttemplate_add"), data)
    assert message in row_errors(response, "versions-0")[field]
    assert not EnvironmentTemplate.objects.filter(project=platform).exists()
    assert not TemplateVersion.objects.filter(template__project=platform).exists()


def test_two_version_rows_with_one_name_are_refused(superuser_client, platform):
    version = {
        "name": "v1",
        "state": "active",
        "code_repository": "https://git.example.com/t.git",
    }
    data = new_template_data(platform, versions=[version, version])
    response = superuser_client.post(reverse("admin:profiles_environmenttemplate_add"), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "Please correct the duplicate data for name" in " ".join(formset.non_form_errors())
    assert not EnvironmentTemplate.objects.filter(project=platform).exists()


def test_the_template_name_and_project_are_read_only_on_the_change_page(superuser_client, template):
    url = reverse("admin:profiles_environmenttemplate_change", args=[template.pk])
    data = page_data(superuser_client.get(url))
    assert "name" not in data
    assert "project" not in data
    data |= {"name": "renamed", "display_name": "Renamed"}
    assert superuser_client.post(url, data).status_code == 302
    template.refresh_from_db()
    assert (template.name, template.display_name) == ("jupyter-notebook", "Renamed")


# Template versions -------------------------------------------------------------------------------


def test_a_valid_version_with_variables_and_outputs_is_saved(superuser_client, template):
    data = new_version_data(
        template,
        variables=[
            variable("gpu_count", value_type="number", value="2", required=True),
            variable(
                "framework",
                position=1,
                value="pytorch",
                override="restricted",
                restricted_values='["pytorch", "jax"]',
            ),
            variable("api_key", position=2, sensitive=True, value="sk-typed"),
        ],
        outputs=[
            {"name": "url", "position": 0},
            {"name": "token", "position": 1, "sensitive": True},
        ],
    )
    assert version_add(superuser_client, data).status_code == 302
    version = template.versions.get(name="v2")
    assert list(version.variables.values_list("name", "value")) == [
        ("gpu_count", "2"),
        ("framework", "pytorch"),
        ("api_key", ""),
    ]
    assert version.variables.get(name="api_key").secret == "sk-typed"
    assert list(version.outputs.values_list("name", "sensitive")) == [
        ("url", False),
        ("token", True),
    ]


def test_a_version_with_inline_code_only_is_saved(superuser_client, template):
    data = new_version_data(
        template, code_repository="", code_path="", code_revision="", code_inline="resource {}"
    )
    assert version_add(superuser_client, data).status_code == 302
    assert template.versions.get(name="v2").code_inline == "resource {}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("V2", id="uppercase"),
        pytest.param("2", id="no-v"),
        pytest.param("v0", id="v0"),
        pytest.param("v02", id="leading-zero"),
        pytest.param("v2.1", id="dotted"),
        pytest.param("version2", id="word"),
        pytest.param("v1234567", id="too-long"),
        pytest.param("", id="empty"),
    ],
)
def test_a_version_name_not_of_the_v1_v2_form_is_refused(superuser_client, template, name):
    response = version_add(superuser_client, new_version_data(template, name=name))
    errors = refused(response)["name"]
    assert any(
        message in errors
        for message in ["Name versions v1, v2, v3", "at most 8", "This field is required"]
    )
    assert template.versions.count() == 1


def test_a_version_name_the_template_already_has_is_refused_at_the_name(superuser_client, template):
    response = version_add(superuser_client, new_version_data(template, name="v1"))
    assert "already has a version v1" in refused(response)["name"]
    assert template.versions.count() == 1


def test_a_version_with_both_a_repository_and_inline_code_is_refused(superuser_client, template):
    response = version_add(superuser_client, new_version_data(template, code_inline="resource {}"))
    assert "not both" in refused(response)["code_inline"]
    assert template.versions.count() == 1


def test_a_version_with_neither_a_repository_nor_inline_code_is_refused(superuser_client, template):
    data = new_version_data(template, code_repository="", code_path="", code_revision="")
    response = version_add(superuser_client, data)
    errors = refused(response)
    assert "a repository URL (with path and revision) or inline code" in errors["code_repository"]
    assert template.versions.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("code_repository", "javascript:alert(1)", "valid URL", id="repository-js"),
        pytest.param("state", "retired", "Select a valid choice", id="state"),
        pytest.param("template", "99999", "Select a valid choice", id="unknown-template"),
        pytest.param("template", "abc", "Select a valid choice", id="template-not-a-key"),
        pytest.param("template", "9" * 30, "Select a valid choice", id="template-out-of-range"),
        pytest.param("template", "", "This field is required", id="no-template"),
    ],
)
def test_a_version_field_breaking_its_rule_is_refused(
    superuser_client, template, field, value, message
):
    response = version_add(superuser_client, new_version_data(template, **{field: value}))
    assert message in refused(response)[field]
    assert TemplateVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        pytest.param({"name": "1gpu"}, "name", "“1gpu” is not a valid name", id="leading-digit"),
        pytest.param({"name": "gpu-count"}, "name", "not a valid name", id="hyphen"),
        pytest.param({"name": "gpu count"}, "name", "not a valid name", id="space"),
        pytest.param({"name": "", "value": "x"}, "name", "This field is required", id="no-name"),
        pytest.param(
            {"value_type": "number", "value": "abc"}, "value", "“abc” is not a number", id="num"
        ),
        pytest.param(
            {"value_type": "number", "value": "Infinity"}, "value", "not a number", id="inf"
        ),
        pytest.param(
            {"value_type": "boolean", "value": "maybe"}, "value", "use true or false", id="bool"
        ),
        pytest.param(
            {"value_type": "json", "value": "{not json"}, "value", "not valid JSON", id="json"
        ),
        pytest.param(
            {"value_type": "json", "value": "[" * 100_000},
            "value",
            "not valid JSON",
            id="json-nested-100k-deep",
        ),
        pytest.param({"value_type": "yaml"}, "value_type", "Select a valid choice", id="type"),
        pytest.param(
            {"override": "restricted", "restricted_values": "[]"},
            "restricted_values",
            "List at least one value",
            id="restricted-empty",
        ),
        pytest.param(
            {"override": "restricted", "restricted_values": ""},
            "restricted_values",
            "List at least one value",
            id="restricted-empty-box",
        ),
        pytest.param(
            {"override": "restricted", "restricted_values": '["a", ""]'},
            "restricted_values",
            "may not be empty",
            id="restricted-empty-value",
        ),
        pytest.param(
            {"override": "restricted", "restricted_values": '["a", "b"]', "value": "c"},
            "value",
            "must be one of the restricted values",
            id="restricted-default-not-listed",
        ),
        pytest.param(
            {
                "value_type": "number",
                "override": "restricted",
                "restricted_values": '["1", "two"]',
            },
            "restricted_values",
            "Every restricted value must be valid",
            id="restricted-value-not-a-number",
        ),
        pytest.param(
            {"override": "restricted", "restricted_values": '["a", 2]'},
            "restricted_values",
            "must be a list of text values",
            id="restricted-not-text",
        ),
        pytest.param(
            {"override": "restricted", "restricted_values": "[[[[["},
            "restricted_values",
            "Enter a valid JSON",
            id="restricted-not-json",
        ),
        pytest.param(
            {"override": "restricted", "restricted_values": "[" * 100_000},
            "restricted_values",
            "Enter a valid JSON",
            id="restricted-nested-100k-deep",
        ),
        pytest.param(
            {"override": "notallowed", "required": True, "value": ""},
            "value",
            "needs a value",
            id="notallowed-required-empty",
        ),
        pytest.param(
            {"override": "notallowed", "required": True, "sensitive": True, "value": ""},
            "value",
            "needs a value",
            id="notallowed-required-sensitive-empty",
        ),
        pytest.param({"override": "sometimes"}, "override", "Select a valid", id="override"),
        pytest.param({"position": "-1"}, "position", "greater than or equal", id="position"),
        pytest.param({"position": "9" * 30}, "position", "less than or equal", id="huge-position"),
        pytest.param({"description": "x" * 2001}, "description", "at most 2000", id="description"),
    ],
)
def test_a_variable_breaking_its_rules_is_refused(
    superuser_client, template, fields, field, message
):
    response = version_add(
        superuser_client, new_version_data(template, variables=[variable(**fields)])
    )
    assert message in row_errors(response, "variables-0")[field]
    assert TemplateVersion.objects.count() == 1
    assert not TemplateVariable.objects.filter(version__name="v2").exists()


def test_two_variables_with_one_name_are_refused(superuser_client, template):
    data = new_version_data(template, variables=[variable("gpu"), variable("gpu", position=1)])
    response = version_add(superuser_client, data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert "Please correct the duplicate data for name" in " ".join(formset.non_form_errors())
    assert TemplateVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        pytest.param({"name": "my-url"}, "name", "not a valid name", id="hyphen"),
        pytest.param(
            {"name": "", "description": "x"}, "name", "This field is required", id="no-name"
        ),
        pytest.param({"position": "x"}, "position", "whole number", id="position"),
    ],
)
def test_an_output_breaking_its_rules_is_refused(
    superuser_client, template, fields, field, message
):
    output = {"name": "url", "position": 0} | fields
    response = version_add(superuser_client, new_version_data(template, outputs=[output]))
    assert message in row_errors(response, "outputs-0")[field]
    assert not TemplateOutput.objects.filter(version__name="v2").exists()


def test_a_refused_variable_change_leaves_the_version_alone(superuser_client, notebook_version):
    url = reverse("admin:profiles_templateversion_change", args=[notebook_version.pk])
    data = page_data(superuser_client.get(url))
    key = row(data, "variables", "gpu_count")
    data[f"{key}-value"] = "two"
    data[f"{row(data, 'variables', 'image')}-value"] = "changed"
    response = superuser_client.post(url, data)
    assert "“two” is not a number" in row_errors(response, key)["value"]
    assert notebook_version.variables.get(name="gpu_count").value == "1"
    assert notebook_version.variables.get(name="image").value.startswith("nvcr.io")


def test_a_version_a_profile_is_built_on_cannot_be_deleted(
    superuser_client, platform, notebook_version
):
    make_profile(platform, "acme", version=notebook_version)
    url = reverse("admin:profiles_templateversion_delete", args=[notebook_version.pk])
    response = superuser_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "would require deleting the following protected related objects" in html
    assert superuser_client.post(url, {"post": "yes"}).status_code == 200
    assert TemplateVersion.objects.filter(pk=notebook_version.pk).exists()


# Sensitive template variables --------------------------------------------------------------------


def test_a_sensitive_variable_value_is_never_written_into_the_version_page(
    superuser_client, notebook_version
):
    url = reverse("admin:profiles_templateversion_change", args=[notebook_version.pk])
    html = superuser_client.get(url).content.decode()
    assert SECRET not in html
    assert "Sensitive value: set." in html


def test_leaving_a_sensitive_variable_empty_keeps_its_value(superuser_client, notebook_version):
    url = reverse("admin:profiles_templateversion_change", args=[notebook_version.pk])
    data = page_data(superuser_client.get(url))
    assert data[f"{row(data, 'variables', 'hf_token')}-value"] == ""
    data[f"{row(data, 'variables', 'hf_token')}-description"] = "Hugging Face token."
    assert superuser_client.post(url, data).status_code == 302
    hf_token = notebook_version.variables.get(name="hf_token")
    assert (hf_token.description, hf_token.value, hf_token.secret) == (
        "Hugging Face token.",
        "",
        SECRET,
    )


def test_a_new_sensitive_variable_value_replaces_the_old_one(superuser_client, notebook_version):
    url = reverse("admin:profiles_templateversion_change", args=[notebook_version.pk])
    data = page_data(superuser_client.get(url))
    data[f"{row(data, 'variables', 'hf_token')}-value"] = "hf_rotated"
    assert superuser_client.post(url, data).status_code == 302
    assert notebook_version.variables.get(name="hf_token").secret == "hf_rotated"
    assert "hf_rotated" not in superuser_client.get(url).content.decode()


def test_a_sensitive_value_typed_into_a_refused_version_page_is_not_shown_back(
    superuser_client, template
):
    data = new_version_data(
        template, name="V2", variables=[variable("api_key", sensitive=True, value="sk-typed")]
    )
    response = version_add(superuser_client, data)
    assert "name" in refused(response)
    assert "sk-typed" not in response.content.decode()
    assert "not shown back" in response.content.decode()


def test_a_plain_value_typed_into_a_refused_version_page_is_shown_back(superuser_client, template):
    data = new_version_data(template, name="V2", variables=[variable("image", value="nvcr.io/x")])
    response = version_add(superuser_client, data)
    assert "nvcr.io/x" in response.content.decode()


# Template lists ----------------------------------------------------------------------------------


def test_the_template_list_searches_and_filters(superuser_client, template, platform):
    make_template(platform, "private-notebook")
    url = reverse("admin:profiles_environmenttemplate_changelist")

    def names(query: str) -> set[str]:
        response = superuser_client.get(url + query)
        assert response.status_code == 200
        return {obj.name for obj in response.context["cl"].result_list}

    assert names("") == {"jupyter-notebook", "private-notebook"}
    assert names("?q=private") == {"private-notebook"}
    assert names("?sharing__exact=all") == {"jupyter-notebook"}
    assert names(f"?project__id__exact={platform.pk}") == {"private-notebook"}


def test_the_version_list_filters_by_state(superuser_client, template, system):
    make_template(system, "jupyter-notebook", version="v2", state="draft")
    make_template(system, "batch-job", version="v1", state="disabled")
    url = reverse("admin:profiles_templateversion_changelist")

    def versions(query: str) -> set[str]:
        response = superuser_client.get(url + query)
        assert response.status_code == 200
        return {str(obj) for obj in response.context["cl"].result_list}

    assert versions("?state__exact=draft") == {"system-catalog/jupyter-notebook v2"}
    assert versions("?state__exact=active") == {"system-catalog/jupyter-notebook v1"}
    assert versions("?q=batch") == {"system-catalog/batch-job v1"}


# Projects and memberships ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("ML-Team", "lowercase letters", id="uppercase"),
        pytest.param("1team", "starting with a letter", id="leading-digit"),
        pytest.param("team-", "not ending with a hyphen", id="trailing-hyphen"),
        pytest.param("t" * 64, "at most 63 characters", id="64-chars"),
        pytest.param("", "This field is required", id="empty"),
    ],
)
def test_a_project_name_breaking_the_slug_rule_is_refused(superuser_client, db, name, message):
    before = Project.objects.count()
    response = superuser_client.post(
        reverse("admin:studio_project_add"), new_project_data(name=name)
    )
    assert message in refused(response)["name"]
    assert Project.objects.count() == before


def test_a_project_name_already_taken_is_refused(superuser_client, platform):
    data = new_project_data(name="platform")
    response = superuser_client.post(reverse("admin:studio_project_add"), data)
    assert "already exists" in refused(response)["name"]
    assert Project.objects.filter(name="platform").count() == 1


@pytest.mark.parametrize(
    ("display_name", "message"),
    [("", "This field is required"), ("x" * 101, "at most 100 characters")],
)
def test_a_project_display_name_breaking_its_rule_is_refused(
    superuser_client, db, display_name, message
):
    data = new_project_data(display_name=display_name)
    response = superuser_client.post(reverse("admin:studio_project_add"), data)
    assert message in refused(response)["display_name"]
    assert not Project.objects.filter(name="ml-team").exists()


def test_a_valid_project_with_an_admin_is_saved(superuser_client, db):
    ann = make_user("ann")
    data = new_project_data() | formset_data("memberships", [{"user": ann.pk, "role": "admin"}])
    assert superuser_client.post(reverse("admin:studio_project_add"), data).status_code == 302
    project = Project.objects.get(name="ml-team")
    assert list(project.memberships.values_list("user__username", "role")) == [("ann", "admin")]


def test_the_project_name_is_read_only_on_the_change_page(superuser_client, platform):
    url = reverse("admin:studio_project_change", args=[platform.pk])
    data = page_data(superuser_client.get(url))
    assert "name" not in data
    assert superuser_client.post(url, data | {"name": "renamed"}).status_code == 302
    platform.refresh_from_db()
    assert platform.name == "platform"


def test_a_membership_for_a_pair_that_exists_is_refused(superuser_client, alice, platform):
    data = {"user": alice.pk, "project": platform.pk, "role": "member"}
    response = superuser_client.post(reverse("admin:studio_membership_add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "This user already belongs to this project" in " ".join(form.non_field_errors())
    assert list(Membership.objects.filter(user=alice).values_list("role", flat=True)) == ["admin"]


def test_a_second_membership_row_for_a_member_on_the_project_page_is_refused(
    superuser_client, alice, platform
):
    url = reverse("admin:studio_project_change", args=[platform.pk])
    data = page_data(superuser_client.get(url))
    extra = f"memberships-{data['memberships-INITIAL_FORMS']}"  # the empty row for a new one
    data |= {f"{extra}-user": alice.pk, f"{extra}-role": "member"}
    response = superuser_client.post(url, data)
    assert "already belongs to this project" in row_errors(response, extra)["__all__"]
    assert Membership.objects.filter(user=alice).count() == 1


def test_a_membership_in_the_system_catalog_is_refused(superuser_client, alice, system):
    data = {"user": alice.pk, "project": system.pk, "role": "admin"}
    response = superuser_client.post(reverse("admin:studio_membership_add"), data)
    assert "The system catalog has no members" in refused(response)["project"]
    assert not Membership.objects.filter(project=system).exists()


def test_the_system_catalog_page_takes_no_membership_rows(superuser_client, alice, system):
    url = reverse("admin:studio_project_change", args=[system.pk])
    response = superuser_client.get(url)
    assert list(response.context["inline_admin_formsets"]) == []
    data = page_data(response) | formset_data("memberships", [{"user": alice.pk, "role": "admin"}])
    assert superuser_client.post(url, data).status_code == 302
    assert not Membership.objects.filter(project=system).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role", "owner", "Select a valid choice"),
        ("user", "99999", "Select a valid choice"),
        ("project", "99999", "Select a valid choice"),
        pytest.param("user", "abc", "Select a valid choice"),
        pytest.param("project", "abc", "Select a valid choice"),
        pytest.param("project", "9" * 30, "Select a valid choice"),
    ],
)
def test_a_membership_field_breaking_its_rule_is_refused(
    superuser_client, alice, finance, field, value, message
):
    data = {"user": alice.pk, "project": finance.pk, "role": "member"} | {field: value}
    response = superuser_client.post(reverse("admin:studio_membership_add"), data)
    assert message in refused(response)[field]
    assert not Membership.objects.filter(project=finance).exists()


def test_the_membership_list_searches_and_filters(superuser_client, cast):
    url = reverse("admin:studio_membership_changelist")

    def pairs(query: str) -> set[tuple[str, str]]:
        response = superuser_client.get(url + query)
        assert response.status_code == 200
        return {(m.user.username, m.project.name) for m in response.context["cl"].result_list}

    assert pairs("?role__exact=member") == {("bob", "research"), ("carol", "finance")}
    assert pairs("?q=research") == {("dave", "research"), ("bob", "research")}
    assert pairs("?q=alice") == {("alice", "platform")}


def test_the_project_list_searches(superuser_client, projects):
    make_project("ml-team", display_name="Machine Learning")
    response = superuser_client.get(reverse("admin:studio_project_changelist") + "?q=learning")
    assert {p.name for p in response.context["cl"].result_list} == {"ml-team"}


def test_restricted_values_are_edited_one_per_line(superuser_client, template):
    data = new_version_data(
        template,
        variables=[
            variable(
                "framework",
                value="pytorch",
                override="restricted",
                restricted_values="pytorch\n\n  jax  \nrapids 24.10\n",
            )
        ],
    )
    assert version_add(superuser_client, data).status_code == 302
    version = template.versions.get(name="v2")
    framework = version.variables.get(name="framework")
    assert framework.restricted_values == ["pytorch", "jax", "rapids 24.10"]
    page = superuser_client.get(reverse("admin:profiles_templateversion_change", args=[version.pk]))
    html = page.content.decode()
    assert ">\npytorch\njax\nrapids 24.10</textarea>" in html, "one per line, not JSON"
    assert "One per line" in html


def test_a_version_page_leads_back_to_its_template_and_the_template_page_to_its_settings(
    superuser_client, template
):
    version = template.versions.get(name="v1")
    template_page = reverse("admin:profiles_environmenttemplate_change", args=[template.pk])
    version_page = reverse("admin:profiles_templateversion_change", args=[version.pk])
    html = superuser_client.get(template_page).content.decode()
    count = version.variables.count()
    assert f'<a href="{version_page}">Edit {count} variables and 2 outputs</a>' in html
    html = superuser_client.get(version_page).content.decode()
    assert f'<a href="{template_page}">{template} (all its versions)</a>' in html


def test_sharing_a_template_with_its_own_project_from_its_page_is_refused(
    superuser_client, platform
):
    template = make_template(platform, "own-share").template
    page = reverse("admin:profiles_environmenttemplate_change", args=[template.pk])
    data = {
        "display_name": "Own share",
        "description": "",
        "sharing": "selected",
        "shared_with": [platform.pk],
    } | formset_data("versions", [])
    assert "“platform” owns it already" in refused(superuser_client.post(page, data))["shared_with"]
    template.refresh_from_db()
    assert template.sharing == "none"


def test_an_active_repository_version_needs_its_revision(superuser_client, template):
    data = new_version_data(template, code_repository="file:///no/such.git", code_revision="")
    response = version_add(superuser_client, data)
    assert "Give the branch, tag or commit id" in refused(response)["code_revision"]
    assert template.versions.count() == 1
