"""Profiles as code: ``manage.py export`` and ``manage.py apply`` (SPEC §4).

Round trip: export a project, delete its profiles, apply the export, export again, and the two
exports are equal; a second apply reports every document unchanged. ``apply`` checks every
document before keeping anything, is all-or-nothing, names file, document index and field
path in its errors, and ``--dry-run`` shows the fields that would change, changing nothing.
"""

import io
import re

import pytest
import yaml
from django.core.management import CommandError, call_command

from profiles.models import (
    EnvironmentTemplate,
    InputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
)
from tests.factories import make_profile, make_template
from tests.test_api_documents import database_state

SECRET = "hf_profile_secret"


def export(path, project: str = "platform", *args: str) -> str:
    call_command("export", "--project", project, *args, "-o", str(path), stderr=io.StringIO())
    return path.read_text(encoding="utf-8")


def apply(*paths, dry_run: bool = False, **options) -> list[str]:
    """``apply -f`` each path; the lines it printed."""
    out = io.StringIO()
    args = [arg for path in paths for arg in ("-f", str(path))]
    args += ["--dry-run"] if dry_run else []
    call_command("apply", *args, stdout=out, **options)
    return out.getvalue().splitlines()


def write(path, documents: list[dict]):
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return path


def delete_profiles(project: str = "platform") -> None:
    ServiceProfile.objects.filter(project__name=project).delete()


@pytest.fixture
def estate(cast, projects, system, notebook_version):
    """platform: a rich shared profile, one on its own template, a plain one; research: one."""
    platform, research = projects["platform"], projects["research"]
    make_profile(
        platform,
        "acme-notebook",
        display_name="ACME Notebook",
        description="GPU notebook with the team's libraries.",
        version=notebook_version,
        status="ready",
        service_type="notebook",
        icon_url="https://example.com/jupyter.svg",
        readme="# ACME Notebook\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n",
        labels={"team": "ml", "example.com/tier": "gold"},
        annotations={"owner": "ml-platform@example.com", "notes": "line one\nline two"},
        extra_config={"PIP_INDEX_URL": "https://pypi.example.com/simple"},
        sharing="selected",
        shared_with=[research, projects["finance"]],
        inputs={
            "notebook_profile": {
                "value": "rapids",
                "override": "restricted",
                "restricted_values": ["pytorch", "rapids"],
                "display_name": "Notebook profile",
                "description": "Libraries pre-installed in the notebook.",
            },
            "gpu_count": {"value": "2"},
            "enable_ssh": {"value": "true", "override": "notallowed"},
            "hf_token": {"value": SECRET},
        },
        outputs={"token": {"display_name": "Access token"}},
        actor=cast["alice"],
    )
    own = make_template(
        platform,
        "team-template",
        variables=[
            {"name": "size", "value_type": "number", "value": "1", "description": "Nodes."},
            {"name": "config", "value_type": "json", "value": '{"a": [1, 2]}'},
            {"name": "api_key", "sensitive": True, "value": "template-key"},
        ],
        outputs=[{"name": "url", "description": "Where it runs"}],
    )
    make_profile(platform, "own-service", version=own, status="ready", service_type="custom")
    make_profile(platform, "batch-runner", version=notebook_version, status="ready")
    make_profile(research, "research-notebook", version=notebook_version, status="ready")
    return cast


# Export ------------------------------------------------------------------------------------


def test_export_writes_one_document_per_profile_in_name_order(estate, tmp_path):
    documents = list(yaml.safe_load_all(export(tmp_path / "platform.yaml")))
    assert [d["metadata"]["name"] for d in documents] == [
        "acme-notebook",
        "batch-runner",
        "own-service",
    ]


def test_export_leaves_out_revision_and_status(estate, tmp_path):
    document = next(yaml.safe_load_all(export(tmp_path / "platform.yaml")))
    assert "status" not in document
    assert "revision" not in document["metadata"]


def test_export_leaves_out_sensitive_values(estate, tmp_path):
    text = export(tmp_path / "platform.yaml", "platform", "--templates")
    assert SECRET not in text
    assert "template-key" not in text


def test_export_with_secrets_includes_them(estate, tmp_path):
    text = export(tmp_path / "platform.yaml", "platform", "--templates", "--include-secrets")
    assert SECRET in text
    assert "template-key" in text


