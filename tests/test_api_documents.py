"""The profile document over the API (SPEC §4, §6): create, replace, patch, delete, sharing, clone.

Bad input of every kind is answered with one Status document naming each field by its document
path, and saves nothing; a stale ``metadata.revision`` gets 409; bodies over the size limit
413; YAML works as well as JSON.
"""

import json

import pytest
import yaml
from django.test import Client

from profiles import services
from profiles.models import (
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
)
from tests.factories import make_profile, make_template
from tests.test_api_access import api_url, causes, key_client

SECRET = "hf_profile_secret"
LIST = api_url("platform", "serviceprofiles/")
TEAM = api_url("platform", "serviceprofiles/team-notebook")
SHARING = api_url("platform", "serviceprofiles/team-notebook/sharing")
CLONE = api_url("platform", "systemprofiles/jupyter-notebook/clone")


def database_state() -> tuple:
    """Everything a profile write could change, to compare before and after a refused one."""
    return (
        list(ServiceProfile.objects.order_by("pk").values()),
        list(ServiceProfile.shared_with.through.objects.order_by("pk").values()),
        list(InputSetting.objects.order_by("pk").values()),
        list(OutputSetting.objects.order_by("pk").values()),
        ProfileRevision.objects.count(),
        ProfileEvent.objects.count(),
    )


def new_document() -> dict:
    """A valid document for a new ``new-notebook`` in platform, on jupyter-notebook v1."""
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ServiceProfile",
        "metadata": {
            "name": "new-notebook",
            "project": "platform",
            "displayName": "New Notebook",
            "description": "GPU notebook with the team's libraries.",
            "labels": {"team": "ml", "example.com/tier": "gold"},
            "annotations": {"owner": "ml-platform@example.com"},
        },
        "spec": {
            "environmentTemplate": {"name": "jupyter-notebook", "version": "v1"},
            "serviceType": "notebook",
            "iconURL": "https://example.com/jupyter.svg",
            "readme": "# New Notebook\n\nWith *everything*.\n",
            "extraConfig": {"PIP_INDEX_URL": "https://pypi.example.com/simple"},
            "inputs": [
                {
                    "name": "notebook_profile",
                    "displayName": "Notebook profile",
                    "description": "Libraries pre-installed in the notebook.",
                    "value": "rapids",
                    "required": True,
                    "sensitive": False,
                    "override": {"type": "restricted", "restrictedValues": ["pytorch", "rapids"]},
                },
                {"name": "image", "value": "nvcr.io/nvidia/pytorch:24.10-py3"},
                {"name": "gpu_count", "value": 2, "required": True},
                {"name": "enable_ssh", "value": True},
                {"name": "region", "value": "us-east", "override": {"type": "notallowed"}},
                {"name": "hf_token", "value": SECRET, "sensitive": True},
            ],
            "outputs": [
                {"name": "url", "displayName": "Notebook URL"},
                {"name": "token", "displayName": "Access token", "sensitive": True},
            ],
            "sharing": {"type": "selected", "projects": ["research"]},
        },
    }


def post(client: Client, url: str, body, content_type: str = "application/json", **kwargs):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data, content_type=content_type, **kwargs)


def put(client: Client, url: str, body, **kwargs):
    return client.put(url, json.dumps(body), content_type="application/json", **kwargs)


def patch(client: Client, url: str, body, **kwargs):
    return client.patch(url, json.dumps(body), content_type="application/json", **kwargs)


@pytest.fixture
def alice_api(cast, projects, system, notebook_version):
    """alice's API key client; platform has a ready ``team-notebook`` with its secret set."""
    make_profile(
        projects["platform"],
        "team-notebook",
        display_name="Team Notebook",
        version=notebook_version,
        status="ready",
        actor=cast["alice"],
        inputs={"hf_token": {"value": SECRET}},
    )
    make_profile(system, "jupyter-notebook", version=notebook_version, status="ready")
    return key_client(cast["alice"])


def current(client: Client) -> dict:
    """team-notebook's document as the API gives it."""
    return client.get(TEAM).json()


# Creating --------------------------------------------------------------------------------------


def test_create_answers_201_with_the_document(alice_api):
    response = post(alice_api, LIST, new_document())
    assert response.status_code == 201
    assert response.json()["metadata"]["name"] == "new-notebook"


def test_a_created_profile_reads_back_as_it_was_sent(alice_api):
    post(alice_api, LIST, new_document())
    document = alice_api.get(api_url("platform", "serviceprofiles/new-notebook")).json()
    sent = new_document()
    assert document["metadata"]["labels"] == sent["metadata"]["labels"]
    assert document["spec"]["readme"] == sent["spec"]["readme"]
    assert document["spec"]["sharing"] == sent["spec"]["sharing"]
    assert [o["name"] for o in document["spec"]["outputs"]] == ["url", "token"]


def test_a_created_profile_is_ready_at_revision_1_by_its_author(alice_api):
    document = post(alice_api, LIST, new_document()).json()
    assert document["metadata"]["revision"] == 1
    assert document["status"]["state"] == "ready"
    assert document["status"]["createdBy"] == "alice"


