"""Wrong types are refused, not coerced (SPEC §6, issue 8): through the API and ``apply``.

Text must be a string, a boolean ``true``/``false``, a revision a whole number, a mapping's keys
text; a name with surrounding spaces breaks the naming rule instead of being trimmed. ``status``
is read-only: a request may carry it back in its documented shape, which is checked like the
rest of the document and then ignored. Each refusal is a 400 naming the field that saves
nothing.
"""

import copy
import io
import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from profiles.models import EnvironmentTemplate, ServiceProfile
from tests.factories import make_profile
from tests.test_api_access import causes, key_client
from tests.test_api_documents import (
    CLONE,
    LIST,
    SHARING,
    TEAM,
    current,
    database_state,
    new_document,
    post,
    put,
)

SLUG_RULE = "Use lowercase letters, digits and hyphens"


@pytest.fixture
def alice_api(cast, projects, system, notebook_version):
    """alice's API key client; platform has a ready ``team-notebook``, the system catalog a
    ``jupyter-notebook`` to clone."""
    make_profile(projects["platform"], "team-notebook", version=notebook_version, status="ready")
    make_profile(system, "jupyter-notebook", version=notebook_version, status="ready")
    return key_client(cast["alice"])


def changed(path: str, value) -> dict:
    """new_document() with the dotted ``path`` (list items by index) set to ``value``."""
    document = new_document()
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return document


WRONG_TYPES = [
    ("display-name-a-number", "metadata.displayName", 12345, "metadata.displayName"),
    ("description-a-number", "metadata.description", 3.5, "metadata.description"),
    ("label-value-a-number", "metadata.labels", {"team": 1}, "metadata.labels.team"),
    ("annotation-a-number", "metadata.annotations", {"owner": 7}, "metadata.annotations.owner"),
    ("extra-config-a-number", "spec.extraConfig", {"PORT": 8080}, "spec.extraConfig.PORT"),
    ("required-yes", "spec.inputs.0.required", "yes", "spec.inputs[0].required"),
    ("required-true-as-text", "spec.inputs.0.required", "true", "spec.inputs[0].required"),
    ("sensitive-one", "spec.inputs.0.sensitive", 1, "spec.inputs[0].sensitive"),
    ("input-display-name-a-number", "spec.inputs.0.displayName", 1, "spec.inputs[0].displayName"),
    ("output-sensitive-on", "spec.outputs.1.sensitive", "on", "spec.outputs[1].sensitive"),
    ("revision-as-text", "metadata.revision", "1", "metadata.revision"),
    ("revision-a-fraction", "metadata.revision", 1.0, "metadata.revision"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"), [c[1:] for c in WRONG_TYPES], ids=[c[0] for c in WRONG_TYPES]
)
def test_a_wrong_type_is_400_naming_the_field_and_saves_nothing(alice_api, path, value, field):
    before = database_state()
    response = post(alice_api, LIST, changed(path, value))
    assert (response.status_code, field in causes(response)) == (400, True)
    assert database_state() == before


def test_a_display_name_given_as_a_number_is_refused_with_a_message_saying_text(alice_api):
    response = post(alice_api, LIST, changed("metadata.displayName", 12345))
    assert causes(response)["metadata.displayName"].startswith("Enter text")


def test_a_boolean_given_as_yes_is_refused_with_a_message_saying_true_or_false(alice_api):
    response = post(alice_api, LIST, changed("spec.inputs.0.required", "yes"))
    assert causes(response)["spec.inputs[0].required"].startswith("Enter true or false")


# Names are refused, not trimmed ----------------------------------------------------------------


@pytest.mark.parametrize("name", [" new-notebook", "new-notebook ", "new-notebook\n"])
def test_a_name_with_surrounding_space_is_refused_by_the_naming_rule(alice_api, name):
    before = database_state()
    response = post(alice_api, LIST, changed("metadata.name", name))
    assert response.status_code == 400
    assert causes(response)["metadata.name"].startswith(SLUG_RULE)
    assert database_state() == before


def test_a_clone_name_with_a_leading_space_is_refused_by_the_naming_rule(alice_api):
    response = post(alice_api, CLONE, {"name": " my-clone"})
    assert response.status_code == 400
    assert causes(response)["name"].startswith(SLUG_RULE)
    assert not ServiceProfile.objects.filter(name="my-clone").exists()


def test_a_sharing_project_with_a_leading_space_is_not_found(alice_api):
    response = alice_api.put(
        SHARING,
        json.dumps({"type": "selected", "projects": [" research"]}),
        content_type="application/json",
    )
    assert (response.status_code, "projects[0]" in causes(response)) == (400, True)
    assert ServiceProfile.objects.get(name="team-notebook").sharing == "none"


def test_a_template_reference_with_a_trailing_space_is_not_found(alice_api):
    response = post(alice_api, LIST, changed("spec.environmentTemplate.name", "jupyter-notebook "))
    assert response.status_code == 400
    assert not ServiceProfile.objects.filter(name="new-notebook").exists()


def test_display_names_lose_surrounding_spaces_as_in_the_studio(alice_api):
    response = post(alice_api, LIST, changed("metadata.displayName", "  New Notebook "))
    assert response.json()["metadata"]["displayName"] == "New Notebook"


# Mappings from YAML have text keys ----------------------------------------------------------------


def yaml_body(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("metadata.labels", {1: "a"}, "metadata.labels.1"),
        ("metadata.annotations", {True: "a"}, "metadata.annotations.True"),
        ("spec.extraConfig", {8080: "a"}, "spec.extraConfig.8080"),
    ],
    ids=["label", "annotation", "extra-config"],
)
def test_a_yaml_key_that_is_not_text_is_400(alice_api, path, value, field):
    before = database_state()
    response = post(alice_api, LIST, yaml_body(changed(path, value)), "application/yaml")
    assert (response.status_code, field in causes(response)) == (400, True)
    assert database_state() == before