def test_export_with_templates_puts_the_projects_own_templates_first(estate, tmp_path):
    documents = list(yaml.safe_load_all(export(tmp_path / "all.yaml", "platform", "--templates")))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents][:2] == [
        ("EnvironmentTemplate", "team-template"),
        ("ServiceProfile", "acme-notebook"),
    ]


def test_export_of_named_profiles_only(estate, tmp_path):
    text = export(tmp_path / "one.yaml", "platform", "batch-runner")
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(text)] == ["batch-runner"]


def test_export_of_a_missing_profile_is_an_error(estate, tmp_path):
    with pytest.raises(CommandError, match="Project platform has no profile named nothing"):
        export(tmp_path / "none.yaml", "platform", "nothing")


def test_export_of_an_unknown_project_is_an_error(estate, tmp_path):
    with pytest.raises(CommandError, match="There is no project “nowhere”"):
        export(tmp_path / "none.yaml", "nowhere")


def test_export_writes_readmes_as_literal_blocks(estate, tmp_path):
    assert "  readme: |\n    # ACME Notebook\n" in export(tmp_path / "platform.yaml")


def test_export_to_stdout_without_o(estate, capsys):
    call_command("export", "--project", "platform", "batch-runner")
    assert yaml.safe_load(capsys.readouterr().out)["metadata"]["name"] == "batch-runner"


# The round trip ------------------------------------------------------------------------------


def test_round_trip_gives_the_same_export(estate, tmp_path):
    first = export(tmp_path / "first.yaml")
    delete_profiles()
    apply(tmp_path / "first.yaml")
    assert export(tmp_path / "second.yaml") == first


def test_round_trip_with_templates_gives_the_same_export(estate, tmp_path):
    first = export(tmp_path / "first.yaml", "platform", "--templates")
    delete_profiles()
    EnvironmentTemplate.objects.filter(project__name="platform").delete()
    apply(tmp_path / "first.yaml")
    assert export(tmp_path / "second.yaml", "platform", "--templates") == first


def test_round_trip_with_secrets_restores_them(estate, tmp_path):
    export(tmp_path / "first.yaml", "platform", "--include-secrets")
    delete_profiles()
    apply(tmp_path / "first.yaml")
    setting = InputSetting.objects.get(profile__name="acme-notebook", name="hf_token")
    assert setting.secret == SECRET


def test_round_trip_reports_every_profile_created(estate, tmp_path):
    export(tmp_path / "first.yaml")
    delete_profiles()
    assert apply(tmp_path / "first.yaml") == [
        "serviceprofile/platform/acme-notebook created",
        "serviceprofile/platform/batch-runner created",
        "serviceprofile/platform/own-service created",
    ]


def test_a_second_apply_reports_every_document_unchanged(estate, tmp_path):
    export(tmp_path / "first.yaml", "platform", "--templates")
    delete_profiles()
    apply(tmp_path / "first.yaml")
    assert apply(tmp_path / "first.yaml") == [
        "environmenttemplate/platform/team-template unchanged",
        "serviceprofile/platform/acme-notebook unchanged",
        "serviceprofile/platform/batch-runner unchanged",
        "serviceprofile/platform/own-service unchanged",
    ]


def test_a_second_apply_writes_nothing(estate, tmp_path):
    export(tmp_path / "first.yaml", "platform", "--templates")
    delete_profiles()
    apply(tmp_path / "first.yaml")
    before = database_state(), list(EnvironmentTemplate.objects.values())
    apply(tmp_path / "first.yaml")
    assert (database_state(), list(EnvironmentTemplate.objects.values())) == before


def test_applying_an_unchanged_export_reports_every_document_unchanged(estate, tmp_path):
    export(tmp_path / "platform.yaml", "platform", "--templates")
    assert {line.rsplit(" ", 1)[1] for line in apply(tmp_path / "platform.yaml")} == {"unchanged"}


def test_applying_an_unchanged_export_keeps_a_draft_a_draft(
    estate, tmp_path, platform, notebook_version
):
    make_profile(platform, "wip", version=notebook_version)
    export(tmp_path / "platform.yaml")
    lines = apply(tmp_path / "platform.yaml")
    assert "serviceprofile/platform/wip unchanged" in lines
    assert ServiceProfile.objects.get(name="wip").status == "draft"