def test_typed_values_are_stored_as_text_and_read_back(alice_api):
    document = post(alice_api, LIST, new_document()).json()
    values = {i["name"]: i.get("value") for i in document["spec"]["inputs"]}
    assert (values["gpu_count"], values["enable_ssh"]) == ("2", "true")


def test_a_created_profile_never_shows_its_secret(alice_api):
    response = post(alice_api, LIST, new_document())
    hf_token = next(i for i in response.json()["spec"]["inputs"] if i["name"] == "hf_token")
    assert "value" not in hf_token
    assert SECRET not in response.content.decode()


def test_a_created_profiles_secret_is_stored_encrypted(alice_api):
    post(alice_api, LIST, new_document())
    setting = InputSetting.objects.get(profile__name="new-notebook", name="hf_token")
    assert setting.secret == SECRET
    assert setting.value == ""


def test_create_records_an_event(alice_api):
    post(alice_api, LIST, new_document())
    event = ProfileEvent.objects.get(profile_name="new-notebook")
    assert (event.action, event.actor_name) == ("created", "alice")


def test_a_document_without_metadata_project_lands_in_the_urls_project(alice_api):
    document = new_document()
    del document["metadata"]["project"]
    assert post(alice_api, LIST, document).json()["metadata"]["project"] == "platform"


def test_status_sent_with_a_document_is_ignored(alice_api):
    document = new_document() | {"status": {"state": "draft", "createdBy": "mallory"}}
    created = post(alice_api, LIST, document).json()
    assert (created["status"]["state"], created["status"]["createdBy"]) == ("ready", "alice")


def test_creating_a_name_the_project_has_is_409(alice_api):
    document = new_document()
    document["metadata"]["name"] = "team-notebook"
    before = database_state()
    response = post(alice_api, LIST, document)
    assert response.status_code == 409
    assert database_state() == before


def test_a_409_is_a_status_document(alice_api):
    document = new_document()
    document["metadata"]["name"] = "team-notebook"
    body = post(alice_api, LIST, document).json()
    assert (body["kind"], body["code"], body["reason"]) == ("Status", 409, "Conflict")


# SPEC §6: bad input, field by field --------------------------------------------------------


def _input(document: dict, name: str) -> dict:
    return next(i for i in document["spec"]["inputs"] if i["name"] == name)


def _set(path: str, value):
    """A change to a document: set the value at a dotted path (``[i]`` for list items)."""

    def change(document: dict) -> None:
        target = document
        *parents, last = path.replace("[", ".").replace("]", "").split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


def _delete(path: str):
    def change(document: dict) -> None:
        *parents, last = path.split(".")
        target = document
        for part in parents:
            target = target[part]
        del target[last]

    return change


def _set_input(name: str, **fields):
    def change(document: dict) -> None:
        _input(document, name).update(fields)

    return change


def _inputs(*items):
    return _set("spec.inputs", list(items))


