"""The OpenAPI schema at /apis/schema/: valid, documented, and true of the running API.

``manage.py spectacular --validate --fail-on-warn`` passes; the docs page at /apis/docs/ loads
everything from /static/ (no CDN); and schemathesis, run in-process against the WSGI app with
a superuser's API key over seeded data, finds no server error and no response that breaks the
schema.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import hypothesis
import pytest
import schemathesis
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator
from hypothesis import strategies as st
from schemathesis.generation.value import GeneratedValue

from compute import services as compute
from compute.models import ComputeInstance, Service
from profiles.models import ServiceProfile
from studio.models import ApiKey
from studio.wsgi import application
from tests.factories import make_profile, make_template
from tests.test_compute_instances import HOST_KEY, PRIVATE_KEY

V1 = "/apis/paas.envmgmt.io/v1/projects/"

# The operations the issue asks for, as (path, method).
OPERATIONS = {
    (V1, "get"),
    (V1 + "{project}/serviceprofiles/", "get"),
    (V1 + "{project}/serviceprofiles/", "post"),
    (V1 + "{project}/serviceprofiles/{name}", "get"),
    (V1 + "{project}/serviceprofiles/{name}", "put"),
    (V1 + "{project}/serviceprofiles/{name}", "patch"),
    (V1 + "{project}/serviceprofiles/{name}", "delete"),
    (V1 + "{project}/serviceprofiles/{name}/sharing", "get"),
    (V1 + "{project}/serviceprofiles/{name}/sharing", "put"),
    (V1 + "{project}/systemprofiles/{name}/clone", "post"),
    (V1 + "{project}/environmenttemplates/", "get"),
    (V1 + "{project}/environmenttemplates/{name}", "get"),
    (V1 + "{project}/catalog/", "get"),
    (V1 + "{project}/computeinstances/", "get"),
    (V1 + "{project}/computeinstances/", "post"),
    (V1 + "{project}/computeinstances/{name}", "get"),
    (V1 + "{project}/computeinstances/{name}", "put"),
    (V1 + "{project}/computeinstances/{name}", "patch"),
    (V1 + "{project}/computeinstances/{name}", "delete"),
    (V1 + "{project}/services/", "get"),
    (V1 + "{project}/services/", "post"),
    (V1 + "{project}/services/{name}", "get"),
    (V1 + "{project}/services/{name}", "delete"),
    (V1 + "{project}/services/{name}/runs/", "get"),
}


@pytest.fixture
def signed_in(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def served(signed_in) -> dict:
    """The schema as /apis/schema/ serves it."""
    return yaml.safe_load(signed_in.get("/apis/schema/").content)


def test_the_schema_passes_spectacular_validate_fail_on_warn(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "schema.yaml"),
        ],
        cwd=settings.BASE_DIR,
        env=os.environ | {"DEBUG": os.environ.get("DEBUG", "1")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr) == (0, "")


def test_anonymous_users_get_neither_schema_nor_docs(client, db):
    assert client.get("/apis/schema/").status_code == 401
    assert client.get("/apis/docs/")["Location"] == "/accounts/login/?next=/apis/docs/"


def test_the_schema_is_served_at_apis_schema(signed_in):
    response = signed_in.get("/apis/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")


def test_the_schema_is_openapi_3(served):
    assert served["openapi"].startswith("3.")


def test_the_schema_holds_every_operation_of_the_api(served):
    found = {(path, method) for path, item in served["paths"].items() for method in item}
    assert found == OPERATIONS


def test_every_operation_has_its_own_id_and_a_summary(served):
    operations = [op for item in served["paths"].values() for op in item.values()]
    assert len({op["operationId"] for op in operations}) == len(OPERATIONS)
    assert all(op.get("summary") for op in operations)


def test_the_schema_says_how_to_send_an_api_key(served):
    assert served["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
    }


def test_every_operation_answers_in_json_and_yaml(served):
    media = {
        frozenset(response.get("content", {"application/json": 0, "application/yaml": 0}))
        for item in served["paths"].values()
        for op in item.values()
        for response in op["responses"].values()
    }
    assert media == {frozenset({"application/json", "application/yaml"})}


def test_request_documents_refuse_unknown_keys_in_the_schema(served):
    components = served["components"]["schemas"]
    assert components["ProfileDocumentRequest"].get("additionalProperties") is False
    assert components["InputRequest"].get("additionalProperties") is False


def test_the_patch_operation_documents_its_body(served):
    assert "requestBody" in served["paths"][V1 + "{project}/serviceprofiles/{name}"]["patch"]


def operations(served) -> dict[str, dict]:
    return {op["operationId"]: op for item in served["paths"].values() for op in item.values()}


def error_codes(operation: dict) -> set[int]:
    return {int(code) for code in operation["responses"] if int(code) >= 400}


def test_every_error_response_is_a_status_document(served):
    refs = {
        media["schema"]["$ref"]
        for op in operations(served).values()
        for code, response in op["responses"].items()
        if int(code) >= 400
        for media in response["content"].values()
    }
    assert refs == {"#/components/schemas/Status"}


def test_the_status_component_is_the_error_shape(served):
    status = served["components"]["schemas"]["Status"]
    assert set(status["required"]) == {"apiVersion", "kind", "status", "code", "reason", "message"}
    assert served["components"]["schemas"]["StatusKindEnum"]["enum"] == ["Status"]
    cause = served["components"]["schemas"]["StatusCause"]
    assert set(cause["properties"]) == {"field", "message"}


def test_every_operation_documents_bad_parameters_credentials_accept_and_rate_limit(served):
    assert all({400, 401, 406, 429} <= error_codes(op) for op in operations(served).values())


def test_operations_under_a_project_document_404(served):
    under_project = [
        op for path, item in served["paths"].items() if "{project}" in path for op in item.values()
    ]
    assert under_project
    assert all(404 in error_codes(op) for op in under_project)


def test_403_is_documented_where_members_are_refused_and_only_there(served):
    members_read = {
        "listProjects",
        "listCatalog",
        "listEnvironmentTemplates",
        "getEnvironmentTemplate",
        # What runs: members register instances and launch, see and destroy their services;
        # only changing or removing someone else's instance is refused them.
        "listComputeInstances",
        "createComputeInstance",
        "getComputeInstance",
        "listServices",
        "launchService",
        "getService",
        "destroyService",
        "listServiceRuns",
    }
    refused = {name for name, op in operations(served).items() if 403 in error_codes(op)}
    assert refused == set(operations(served)) - members_read


def test_409_is_documented_where_a_name_is_taken_or_a_revision_stale(served):
    conflicting = {name for name, op in operations(served).items() if 409 in error_codes(op)}
    assert conflicting == {
        "createServiceProfile",
        "replaceServiceProfile",
        "patchServiceProfile",
        "cloneSystemProfile",
        "createComputeInstance",
        "deleteComputeInstance",  # services are live on it
        "launchService",
        "destroyService",  # its run has not finished
    }


def test_413_and_415_are_documented_for_every_operation_with_a_body(served):
    with_body = {name for name, op in operations(served).items() if "requestBody" in op}
    too_large = {name for name, op in operations(served).items() if 413 in error_codes(op)}
    unsupported = {name for name, op in operations(served).items() if 415 in error_codes(op)}
    assert with_body == too_large == unsupported


def test_a_rate_limited_answer_says_when_to_retry(served):
    response = operations(served)["listServiceProfiles"]["responses"]["429"]
    assert response["headers"]["Retry-After"]["schema"]["type"] == "integer"


def test_limit_and_offset_document_their_bounds(served):
    parameters = {p["name"]: p for p in operations(served)["listServiceProfiles"]["parameters"]}
    limit, offset = parameters["limit"]["schema"], parameters["offset"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 500, 50)
    assert (offset["minimum"], offset["maximum"]) == (0, 1_000_000_000)


def test_format_and_service_type_list_their_values(served):
    parameters = {p["name"]: p for p in operations(served)["listCatalog"]["parameters"]}
    assert parameters["format"]["schema"]["enum"] == ["json", "yaml"]
    assert parameters["serviceType"]["schema"]["enum"] == [
        "custom",
        "inference",
        "jobs",
        "notebook",
    ]


def test_the_catalog_documents_profiles_without_their_sharing(served):
    components = served["components"]["schemas"]
    assert "sharing" not in components["CatalogSpec"]["properties"]
    assert "sharing" in components["Spec"]["properties"]


def test_a_profiles_status_is_read_only_in_the_schema(served):
    components = served["components"]["schemas"]
    assert components["ProfileDocument"]["properties"]["status"]["readOnly"] is True
    assert "ignored" in components["ProfileDocumentRequest"]["properties"]["status"]["description"]


def test_a_created_profile_links_to_its_other_operations(served):
    links = operations(served)["createServiceProfile"]["responses"]["201"]["links"]
    assert links["getServiceProfile"]["parameters"] == {
        "project": "$request.path.project",
        "name": "$response.body#/metadata/name",
    }
    assert "deleteServiceProfile" in links


# The docs page ---------------------------------------------------------------------------------


@pytest.fixture
def docs_html(signed_in) -> str:
    response = signed_in.get("/apis/docs/")
    assert response.status_code == 200
    return response.content.decode()


def assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_the_docs_page_is_swagger_ui_on_the_schema(docs_html):
    assert '<div id="swagger-ui"></div>' in docs_html
    assert 'url: "/apis/schema/"' in docs_html


def test_the_docs_page_loads_every_asset_from_static(docs_html):
    assert assets(docs_html)
    assert all(url.startswith(settings.STATIC_URL) for url in assets(docs_html))


def test_the_docs_page_names_no_other_host(docs_html):
    assert re.findall(r"(?:https?:)?//[\w.-]+", docs_html) == []


def test_every_asset_of_the_docs_page_is_shipped(docs_html):
    missing = [
        url for url in assets(docs_html) if not finders.find(url[len(settings.STATIC_URL) :])
    ]
    assert missing == []


def test_the_docs_assets_hold_no_cdn_reference(docs_html):
    scripts = [url for url in assets(docs_html) if url.endswith(".js")]
    text = "".join(
        Path(finders.find(url[len(settings.STATIC_URL) :])).read_text(encoding="utf-8")
        for url in scripts
    )
    assert "cdn.jsdelivr.net" not in text
    assert "unpkg.com" not in text


# Schemathesis ----------------------------------------------------------------------------------

TOKEN = ApiKey.PREFIX + "schemathesis-superuser-key"  # see superuser_key
# alice (admin of platform) and dave (admin of research), in Web Fuzzing Commons' format, with
# the keys workflow_keys makes: peers, who must not read each other's objects.
USERS = Path(__file__).with_name("schemathesis_users.json")
# Every check schemathesis has (status codes, content types, headers, positive and negative
# data, auth, methods, use after free, object-level authorization, ...), with its defaults,
# except where noted.
COMMON = {
    "generation": {"deterministic": True, "database": "none"},
    "checks": {"enabled": True},
}
# Documents the schema allows can still break a domain rule it cannot state (SPEC §3: a
# template the project may not use, a variable the template lacks, a label's syntax, a
# restricted value outside the list, a project named in metadata that is not the URL's):
# those writes answer 400, as documented.
DOMAIN_RULES = {
    "include-operation-id": [
        "createServiceProfile",
        "replaceServiceProfile",
        "patchServiceProfile",
        "replaceServiceProfileSharing",
        "cloneSystemProfile",
        "createComputeInstance",
        "replaceComputeInstance",
        "patchComputeInstance",
        "launchService",
    ],
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
        }
    },
}
CONFIG = schemathesis.Config.from_dict(
    {
        **COMMON,
        # The session cookie the schema also names is left for schemathesis to make up.
        "auth": {"openapi": {"ApiKey": {"api_key": TOKEN}}},
        "phases": {"stateful": {"enabled": False}},  # test_api_workflows_keep_to_the_schema
        # Real objects, so that requests get past the 404 of an unknown project or name.
        "parameters": {"project": "platform", "name": "team-notebook"},
        "operations": [
            {
                "include-operation-id": "getEnvironmentTemplate",
                "parameters": {"project": "platform", "name": "team-template"},
            },
            {
                "include-operation-id": "cloneSystemProfile",
                "parameters": {"project": "platform", "name": "jupyter-notebook"},
            },
            {
                "include-operation-id": [
                    "getComputeInstance",
                    "replaceComputeInstance",
                    "patchComputeInstance",
                    "deleteComputeInstance",
                ],
                "parameters": {"project": "platform", "name": "gpu-box"},
            },
            {
                "include-operation-id": ["getService", "destroyService", "listServiceRuns"],
                "parameters": {"project": "platform", "name": "team-service"},
            },
            {
                # Their coverage phase alone would send some 700 documents each.
                "include-operation-id": ["createServiceProfile", "replaceServiceProfile"],
                "phases": {"coverage": {"enabled": False}},
            },
            DOMAIN_RULES,
        ],
    }
)
# Sequences of calls that follow the schema's links (a created profile, then its other
# operations): where use_after_free, ensure_resource_availability and
# object_level_authorization look.
STATEFUL_CONFIG = schemathesis.Config.from_dict(
    {
        **COMMON,
        "auth": {"wfc": {"path": str(USERS), "peers": ["alice", "dave"]}},
        "phases": {"stateful": {"enabled": True, "inference": {"algorithms": []}}},
        "operations": [DOMAIN_RULES],
    }
)


def load_schema(config: schemathesis.Config):
    """The schema as /apis/schema/ serves it, tested in-process against the WSGI app.

    The schema endpoint is for signed-in users, and no database is open while tests are
    collected: take the document straight from its generator.
    """
    loaded = schemathesis.openapi.from_dict(
        SchemaGenerator().get_schema(request=None, public=True), config=config
    )
    loaded.app = application
    loaded.location = "/apis/schema/"
    # Request documents refuse unknown keys, as the schema says; have responses carry none the
    # schema does not name either.
    for component in loaded.raw_schema["components"]["schemas"].values():
        if "properties" in component:
            component["additionalProperties"] = False
    return loaded


schema = load_schema(CONFIG)
stateful_schema = load_schema(STATEFUL_CONFIG)

NAMES = ["team-notebook", "shared-notebook", "new-notebook"]
TEMPLATES = [
    {"name": "jupyter-notebook", "version": "v1"},
    {"name": "team-template", "version": "v1"},
]


def valid_document(name: str) -> dict:
    """The least a profile needs: what makes a create (or a replace) succeed."""
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ServiceProfile",
        "metadata": {"name": name, "displayName": name.replace("-", " ").title()},
        "spec": {"environmentTemplate": TEMPLATES[0], "serviceType": "notebook"},
    }


def valid_instance(name: str) -> dict:
    """A compute instance document that registers (or replaces) ``name`` in platform."""
    connection = {"type": "ssh", "host": "gpu.example.com", "username": "ubuntu",
                  "privateKey": PRIVATE_KEY, "hostKey": HOST_KEY}  # fmt: skip
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "ComputeInstance",
        "metadata": {"name": name, "displayName": name.replace("-", " ").title()},
        "spec": {"gpus": "1x L4", "connection": connection},
    }


def valid_launch(name: str) -> dict:
    """A service document that launches team-notebook onto gpu-box as ``name``."""
    return {
        "apiVersion": "paas.envmgmt.io/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "serviceProfile": {"name": "team-notebook", "project": "platform"},
            "computeInstance": "gpu-box",
        },
    }


# What runs: a valid document now and then, under a seeded name (409 for a launch) or a new one.
COMPUTE_DOCUMENTS = {
    "createComputeInstance": (valid_instance, "gpu-box"),
    "replaceComputeInstance": (valid_instance, "gpu-box"),
    "launchService": (valid_launch, "team-service"),
}


def before_generate_body(context, strategy):
    """Often a document on a real template under a valid name, so that it reaches the services,
    and sometimes one that is valid throughout, so that writes succeed and workflows go on."""
    operation_id = context.operation.definition.raw.get("operationId", "")
    if operation_id in COMPUTE_DOCUMENTS:
        make, seeded_name = COMPUTE_DOCUMENTS[operation_id]
        names = st.one_of(st.just(seeded_name), st.from_regex(r"\Anew-[a-z0-9]{6}\Z"))

        def valid_now_and_then(body):
            if isinstance(body, GeneratedValue):
                if body.meta is not None:  # a negative case: its mutation must stay as it is
                    return st.just(body)
                return valid_now_and_then(body.value).map(
                    lambda value: dataclasses.replace(body, value=value)
                )
            return st.one_of(st.just(body), names.map(make))

        return strategy.flatmap(valid_now_and_then)
    if operation_id == "patchComputeInstance":
        return strategy  # any object merges into the instance's document

    def real(body):
        if isinstance(body, GeneratedValue):
            if body.meta is not None:  # a negative case: its mutation must stay as it is
                return st.just(body)
            return real(body.value).map(lambda value: dataclasses.replace(body, value=value))
        if not (
            isinstance(body, dict)
            and isinstance(body.get("metadata"), dict)
            and isinstance(body.get("spec"), dict)
        ):
            return st.just(body)
        fuzzed = st.builds(
            lambda name, template: {
                **body,
                "metadata": {**body["metadata"], "name": name},
                "spec": {**body["spec"], "environmentTemplate": template},
            },
            st.sampled_from([*NAMES, body["metadata"].get("name")]),
            st.sampled_from([*TEMPLATES, body["spec"].get("environmentTemplate")]),
        )
        fresh = st.from_regex(r"\Anb-[a-z0-9]{6}\Z")  # so that each workflow creates its own
        return st.one_of(fuzzed, st.one_of(st.sampled_from(NAMES), fresh).map(valid_document))

    return strategy.flatmap(real)


schema.hook(before_generate_body)
stateful_schema.hook(before_generate_body)


@pytest.fixture
def seeded(cast, projects, system, notebook_version):
    """The cast, a system profile, profiles in platform (one shared), a platform template, and
    alice's compute instance ``gpu-box`` with her ``team-service`` running on it."""
    make_profile(system, "jupyter-notebook", version=notebook_version, status="ready")
    team = make_profile(
        projects["platform"],
        "team-notebook",
        version=notebook_version,
        status="ready",
        labels={"team": "ml"},
    )
    make_profile(
        projects["platform"],
        "shared-notebook",
        version=notebook_version,
        status="ready",
        sharing="selected",
        shared_with=[projects["research"]],
    )
    make_template(
        projects["platform"],
        "team-template",
        variables=[{"name": "size", "value_type": "number", "value": "1"}],
        outputs=[{"name": "url"}],
    )
    # What runs: alice's instance in platform, with her team-notebook service deployed on it.
    instance = ComputeInstance.objects.create(
        project=projects["platform"], name="gpu-box", display_name="GPU box", owner=cast["alice"],
        connection="ssh", host="gpu-box.example.com", port=22, username="ubuntu",
        private_key=PRIVATE_KEY, host_key=HOST_KEY,
    )  # fmt: skip
    service = compute.launch(project=projects["platform"], actor=cast["alice"], profile=team,
                             name="team-service", instance=instance, submitted={})  # fmt: skip
    service.runs.update(state="succeeded", exit_code=0, log="deployed\n")
    Service.objects.filter(pk=service.pk).update(
        state="running", outputs=[{"name": "url", "displayName": "URL", "value": "http://x"}]
    )
    return cast