def test_apply_records_the_user_given(estate, tmp_path):
    export(tmp_path / "first.yaml")
    delete_profiles()
    apply(tmp_path / "first.yaml", user="alice")
    assert ProfileEvent.objects.filter(profile_name="batch-runner").first().actor_name == "alice"


def test_apply_with_an_unknown_user_is_an_error(estate, tmp_path):
    export(tmp_path / "first.yaml")
    with pytest.raises(CommandError, match="There is no user “mallory”"):
        apply(tmp_path / "first.yaml", user="mallory")


def test_apply_reads_a_directory_of_files(estate, tmp_path):
    (tmp_path / "docs").mkdir()
    export(tmp_path / "docs" / "a.yaml", "platform", "acme-notebook")
    export(tmp_path / "docs" / "b.yml", "platform", "batch-runner")
    delete_profiles()
    assert apply(tmp_path / "docs") == [
        "serviceprofile/platform/acme-notebook created",
        "serviceprofile/platform/batch-runner created",
    ]


def test_apply_takes_the_project_from_the_option_when_documents_leave_it_out(estate, tmp_path):
    document = next(yaml.safe_load_all(export(tmp_path / "one.yaml", "platform", "batch-runner")))
    del document["metadata"]["project"]
    document["metadata"]["name"] = "copied-runner"
    lines = apply(write(tmp_path / "copy.yaml", [document]), project="research")
    assert lines == ["serviceprofile/research/copied-runner created"]


def test_a_profile_may_build_on_a_template_later_in_the_same_file(estate, tmp_path):
    documents = list(yaml.safe_load_all(export(tmp_path / "all.yaml", "platform", "--templates")))
    delete_profiles()
    EnvironmentTemplate.objects.filter(project__name="platform").delete()
    lines = apply(write(tmp_path / "reversed.yaml", documents[::-1]))
    assert lines[0] == "environmenttemplate/platform/team-template created"


# All or nothing, with errors that say where ------------------------------------------------


@pytest.fixture
def exported(estate, tmp_path):
    """The platform export as documents, the profiles deleted, ready to apply edited copies."""
    documents = list(yaml.safe_load_all(export(tmp_path / "platform.yaml")))
    delete_profiles()
    return documents


def test_a_shape_error_in_one_document_applies_nothing(exported, tmp_path):
    exported[2]["spec"]["serviceType"] = "gaming"
    before = database_state()
    with pytest.raises(CommandError):
        apply(write(tmp_path / "bad.yaml", exported))
    assert database_state() == before


def test_a_domain_error_in_a_later_file_applies_nothing(exported, tmp_path):
    good = write(tmp_path / "a-good.yaml", exported[:2])
    exported[2]["spec"]["inputs"][0]["value"] = "not a number"
    bad = write(tmp_path / "b-bad.yaml", exported[2:])
    before = database_state()
    with pytest.raises(CommandError):
        apply(good, bad)
    assert database_state() == before


def test_an_error_names_file_document_index_and_field_path(exported, tmp_path):
    exported[1]["spec"]["inputs"][0]["override"]["restrictedValues"] = ["jax"]
    path = write(tmp_path / "bad.yaml", exported)
    with pytest.raises(CommandError) as error:
        apply(path)
    assert f"{path}[1]: spec.inputs[0].override.restrictedValues: " in str(error.value)


def test_a_shape_error_names_file_document_index_and_field_path(exported, tmp_path):
    del exported[2]["metadata"]["displayName"]
    path = write(tmp_path / "bad.yaml", exported)
    with pytest.raises(CommandError) as error:
        apply(path)
    assert f"{path}[2]: metadata.displayName: This field is required." in str(error.value)


def test_every_error_of_every_document_is_reported_at_once(exported, tmp_path):
    exported[0]["metadata"]["name"] = "Bad_Name"
    exported[2]["spec"]["iconURL"] = "ftp://example.com/x.svg"
    path = write(tmp_path / "bad.yaml", exported)
    with pytest.raises(CommandError) as error:
        apply(path)
    assert f"{path}[0]: metadata.name: " in str(error.value)
    assert f"{path}[2]: spec.iconURL: " in str(error.value)


def test_an_error_says_nothing_was_applied(exported, tmp_path):
    exported[0]["spec"]["extraConfig"] = {"1BAD": "x"}
    with pytest.raises(CommandError, match=r"^Nothing was applied:"):
        apply(write(tmp_path / "bad.yaml", exported))