# (id, change, the field path the error must name); inputs are, in order: notebook_profile,
# image, gpu_count, enable_ssh, region, hf_token.
BAD_DOCUMENTS = [
    ("unknown-top-level-field", _set("replicas", 2), "replicas"),
    ("unknown-metadata-field", _set("metadata.owner", "me"), "metadata.owner"),
    ("unknown-spec-field", _set("spec.gpuClass", "a100"), "spec.gpuClass"),
    ("wrong-api-version", _set("apiVersion", "paas.envmgmt.io/v2"), "apiVersion"),
    ("wrong-kind", _set("kind", "EnvironmentTemplate"), "kind"),
    ("missing-metadata", _delete("metadata"), "metadata"),
    ("missing-spec", _delete("spec"), "spec"),
    ("missing-name", _delete("metadata.name"), "metadata.name"),
    ("missing-display-name", _delete("metadata.displayName"), "metadata.displayName"),
    ("missing-template", _delete("spec.environmentTemplate"), "spec.environmentTemplate"),
    ("display-name-a-list", _set("metadata.displayName", ["A"]), "metadata.displayName"),
    ("display-name-blank", _set("metadata.displayName", ""), "metadata.displayName"),
    ("display-name-too-long", _set("metadata.displayName", "x" * 101), "metadata.displayName"),
    ("description-too-long", _set("metadata.description", "x" * 2001), "metadata.description"),
    ("revision-not-a-number", _set("metadata.revision", "three"), "metadata.revision"),
    ("labels-a-list", _set("metadata.labels", ["team"]), "metadata.labels"),
    ("label-value-an-object", _set("metadata.labels", {"team": {"a": 1}}), "metadata.labels.team"),
    ("inputs-an-object", _set("spec.inputs", {"name": "image"}), "spec.inputs"),
    ("outputs-a-string", _set("spec.outputs", "url"), "spec.outputs"),
    ("sharing-a-string", _set("spec.sharing", "all"), "spec.sharing"),
    ("unknown-service-type", _set("spec.serviceType", "gaming"), "spec.serviceType"),
    ("name-with-capitals", _set("metadata.name", "New-Notebook"), "metadata.name"),
    ("name-with-underscore", _set("metadata.name", "new_notebook"), "metadata.name"),
    ("name-starting-with-a-digit", _set("metadata.name", "1-notebook"), "metadata.name"),
    ("name-ending-with-a-hyphen", _set("metadata.name", "notebook-"), "metadata.name"),
    ("name-too-long", _set("metadata.name", "n" * 64), "metadata.name"),
    ("label-key-with-a-space", _set("metadata.labels", {"my team": "ml"}), "metadata.labels"),
    ("label-key-prefix-not-dns", _set("metadata.labels", {"Ex.com/a": "b"}), "metadata.labels"),
    ("label-value-too-long", _set("metadata.labels", {"team": "m" * 64}), "metadata.labels"),
    ("label-value-with-a-slash", _set("metadata.labels", {"team": "a/b"}), "metadata.labels"),
    ("annotation-key-invalid", _set("metadata.annotations", {"-x": "y"}), "metadata.annotations"),
    (
        "annotations-over-256-kib",
        _set("metadata.annotations", {"notes": "x" * 256 * 1024}),
        "metadata.annotations",
    ),
    ("readme-over-256-kib", _set("spec.readme", "x" * (256 * 1024 + 1)), "spec.readme"),
    ("icon-url-ftp", _set("spec.iconURL", "ftp://example.com/a.svg"), "spec.iconURL"),
    ("icon-url-javascript", _set("spec.iconURL", "javascript:alert(1)"), "spec.iconURL"),
    ("icon-url-relative", _set("spec.iconURL", "/icons/a.svg"), "spec.iconURL"),
    ("extra-config-bad-key", _set("spec.extraConfig", {"1BAD": "x"}), "spec.extraConfig"),
    (
        "unknown-template",
        _set("spec.environmentTemplate", {"name": "nope", "version": "v1"}),
        "spec.environmentTemplate.name",
    ),
    (
        "template-of-another-project",
        _set("spec.environmentTemplate", {"name": "research-only", "version": "v1"}),
        "spec.environmentTemplate.name",
    ),
    (
        "unknown-version",
        _set("spec.environmentTemplate.version", "v9"),
        "spec.environmentTemplate.version",
    ),
    (
        "draft-version",
        _set("spec.environmentTemplate.version", "v2"),
        "spec.environmentTemplate.version",
    ),
    (
        "disabled-version",
        _set("spec.environmentTemplate.version", "v3"),
        "spec.environmentTemplate.version",
    ),
    ("unknown-input", _inputs({"name": "nope"}), "spec.inputs[0].name"),
    (
        "input-listed-twice",
        _inputs({"name": "image"}, {"name": "image"}),
        "spec.inputs[1].name",
    ),
    ("number-not-a-number", _set_input("gpu_count", value="many"), "spec.inputs[2].value"),
    ("boolean-not-a-boolean", _set_input("enable_ssh", value="maybe"), "spec.inputs[3].value"),
    (
        "restricted-values-not-a-subset",
        _set_input(
            "notebook_profile", override={"type": "restricted", "restrictedValues": ["jax"]}
        ),
        "spec.inputs[0].override.restrictedValues",
    ),
    (
        "restricted-values-empty",
        _set_input("notebook_profile", override={"type": "restricted", "restrictedValues": []}),
        "spec.inputs[0].override.restrictedValues",
    ),
    (
        "restricted-default-outside-the-list",
        _set_input("notebook_profile", value="tensorflow"),
        "spec.inputs[0].value",
    ),
    (
        "loosening-a-restriction",
        _set_input("notebook_profile", override={"type": "allowed"}),
        "spec.inputs[0].override.type",
    ),
    ("loosening-required", _set_input("gpu_count", required=False), "spec.inputs[2].required"),
    ("changing-a-fixed-value", _set_input("region", value="eu-west"), "spec.inputs[4].value"),
    (
        "allowing-a-fixed-value",
        _set_input("region", override={"type": "allowed"}),
        "spec.inputs[4].override.type",
    ),
    ("loosening-sensitive", _set_input("hf_token", sensitive=False), "spec.inputs[5].sensitive"),
    ("unknown-output", _set("spec.outputs", [{"name": "nope"}]), "spec.outputs[0].name"),
    (
        "output-listed-twice",
        _set("spec.outputs", [{"name": "url"}, {"name": "url"}]),
        "spec.outputs[1].name",
    ),
    (
        "sensitive-output-made-plain",
        _set("spec.outputs[1].sensitive", False),
        "spec.outputs[1].sensitive",
    ),
    (
        "sharing-with-an-unknown-project",
        _set("spec.sharing.projects", ["research", "nowhere"]),
        "spec.sharing.projects[1]",
    ),
    ("sharing-selected-with-nobody", _set("spec.sharing.projects", []), "spec.sharing.projects"),
    (
        "sharing-with-itself",
        _set("spec.sharing.projects", ["platform"]),
        "spec.sharing.projects",
    ),
    (
        "sharing-into-the-system-catalog",
        _set("spec.sharing.projects", ["system-catalog"]),
        "spec.sharing.projects",
    ),
    (
        "sharing-with-all-and-a-list",
        _set("spec.sharing", {"type": "all", "projects": ["research"]}),
        "spec.sharing.projects",
    ),
    ("unknown-sharing-type", _set("spec.sharing.type", "some"), "spec.sharing.type"),
    ("another-projects-document", _set("metadata.project", "research"), "metadata.project"),
    ("named-as-the-new-profile-page", _set("metadata.name", "new"), "metadata.name"),
]