@pytest.fixture
def superuser_key(seeded, settings):
    """The key the schemathesis configs send, for the superuser ``admin``.

    ignored_auth sends bad keys on purpose: the limit on them (429) is off for these runs.
    """
    settings.API_KEY_FAILURE_LIMIT = 0
    ApiKey.objects.create(
        user=seeded["admin"], name="schemathesis", prefix=TOKEN[:12], key_hash=ApiKey.hash(TOKEN)
    )
    return TOKEN


FUZZ_SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,  # examples share the seeded data
        hypothesis.HealthCheck.too_slow,
    ],
)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@FUZZ_SETTINGS
@schema.parametrize()
def test_api_answers_as_its_schema_says(case, superuser_key):
    case.call_and_validate()


SEEDED = ["jupyter-notebook", "team-notebook", "shared-notebook"]


class Workflow(stateful_schema.as_state_machine()):
    """Calls that follow the schema's links, from a profile created (or cloned) in platform."""

    def before_call(self, case) -> None:
        case.path_parameters["project"] = "platform"  # links carry it on from the first call

    def teardown(self) -> None:
        # Each workflow starts from the seeded data, or Hypothesis could not replay one.
        ServiceProfile.objects.exclude(name__in=SEEDED).delete()
        super().teardown()


@pytest.fixture
def workflow_keys(seeded, settings):
    """The keys of schemathesis_users.json, for alice and dave."""
    settings.API_KEY_FAILURE_LIMIT = 0  # as for superuser_key
    for entry in json.loads(USERS.read_text())["auth"]:
        token = entry["fixedHeaders"][0]["value"]
        ApiKey.objects.create(
            user=seeded[entry["name"]],
            name="schemathesis",
            prefix=token[:12],
            key_hash=ApiKey.hash(token),
        )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_api_workflows_keep_to_the_schema(workflow_keys):
    Workflow.run(
        settings=hypothesis.settings(
            FUZZ_SETTINGS, max_examples=30, stateful_step_count=8, derandomize=True
        )
    )