def test_an_unknown_field_is_an_error(exported, tmp_path):
    exported[0]["spec"]["gpuClass"] = "a100"
    path = write(tmp_path / "bad.yaml", exported)
    with pytest.raises(CommandError, match=r"bad\.yaml\[0\]: spec\.gpuClass: "):
        apply(path)


def test_an_unknown_kind_is_an_error(estate, tmp_path):
    path = write(tmp_path / "bad.yaml", [{"apiVersion": "paas.envmgmt.io/v1", "kind": "Pod"}])
    with pytest.raises(CommandError, match=r"bad\.yaml\[0\]: kind: "):
        apply(path)


def test_a_document_for_an_unknown_project_is_an_error(exported, tmp_path):
    exported[0]["metadata"]["project"] = "nowhere"
    with pytest.raises(
        CommandError, match=re.escape("metadata.project: there is no project “nowhere”")
    ):
        apply(write(tmp_path / "bad.yaml", exported))


def test_invalid_yaml_is_an_error_naming_the_file(estate, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("metadata: [unclosed\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"broken\.yaml: not valid YAML"):
        apply(path)


def test_a_missing_file_is_an_error(estate, tmp_path):
    with pytest.raises(CommandError, match="no such file or directory"):
        apply(tmp_path / "missing.yaml")


def test_a_file_that_is_not_utf8_is_an_error_naming_it(estate, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("metadata: {displayName: Caf\xe9}\n".encode("latin-1"))
    with pytest.raises(CommandError, match=r"latin1\.yaml"):
        apply(path)


# --dry-run -----------------------------------------------------------------------------------


def test_a_dry_run_shows_the_fields_that_would_change(estate, tmp_path):
    documents = list(yaml.safe_load_all(export(tmp_path / "platform.yaml")))
    documents[1]["metadata"]["description"] = "Now nightly."
    documents[1]["spec"]["serviceType"] = "jobs"
    lines = apply(write(tmp_path / "edited.yaml", documents), dry_run=True)
    assert (
        "serviceprofile/platform/batch-runner configured (metadata.description, spec.serviceType)"
        in lines
    )


def test_a_dry_run_says_so(estate, tmp_path):
    export(tmp_path / "platform.yaml")
    assert apply(tmp_path / "platform.yaml", dry_run=True)[-1] == "(dry run: nothing was changed)"


def test_a_dry_run_changes_nothing(estate, tmp_path):
    documents = list(yaml.safe_load_all(export(tmp_path / "platform.yaml")))
    documents[1]["metadata"]["description"] = "Now nightly."
    documents.append({**documents[2], "metadata": {**documents[2]["metadata"], "name": "new-one"}})
    before = database_state()
    apply(write(tmp_path / "edited.yaml", documents), dry_run=True)
    assert database_state() == before


def test_a_dry_run_reports_a_new_profile_as_created_without_making_it(estate, tmp_path):
    document = next(yaml.safe_load_all(export(tmp_path / "one.yaml", "platform", "batch-runner")))
    document["metadata"]["name"] = "new-runner"
    lines = apply(write(tmp_path / "new.yaml", [document]), dry_run=True)
    assert lines[0] == "serviceprofile/platform/new-runner created"
    assert not ServiceProfile.objects.filter(name="new-runner").exists()


def test_a_dry_run_still_reports_errors(estate, tmp_path):
    document = next(yaml.safe_load_all(export(tmp_path / "one.yaml", "platform", "batch-runner")))
    document["spec"]["environmentTemplate"]["version"] = "v9"
    path = write(tmp_path / "bad.yaml", [document])
    with pytest.raises(CommandError, match=r"bad\.yaml\[0\]: spec\.environmentTemplate\.version"):
        apply(path, dry_run=True)


def test_applying_a_change_bumps_the_revision_once(estate, tmp_path):
    documents = list(yaml.safe_load_all(export(tmp_path / "platform.yaml")))
    documents[1]["metadata"]["description"] = "Now nightly."
    apply(write(tmp_path / "edited.yaml", documents))
    profile = ServiceProfile.objects.get(name="batch-runner")
    assert profile.revision == 2
    assert ProfileRevision.objects.filter(profile=profile).count() == 2