BAD_DOCUMENT_BUGS: dict = {}


def bad_document_params():
    for case_id, change, field in BAD_DOCUMENTS:
        marks = [BAD_DOCUMENT_BUGS[case_id]] if case_id in BAD_DOCUMENT_BUGS else []
        yield pytest.param(change, field, id=case_id, marks=marks)


@pytest.fixture
def versions(projects, notebook_version):
    """jupyter-notebook gets a draft v2 and a disabled v3; research has a template of its own."""
    template = notebook_version.template
    make_template(template.project, template.name, version="v2", state="draft")
    make_template(template.project, template.name, version="v3", state="disabled")
    make_template(projects["research"], "research-only")


@pytest.mark.parametrize(("change", "field"), list(bad_document_params()))
def test_a_bad_document_is_400_naming_the_field(alice_api, versions, change, field):
    document = new_document()
    change(document)
    response = post(alice_api, LIST, document)
    assert response.status_code == 400
    assert field in causes(response)


@pytest.mark.parametrize(("change", "field"), list(bad_document_params()))
def test_a_bad_document_saves_nothing(alice_api, versions, change, field):
    document = new_document()
    change(document)
    before = database_state()
    post(alice_api, LIST, document)
    assert database_state() == before


def test_every_problem_of_a_document_is_named_at_once(alice_api):
    document = new_document()
    document["metadata"]["name"] = "Bad_Name"
    document["spec"]["iconURL"] = "ftp://example.com/icon.svg"
    response = post(alice_api, LIST, document)
    assert {"metadata.name", "spec.iconURL"} <= set(causes(response))


def test_a_400_is_a_status_document(alice_api):
    document = new_document()
    document["spec"]["serviceType"] = "gaming"
    assert post(alice_api, LIST, document).json() == {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "Status",
        "status": "Failure",
        "code": 400,
        "reason": "Invalid",
        "message": "The document is invalid.",
        "details": {
            "causes": [{"field": "spec.serviceType", "message": '"gaming" is not a valid choice.'}]
        },
    }


def test_an_unknown_field_is_refused_not_dropped(alice_api):
    document = new_document()
    document["metadata"]["lables"] = {"team": "ml"}
    response = post(alice_api, LIST, document)
    assert causes(response) == {"metadata.lables": "This field is not part of the document."}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(
            _set_input("image", colour="green"), "spec.inputs[1].colour", id="unknown-field"
        ),
        pytest.param(
            _set_input("enable_ssh", required="perhaps"),
            "spec.inputs[3].required",
            id="wrong-type",
        ),
        pytest.param(
            _set("spec.sharing.projects", ["research", ""]),
            "spec.sharing.projects[1]",
            id="blank-project",
        ),
        pytest.param(
            _set("spec.outputs[0].description", "x" * 2001),
            "spec.outputs[0].description",
            id="too-long",
        ),
    ],
)
def test_shape_errors_in_a_list_name_the_item_by_index(alice_api, change, field):
    document = new_document()
    change(document)
    assert list(causes(post(alice_api, LIST, document))) == [field]


def test_a_label_given_twice_in_json_is_400(alice_api):
    text = json.dumps(new_document()).replace('"labels": {', '"labels": {"team": "vision", ', 1)
    before = database_state()
    response = post(alice_api, LIST, text)
    assert response.status_code == 400
    assert database_state() == before


def test_a_label_given_twice_in_yaml_is_400(alice_api):
    text = yaml.safe_dump(new_document(), sort_keys=False).replace(
        "  labels:\n", "  labels:\n    team: vision\n", 1
    )
    before = database_state()
    response = post(alice_api, LIST, text, content_type="application/yaml")
    assert response.status_code == 400
    assert database_state() == before


def test_a_value_with_a_nul_character_is_400(alice_api):
    document = new_document()
    _input(document, "image")["value"] = "nvcr.io/\x00evil"
    response = post(alice_api, LIST, document)
    assert "spec.inputs[1].value" in causes(response)


@pytest.mark.parametrize(
    "body",
    ["[]", '"a profile"', "42", "null"],
    ids=["list", "string", "number", "null"],
)
def test_a_body_that_is_not_an_object_is_400(alice_api, body):
    response = post(alice_api, LIST, body)
    assert response.status_code == 400
    assert response.json()["kind"] == "Status"


def test_malformed_json_is_400(alice_api):
    response = post(alice_api, LIST, '{"apiVersion": ')
    assert response.status_code == 400
    assert response.json()["message"].startswith("The body is not valid JSON")


def test_malformed_yaml_is_400(alice_api):
    response = post(alice_api, LIST, "metadata: [unclosed", content_type="application/yaml")
    assert response.status_code == 400
    assert response.json()["message"].startswith("The body is not valid YAML")