def test_a_yaml_label_value_that_is_a_number_is_400(alice_api):
    text = yaml_body(new_document()).replace("team: ml", "team: 1")
    response = post(alice_api, LIST, text, "application/yaml")
    assert list(causes(response)) == ["metadata.labels.team"]


@pytest.mark.parametrize(
    "value",
    [{1: "a"}, ["2026-01-01"], float("inf")],
    ids=["json-object-with-a-number-key", "a-date-in-a-list", "infinity"],
)
def test_a_value_yaml_cannot_give_as_json_is_400_not_a_server_error(alice_api, value):
    text = yaml_body(changed("spec.inputs.1.value", value)).replace("'2026-01-01'", "2026-01-01")
    response = post(alice_api, LIST, text, "application/yaml")
    assert (response.status_code, list(causes(response))) == (400, ["spec.inputs[1].value"])


def test_a_value_may_still_be_a_number_or_a_boolean(alice_api):
    response = post(alice_api, LIST, new_document())  # gpu_count: 2, enable_ssh: true
    values = {i["name"]: i.get("value") for i in response.json()["spec"]["inputs"]}
    assert (values["gpu_count"], values["enable_ssh"]) == ("2", "true")


# status: read-only, checked, then ignored --------------------------------------------------------


def test_a_document_read_back_with_its_status_can_be_sent_again(alice_api):
    document = current(alice_api)
    document["metadata"]["description"] = "Changed."
    response = put(alice_api, TEAM, document)
    assert (response.status_code, response.json()["metadata"]["description"]) == (200, "Changed.")


def test_status_values_are_ignored(alice_api):
    document = changed("status", {"state": "draft", "createdBy": "mallory"})
    created = post(alice_api, LIST, document).json()
    assert (created["status"]["state"], created["status"]["createdBy"]) == ("ready", "alice")


@pytest.mark.parametrize(
    ("status", "field"),
    [
        ({"state": "ready", "color": "red"}, "status.color"),
        ({"state": "finished"}, "status.state"),
        ({"createdBy": 5}, "status.createdBy"),
        ({"createdAt": "yesterday"}, "status.createdAt"),
        ("ready", "status"),
    ],
    ids=["unknown-key", "unknown-state", "creator-a-number", "not-a-time", "not-an-object"],
)
def test_a_status_of_the_wrong_shape_is_400(alice_api, status, field):
    before = database_state()
    response = post(alice_api, LIST, changed("status", status))
    assert (response.status_code, list(causes(response))) == (400, [field])
    assert database_state() == before


# The same serializer behind apply ----------------------------------------------------------------


def apply_text(tmp_path, text: str) -> None:
    path = tmp_path / "documents.yaml"
    path.write_text(text, encoding="utf-8")
    call_command("apply", "-f", str(path), stdout=io.StringIO())


def test_apply_refuses_a_label_value_given_as_a_number(alice_api, tmp_path):
    text = yaml_body(new_document()).replace("team: ml", "team: 1")
    with pytest.raises(CommandError, match=r"metadata\.labels\.team"):
        apply_text(tmp_path, text)
    assert not ServiceProfile.objects.filter(name="new-notebook").exists()


def template_document() -> dict:
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "EnvironmentTemplate",
        "metadata": {"name": "typed-template", "project": "platform", "displayName": "Typed"},
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "state": "active",
                    "code": {"inline": "#!/bin/sh\n"},
                    "variables": [{"name": "size", "valueType": "number", "value": 1}],
                    "outputs": [{"name": "url"}],
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("metadata.displayName", 1, "metadata.displayName"),
        ("metadata.name", " typed-template", "metadata.name"),
        ("spec.versions.0.variables.0.required", "yes", "spec.versions[0].variables[0].required"),
        ("spec.versions.0.outputs.0.sensitive", 0, "spec.versions[0].outputs[0].sensitive"),
    ],
    ids=["display-name", "name-with-a-space", "required-yes", "sensitive-zero"],
)
def test_apply_refuses_wrong_types_in_a_template(alice_api, tmp_path, path, value, field):
    document = copy.deepcopy(template_document())
    *parents, last = path.split(".")
    target = document
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    with pytest.raises(CommandError, match=field.replace(".", r"\.").replace("[", r"\[")):
        apply_text(tmp_path, yaml_body(document))
    assert not EnvironmentTemplate.objects.filter(name="typed-template").exists()


def test_apply_takes_a_well_typed_template(alice_api, tmp_path):
    apply_text(tmp_path, yaml_body(template_document()))
    assert EnvironmentTemplate.objects.filter(name="typed-template").exists()