def test_deeply_nested_yaml_is_400_not_a_crash(alice_api):
    text = "[" * 1500 + "]" * 1500
    response = post(alice_api, LIST, text, content_type="application/yaml")
    assert response.status_code == 400


def test_deeply_nested_json_is_400_not_a_crash(alice_api):
    response = post(alice_api, LIST, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400


def test_a_yaml_integer_too_long_for_python_is_400(alice_api):
    text = yaml.safe_dump(new_document(), sort_keys=False).replace(
        "value: nvcr.io/nvidia/pytorch:24.10-py3", "value: " + "1" * 5000, 1
    )
    response = post(alice_api, LIST, text, content_type="application/yaml")
    assert response.status_code == 400


def alias_bomb(levels: int) -> str:
    """A YAML list of 10**levels strings, written in a few hundred bytes with aliases."""
    bomb = "&a0 [" + ", ".join(["x"] * 10) + "]"
    for level in range(1, levels):
        bomb = f"[{bomb}, &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]]"
    return bomb


def test_a_yaml_alias_bomb_is_refused(alice_api):
    text = yaml.safe_dump(new_document(), sort_keys=False).replace(
        "value: nvcr.io/nvidia/pytorch:24.10-py3", "value: " + alias_bomb(6), 1
    )
    before = database_state()
    response = post(alice_api, LIST, text, content_type="application/yaml")
    assert response.status_code == 400
    assert database_state() == before


def test_an_unsupported_content_type_is_415(alice_api):
    response = post(alice_api, LIST, "name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["reason"] == "UnsupportedMediaType"


def test_an_unacceptable_accept_header_is_406(alice_api):
    response = alice_api.get(LIST, headers={"Accept": "text/html"})
    assert response.status_code == 406


# 413 ------------------------------------------------------------------------------------------


def oversized_document() -> dict:
    document = new_document()
    document["metadata"]["annotations"] = {f"note-{i}": "x" * 1024 for i in range(1100)}
    return document


def test_a_body_over_the_limit_is_413(alice_api):
    response = post(alice_api, LIST, oversized_document())
    assert response.status_code == 413


def test_a_413_is_a_status_document_giving_the_limit(alice_api):
    body = post(alice_api, LIST, oversized_document()).json()
    assert (body["kind"], body["code"], body["reason"]) == ("Status", 413, "RequestEntityTooLarge")
    assert body["message"] == "The request body may be at most 1,048,576 bytes."


def test_a_body_over_the_limit_saves_nothing(alice_api):
    before = database_state()
    post(alice_api, LIST, oversized_document())
    assert database_state() == before


def test_a_yaml_body_over_the_limit_is_413(alice_api):
    text = yaml.safe_dump(oversized_document())
    assert post(alice_api, LIST, text, content_type="application/yaml").status_code == 413


def test_a_replace_over_the_limit_is_413_and_changes_nothing(alice_api):
    document = current(alice_api)
    document.pop("status")
    document["metadata"]["annotations"] = oversized_document()["metadata"]["annotations"]
    before = database_state()
    assert put(alice_api, TEAM, document).status_code == 413
    assert database_state() == before


def test_the_size_limit_is_a_setting(alice_api, settings):
    settings.API_MAX_BODY_BYTES = 1000
    assert post(alice_api, LIST, new_document()).status_code == 413


# YAML -----------------------------------------------------------------------------------------


def test_yaml_is_given_when_asked_for(alice_api):
    response = alice_api.get(TEAM, headers={"Accept": "application/yaml"})
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(response.content) == alice_api.get(TEAM).json()


def test_yaml_is_given_for_format_yaml(alice_api):
    response = alice_api.get(TEAM, {"format": "yaml"})
    assert yaml.safe_load(response.content)["kind"] == "ServiceProfile"


def test_yaml_keeps_the_document_order(alice_api):
    response = alice_api.get(TEAM, headers={"Accept": "application/yaml"})
    assert list(yaml.safe_load(response.content)) == [
        "apiVersion",
        "kind",
        "metadata",
        "spec",
        "status",
    ]


def test_a_multi_line_readme_is_a_literal_block_in_yaml(alice_api):
    ServiceProfile.objects.filter(name="team-notebook").update(readme="# Title\n\nBody\n")
    response = alice_api.get(TEAM, headers={"Accept": "application/yaml"})
    assert "  readme: |\n    # Title\n\n    Body\n" in response.content.decode()


def test_a_yaml_document_creates_a_profile(alice_api):
    text = yaml.safe_dump(new_document(), sort_keys=False)
    response = post(alice_api, LIST, text, content_type="application/yaml")
    assert response.status_code == 201


def test_errors_come_in_yaml_when_yaml_is_asked_for(alice_api):
    document = new_document()
    document["spec"]["serviceType"] = "gaming"
    response = post(alice_api, LIST, document, headers={"Accept": "application/yaml"})
    body = yaml.safe_load(response.content)
    assert body["kind"] == "Status"
    assert body["details"]["causes"][0]["field"] == "spec.serviceType"


def test_yaml_tags_that_build_python_objects_are_refused(alice_api):
    text = "!!python/object/apply:os.system ['true']"
    assert post(alice_api, LIST, text, content_type="application/yaml").status_code == 400


def test_a_yaml_date_where_text_belongs_is_400(alice_api):
    text = yaml.safe_dump(new_document(), sort_keys=False).replace(
        "displayName: New Notebook", "displayName: 2026-11-29", 1
    )
    response = post(alice_api, LIST, text, content_type="application/yaml")
    assert "metadata.displayName" in causes(response)


# Replacing (PUT) and the stale-write check ----------------------------------------------------


def replacement(client: Client, **metadata) -> dict:
    """team-notebook's current document, ready to PUT back, with metadata changes."""
    document = current(client)
    document.pop("status")
    document["metadata"].update(metadata)
    return document


def test_a_replace_at_the_current_revision_is_saved(alice_api):
    response = put(alice_api, TEAM, replacement(alice_api, description="Now with RAPIDS."))
    assert response.status_code == 200
    assert response.json()["metadata"]["description"] == "Now with RAPIDS."


def test_a_replace_bumps_the_revision(alice_api):
    response = put(alice_api, TEAM, replacement(alice_api, description="Now with RAPIDS."))
    assert response.json()["metadata"]["revision"] == 2


def test_a_replace_records_what_changed(alice_api):
    put(alice_api, TEAM, replacement(alice_api, description="Now with RAPIDS."))
    event = ProfileEvent.objects.filter(profile_name="team-notebook").first()
    assert (event.action, event.detail) == ("updated", {"changed": ["metadata.description"]})


def test_a_replace_that_changes_nothing_keeps_the_revision(alice_api):
    before = database_state()
    response = put(alice_api, TEAM, replacement(alice_api))
    assert response.json()["metadata"]["revision"] == 1
    assert database_state() == before


def test_a_replace_without_the_secret_keeps_it(alice_api):
    put(alice_api, TEAM, replacement(alice_api, description="Now with RAPIDS."))
    assert InputSetting.objects.get(profile__name="team-notebook", name="hf_token").secret == SECRET


def test_a_replace_with_a_new_secret_stores_it(alice_api):
    document = replacement(alice_api)
    _input(document, "hf_token")["value"] = "hf_rotated"
    put(alice_api, TEAM, document)
    assert InputSetting.objects.get(profile__name="team-notebook", name="hf_token").secret == (
        "hf_rotated"
    )


@pytest.fixture
def stale(alice_api, cast):
    """team-notebook's document at revision 1, after someone else saved revision 2."""
    document = replacement(alice_api, description="Alice's change.")
    profile = ServiceProfile.objects.get(name="team-notebook")
    profile.description = "The admin's change."
    profile.save()
    services.commit_revision(profile=profile, actor=cast["admin"])
    return document


def test_a_stale_replace_is_409(alice_api, stale):
    assert put(alice_api, TEAM, stale).status_code == 409


def test_a_stale_replace_changes_nothing(alice_api, stale):
    before = database_state()
    put(alice_api, TEAM, stale)
    assert database_state() == before


def test_a_stale_replace_says_who_saved_in_between(alice_api, stale):
    message = put(alice_api, TEAM, stale).json()["message"]
    assert message.startswith("admin saved this profile at ")
    assert "(it is now at revision 2)" in message


def test_a_stale_patch_is_409_and_changes_nothing(alice_api, stale):
    before = database_state()
    response = patch(alice_api, TEAM, {"metadata": {"revision": 1, "description": "Mine."}})
    assert response.status_code == 409
    assert database_state() == before


def test_a_replace_cannot_rename_a_profile(alice_api):
    before = database_state()
    response = put(alice_api, TEAM, replacement(alice_api, name="renamed-notebook"))
    assert causes(response) == {"metadata.name": "The unique name cannot be changed."}
    assert database_state() == before


def test_replacing_a_missing_profile_is_404(alice_api):
    document = new_document()
    response = put(alice_api, api_url("platform", "serviceprofiles/new-notebook"), document)
    assert response.status_code == 404


def test_a_bad_replace_changes_nothing(alice_api):
    document = replacement(alice_api, labels={"bad key": "x"})
    before = database_state()
    response = put(alice_api, TEAM, document)
    assert "metadata.labels" in causes(response)
    assert database_state() == before


# Patching (JSON merge patch) -------------------------------------------------------------------


def test_a_patch_changes_only_what_it_names(alice_api):
    before = current(alice_api)
    after = patch(alice_api, TEAM, {"metadata": {"description": "Patched."}}).json()
    assert after["metadata"]["description"] == "Patched."
    assert after["spec"] == before["spec"]
    assert after["metadata"]["displayName"] == before["metadata"]["displayName"]


def test_a_patch_with_null_removes_a_key(alice_api):
    patch(alice_api, TEAM, {"metadata": {"labels": {"team": "ml", "tier": "gold"}}})
    after = patch(alice_api, TEAM, {"metadata": {"labels": {"tier": None}}}).json()
    assert after["metadata"]["labels"] == {"team": "ml"}


def test_a_patch_keeps_the_secret(alice_api):
    patch(alice_api, TEAM, {"metadata": {"description": "Patched."}})
    assert InputSetting.objects.get(profile__name="team-notebook", name="hf_token").secret == SECRET


def test_a_patch_at_the_current_revision_is_saved(alice_api):
    response = patch(alice_api, TEAM, {"metadata": {"revision": 1, "description": "Patched."}})
    assert response.json()["metadata"]["revision"] == 2


def test_a_yaml_patch_is_applied(alice_api):
    response = alice_api.patch(
        TEAM, "metadata:\n  description: From YAML.\n", content_type="application/yaml"
    )
    assert response.json()["metadata"]["description"] == "From YAML."


def test_a_patch_that_is_not_an_object_is_400(alice_api):
    before = database_state()
    response = alice_api.patch(TEAM, "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert database_state() == before


def test_a_patch_with_an_unknown_field_is_400(alice_api):
    response = patch(alice_api, TEAM, {"spec": {"gpuClass": "a100"}})
    assert causes(response) == {"spec.gpuClass": "This field is not part of the document."}


def test_a_patch_cannot_rename_a_profile(alice_api):
    response = patch(alice_api, TEAM, {"metadata": {"name": "renamed"}})
    assert causes(response) == {"metadata.name": "The unique name cannot be changed."}


def test_a_bad_patch_changes_nothing(alice_api):
    before = database_state()
    response = patch(alice_api, TEAM, {"spec": {"iconURL": "javascript:alert(1)"}})
    assert "spec.iconURL" in causes(response)
    assert database_state() == before


# Deleting ------------------------------------------------------------------------------------


def test_delete_answers_204_with_no_body(alice_api):
    response = alice_api.delete(TEAM)
    assert (response.status_code, response.content) == (204, b"")


def test_a_deleted_profile_is_gone(alice_api):
    alice_api.delete(TEAM)
    assert alice_api.get(TEAM).status_code == 404


def test_deleting_twice_is_404(alice_api):
    alice_api.delete(TEAM)
    assert alice_api.delete(TEAM).status_code == 404


def test_the_delete_event_keeps_the_final_document(alice_api):
    final = current(alice_api)
    alice_api.delete(TEAM)
    event = ProfileEvent.objects.get(profile_name="team-notebook", action="deleted")
    assert event.actor_name == "alice"
    assert event.detail["document"]["metadata"] == final["metadata"]


def test_nobody_deletes_a_system_profile_through_a_project(alice_api):
    response = alice_api.delete(api_url("platform", "serviceprofiles/jupyter-notebook"))
    assert response.status_code == 404
    assert ServiceProfile.objects.filter(name="jupyter-notebook").exists()


# Sharing -------------------------------------------------------------------------------------


def test_sharing_reads_none_at_first(alice_api):
    assert alice_api.get(SHARING).json() == {"type": "none", "projects": []}


def test_sharing_with_selected_projects_is_saved(alice_api):
    response = put(alice_api, SHARING, {"type": "selected", "projects": ["research", "finance"]})
    assert response.json() == {"type": "selected", "projects": ["finance", "research"]}
    assert alice_api.get(SHARING).json() == response.json()


def test_sharing_with_all_projects_is_saved(alice_api):
    assert put(alice_api, SHARING, {"type": "all"}).json() == {"type": "all", "projects": []}


def test_changing_sharing_is_a_revision_and_an_event(alice_api):
    put(alice_api, SHARING, {"type": "all"})
    event = ProfileEvent.objects.filter(profile_name="team-notebook").first()
    assert (event.action, event.revision) == ("sharing_changed", 2)


def test_a_profile_shared_with_a_project_appears_in_its_catalog(alice_api, cast):
    put(alice_api, SHARING, {"type": "selected", "projects": ["research"]})
    response = key_client(cast["bob"]).get(api_url("research", "catalog/"))
    assert "team-notebook" in [i["metadata"]["name"] for i in response.json()["items"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "selected", "projects": ["nowhere"]}, "projects[0]"),
        ({"type": "selected", "projects": []}, "projects"),
        ({"type": "selected"}, "projects"),
        ({"type": "selected", "projects": ["platform"]}, "projects"),
        ({"type": "selected", "projects": ["system-catalog"]}, "projects"),
        ({"type": "all", "projects": ["research"]}, "projects"),
        ({"type": "everyone"}, "type"),
        ({}, "type"),
        ({"type": "all", "public": True}, "public"),
        ({"type": "selected", "projects": "research"}, "projects"),
    ],
    ids=[
        "unknown-project",
        "selected-with-nobody",
        "selected-without-a-list",
        "itself",
        "system-catalog",
        "all-with-a-list",
        "unknown-type",
        "no-type",
        "unknown-field",
        "projects-a-string",
    ],
)
def test_bad_sharing_is_400_naming_the_field_and_changes_nothing(alice_api, body, field):
    before = database_state()
    response = put(alice_api, SHARING, body)
    assert response.status_code == 400
    assert field in causes(response)
    assert database_state() == before


def test_sharing_of_a_missing_profile_is_404(alice_api):
    response = alice_api.get(api_url("platform", "serviceprofiles/nothing/sharing"))
    assert response.status_code == 404


# Cloning a system profile ---------------------------------------------------------------------


def test_a_clone_answers_201_with_a_draft_in_the_project(alice_api):
    response = post(alice_api, CLONE, {"name": "my-jupyter"})
    assert response.status_code == 201
    document = response.json()
    assert (document["metadata"]["project"], document["metadata"]["name"]) == (
        "platform",
        "my-jupyter",
    )
    assert document["status"]["state"] == "draft"


def change_profile(name: str, **fields) -> None:
    """Change the only profile called ``name`` as a save does (the catalog reads what saves
    keep)."""
    profile = ServiceProfile.objects.get(name=name)
    for field, value in fields.items():
        setattr(profile, field, value)
    profile.save()


def test_a_clone_named_as_the_new_profile_page_is_refused(alice_api):
    response = post(alice_api, CLONE, {"name": "new"})
    assert response.status_code == 400
    assert list(causes(response)) == ["name"]
    assert not ServiceProfile.objects.filter(name="new").exists()


def test_a_clone_is_not_shared(alice_api):
    change_profile("jupyter-notebook", sharing="all")
    assert post(alice_api, CLONE, {"name": "my-jupyter"}).json()["spec"]["sharing"] == {
        "type": "none"
    }


def test_a_clone_records_where_it_came_from(alice_api):
    post(alice_api, CLONE, {"name": "my-jupyter"})
    event = ProfileEvent.objects.get(profile_name="my-jupyter")
    assert (event.action, event.detail["from"]) == ("cloned", "system-catalog/jupyter-notebook")


def test_a_clone_is_not_in_the_catalog_while_a_draft(alice_api):
    post(alice_api, CLONE, {"name": "my-jupyter"})
    response = alice_api.get(api_url("platform", "catalog/"))
    assert "my-jupyter" not in [i["metadata"]["name"] for i in response.json()["items"]]


def test_cloning_into_a_name_the_project_has_is_409(alice_api):
    before = database_state()
    response = post(alice_api, CLONE, {"name": "team-notebook"})
    assert response.status_code == 409
    assert database_state() == before


@pytest.mark.parametrize(
    "body",
    [
        {"name": "My_Jupyter"},
        {"name": ""},
        {},
        {"name": "ok", "extra": 1},
        {"name": ["a"]},
    ],
    ids=["bad-slug", "blank", "missing", "unknown-field", "a-list"],
)
def test_a_bad_clone_is_400_and_saves_nothing(alice_api, body):
    before = database_state()
    response = post(alice_api, CLONE, body)
    assert response.status_code == 400
    assert database_state() == before


def test_a_bad_clone_name_is_named(alice_api):
    response = post(alice_api, CLONE, {"name": "My_Jupyter"})
    assert list(causes(response)) == ["name"]


def test_cloning_an_unknown_system_profile_is_404(alice_api):
    url = api_url("platform", "systemprofiles/no-such-profile/clone")
    assert post(alice_api, url, {"name": "my-jupyter"}).status_code == 404


def test_only_system_profiles_are_cloned(alice_api):
    url = api_url("platform", "systemprofiles/team-notebook/clone")
    assert post(alice_api, url, {"name": "my-copy"}).status_code == 404


def test_a_draft_system_profile_is_not_cloned(alice_api):
    change_profile("jupyter-notebook", status="draft")
    assert post(alice_api, CLONE, {"name": "my-jupyter"}).status_code == 404


def test_cloning_a_system_profile_on_a_disabled_version_is_400(alice_api, notebook_version):
    notebook_version.state = "disabled"
    notebook_version.save()
    response = post(alice_api, CLONE, {"name": "my-jupyter"})
    assert "spec.environmentTemplate.version" in causes(response)


# Secrets never leave ------------------------------------------------------------------------


def test_a_profile_document_never_carries_a_sensitive_value(alice_api):
    response = alice_api.get(TEAM)
    assert "value" not in _input(response.json(), "hf_token")
    assert SECRET not in response.content.decode()


def test_a_profile_list_never_carries_a_sensitive_value(alice_api):
    assert SECRET not in alice_api.get(LIST).content.decode()


def test_a_yaml_document_never_carries_a_sensitive_value(alice_api):
    assert SECRET not in alice_api.get(TEAM, {"format": "yaml"}).content.decode()


def test_a_script_with_a_member_key_cannot_read_secrets_through_the_catalog(alice_api, cast):
    change_profile("team-notebook", sharing="all")
    response = key_client(cast["bob"]).get(api_url("research", "catalog/"))
    assert SECRET not in response.content.decode()


def test_an_api_key_of_another_user_cannot_replace_alices_profile(alice_api, cast):
    document = replacement(alice_api, description="Dave was here.")
    before = database_state()
    response = put(key_client(cast["dave"]), TEAM, document)
    assert response.status_code == 404
    assert database_state() == before


def test_a_yaml_key_that_is_a_list_is_400(alice_api):
    response = post(alice_api, LIST, "? [a, b]\n: 1\n", content_type="application/yaml")
    assert response.status_code == 400
    assert "a key must be text or a number" in response.json()["message"]
