"""``manage.py apply`` in batches (SPEC §4, as code): a few queries per batch, not per document.

Applying unchanged documents takes as many queries for 60 of them as for 30, a dry run too;
each created profile adds the same few statements, none of them reading what planning needs;
a profile named twice in one apply is applied twice, in order. The sharing rule answered in
Python for a loaded batch agrees with the one in SQL. A readme the profile already has is not
checked again; a changed one is, and one nesting too deeply is refused at ``spec.readme``.
YAML aliases and keys given twice are refused by the command, naming the file.
"""

import json
import re
from collections.abc import Callable

import pytest
import yaml
from django.core.management import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles import applying, readme, services
from profiles.documents import profile_document
from profiles.models import (
    EnvironmentTemplate,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
    Shareable,
)
from profiles.readme import TOO_DEEP, render_readme
from studio.models import Project
from tests.factories import make_profile, make_project, make_template
from tests.test_api_documents import LIST, alice_api, database_state, new_document, post  # noqa: F401
from tests.test_as_code import apply, write
from tests.test_readme_limits import nested_list

# What planning one batch and running the command may take, whatever the batch's size.
MAX_QUERIES_PER_BATCH = 25
# The tables planning reads: whatever a batch holds, each is read once.
PLANNING_TABLES = (
    "studio_project",
    "profiles_environmenttemplate",
    "profiles_environmenttemplate_shared_with",
    "profiles_templateversion",
    "profiles_templatevariable",
    "profiles_templateoutput",
)


def documents(count: int, prefix: str = "batch") -> list[dict]:
    """``count`` valid documents for new platform profiles ``<prefix>-0``, ``<prefix>-1``, …"""
    made = []
    for index in range(count):
        document = new_document()
        document["metadata"]["name"] = f"{prefix}-{index}"
        document["metadata"]["displayName"] = f"Batch {index}"
        made.append(document)
    return made


def statements(run: Callable[[], object]) -> list[str]:
    """The SQL statements ``run`` sends, in order."""
    with CaptureQueriesContext(connection) as captured:
        run()
    return [query["sql"] for query in captured.captured_queries]


def outcomes(lines: list[str]) -> set[str]:
    """What apply said of its profile documents: created, configured, unchanged."""
    return {line.split(" ")[1] for line in lines if line.startswith("serviceprofile/")}


@pytest.fixture
def platform_ready(cast, projects, system, notebook_version):
    """The cast, its projects and the system catalog's jupyter-notebook v1 to build on."""
    return projects


# Queries per batch, not per document -------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["apply", "dry-run"])
def test_unchanged_documents_take_the_same_queries_for_30_as_for_60(
    platform_ready, tmp_path, dry_run
):
    sixty = write(tmp_path / "sixty.yaml", documents(60))
    thirty = write(tmp_path / "thirty.yaml", documents(30))
    apply(sixty)
    lines: list[str] = []
    counts = [
        len(statements(lambda path=path: lines.extend(apply(path, dry_run=dry_run))))
        for path in (thirty, sixty)
    ]
    assert outcomes(lines) == {"unchanged"}
    assert counts[0] == counts[1]
    assert counts[1] < MAX_QUERIES_PER_BATCH


def test_unchanged_documents_cost_queries_by_the_batch(platform_ready, tmp_path, monkeypatch):
    monkeypatch.setattr(applying, "BATCH_SIZE", 20)
    apply(write(tmp_path / "sixty.yaml", documents(60)))
    counts = [
        len(statements(lambda n=n: apply(write(tmp_path / f"{n}.yaml", documents(n)))))
        for n in (20, 40, 60)
    ]
    per_batch = counts[1] - counts[0]
    assert counts[2] - counts[1] == per_batch
    assert 0 < per_batch < MAX_QUERIES_PER_BATCH


def planning_reads(sent: list[str]) -> int:
    """How many of ``sent`` are SELECTs from the tables planning reads."""
    return sum(
        sql.startswith("SELECT") and any(f'FROM "{table}"' in sql for table in PLANNING_TABLES)
        for sql in sent
    )


def test_created_documents_add_no_queries_to_their_batch(platform_ready, tmp_path):
    apply(write(tmp_path / "warm-up.yaml", documents(1, "warm-up")))
    sent = [
        statements(lambda n=n: apply(write(tmp_path / f"{n}.yaml", documents(n, f"new{n}"))))
        for n in (10, 20, 30)
    ]
    assert ServiceProfile.objects.filter(name__startswith="new").count() == 60
    counts = [len(s) for s in sent]
    per_ten = counts[1] - counts[0]
    assert counts[2] - counts[1] == per_ten
    # New profiles of a batch are written together (rows, sharing, inputs, outputs, revisions,
    # events, visibility): ten more documents add no query.
    assert per_ten == 0


def test_each_created_documents_readme_is_rendered_once(platform_ready, tmp_path):
    """Checked when planned and rendered again for its revision: the second is remembered,
    as long as each plan is written before the next is made (a batch holds 200)."""
    sent = documents(30, "readme")
    for index, document in enumerate(sent):
        document["spec"]["readme"] = f"# Readme {index}\n\nIts *own* text.\n"
    readme._rendered.cache_clear()
    apply(write(tmp_path / "readmes.yaml", sent))
    assert readme._rendered.cache_info().misses == 30
    stored = ServiceProfile.objects.get(name="readme-7")
    assert "Readme 7" in stored.readme_html


def test_created_documents_are_planned_from_reads_made_once_per_batch(platform_ready, tmp_path):
    sent = [
        statements(lambda n=n: apply(write(tmp_path / f"{n}.yaml", documents(n, f"new{n}"))))
        for n in (1, 30)
    ]
    assert planning_reads(sent[0]) == planning_reads(sent[1]) > 0


# The same profile named twice ----------------------------------------------------------------


@pytest.fixture
def named_twice(platform_ready, tmp_path):
    """One file naming ``new-notebook`` twice, as "First" and then as "Second"."""
    first, second = new_document(), new_document()
    first["metadata"]["displayName"] = "First"
    second["metadata"]["displayName"] = "Second"
    return write(tmp_path / "twice.yaml", [first, second])


def test_a_profile_named_twice_in_one_apply_takes_the_second(named_twice):
    apply(named_twice)
    assert ServiceProfile.objects.get(name="new-notebook").display_name == "Second"


@pytest.mark.parametrize("how", ["together", "alone"])
def test_a_created_profile_is_whole(platform_ready, alice_api, tmp_path, how):
    """Created in a batch (apply) or alone (the API), a new profile is its revision 1 as a
    revision is taken: the snapshot is the profile as stored, so there is nothing left to
    commit; its readme is rendered, its event recorded, and the project it is shared with
    finds it in its catalog."""
    sent = documents(3, "made")
    if how == "together":
        apply(write(tmp_path / "three.yaml", sent))
    else:
        for document in sent:
            assert post(alice_api, LIST, document).status_code == 201
    for document in sent:
        profile = ServiceProfile.objects.get(name=document["metadata"]["name"])
        (revision,) = profile.revisions.all()
        assert (profile.revision, revision.number) == (1, 1)
        assert revision.document == profile_document(profile)
        assert not services.commit_revision(profile=profile, actor=None)
        assert profile.readme_html == render_readme(profile.readme)
        assert "<em>everything</em>" in profile.readme_html
        assert list(profile.events.values_list("action", "revision")) == [("created", 1)]
        spec, asked = revision.document["spec"], document["spec"]
        for part in ("inputs", "outputs"):
            assert [row["name"] for row in spec[part]] == [row["name"] for row in asked[part]]
        assert (
            spec["sharing"]
            == document["spec"]["sharing"]
            == {
                "type": "selected",
                "projects": ["research"],
            }
        )
    research = ServiceProfile.objects.in_catalog_of(platform_ready["research"])
    assert set(research.filter(name__startswith="made-").values_list("name", flat=True)) == {
        "made-0",
        "made-1",
        "made-2",
    }


def test_a_profile_named_twice_is_reported_created_then_configured(named_twice):
    assert apply(named_twice) == [
        "serviceprofile/platform/new-notebook created",
        "serviceprofile/platform/new-notebook configured",
    ]


def test_a_profile_named_twice_gets_one_revision_for_each(named_twice):
    apply(named_twice)
    profile = ServiceProfile.objects.get(name="new-notebook")
    revisions = ProfileRevision.objects.filter(profile=profile).order_by("number")
    assert [(r.number, r.document["metadata"]["displayName"]) for r in revisions] == [
        (1, "First"),
        (2, "Second"),
    ]
    assert profile.revision == 2
    events = ProfileEvent.objects.filter(profile=profile).values_list("action", flat=True)
    assert sorted(events) == ["created", "updated"]


def test_a_dry_run_of_a_profile_named_twice_names_what_the_second_changes(named_twice):
    assert apply(named_twice, dry_run=True)[:2] == [
        "serviceprofile/platform/new-notebook created",
        "serviceprofile/platform/new-notebook configured (metadata.displayName)",
    ]
    assert not ServiceProfile.objects.filter(name="new-notebook").exists()


# The sharing rule in Python agrees with the one in SQL --------------------------------------

# name -> owning project -> (sharing, the projects it is shared with). Every sharing kind, the
# system catalog, one name in many projects, and two owners whose names sort differently with
# and without the hyphen (team-b, teama): seen_order compares names as Python does.
SHARED = {
    "notebook": {
        "system": ("none", []),
        "platform": ("none", []),
        "research": ("all", []),
        "finance": ("selected", ["platform"]),
        "team-b": ("all", []),
        "teama": ("selected", ["research", "finance"]),
    },
    "runner": {
        "research": ("none", []),
        "finance": ("selected", ["research"]),
        "team-b": ("selected", ["platform", "research"]),
        "teama": ("all", []),
    },
    "solo": {"platform": ("selected", ["finance"])},
    "hidden": {"finance": ("none", [])},
}
VIEWERS = ["system", "platform", "research", "finance", "team-b", "teama", "outsider"]
# Who wins, by viewer: its own, else the system catalog's, else the first owner by name.
SEEN = {
    "notebook": {
        "system": "system",
        "platform": "platform",
        "research": "research",
        "finance": "finance",
        "team-b": "team-b",
        "teama": "teama",
        "outsider": "system",
    },
    "runner": {
        "system": "teama",
        "platform": "team-b",
        "research": "research",
        "finance": "finance",
        "team-b": "team-b",
        "teama": "teama",
        "outsider": "teama",
    },
    "solo": {"platform": "platform", "finance": "platform"},
    "hidden": {"finance": "finance"},
}


def _make_template(owner: Project, name: str, sharing: str, shared_with: list[Project]) -> None:
    template = make_template(owner, name, sharing=sharing).template
    template.shared_with.set(shared_with)


def _make_profile(owner: Project, name: str, sharing: str, shared_with: list[Project]) -> None:
    version = EnvironmentTemplate.objects.get(name="jupyter-notebook").versions.get()
    make_profile(
        owner, name, version=version, status="ready", sharing=sharing, shared_with=shared_with
    )


@pytest.fixture(params=[EnvironmentTemplate, ServiceProfile], ids=["templates", "profiles"])
def model(request) -> type[Shareable]:
    return request.param


@pytest.fixture
def shared(model, platform_ready, system) -> dict[str, Project]:
    """SHARED made as rows of ``model``; every project by name, the system catalog as system."""
    make = _make_template if model is EnvironmentTemplate else _make_profile
    for name in ("team-b", "teama", "outsider"):
        make_project(name)
    projects = {p.name: p for p in Project.objects.all()} | {"system": system}
    for name, owners in SHARED.items():
        for owner, (sharing, targets) in owners.items():
            make(projects[owner], name, sharing, [projects[t] for t in targets])
    return projects


def loaded(model: type[Shareable]) -> list[Shareable]:
    """Every row of ``model`` named in SHARED, loaded as a batch loads them."""
    return list(
        model.objects.filter(name__in=SHARED)
        .select_related("project")
        .prefetch_related("shared_with")
    )


@pytest.mark.parametrize("viewer", VIEWERS)
def test_is_available_to_agrees_with_available_to(model, shared, viewer):
    project = shared[viewer]
    in_python = {row.pk for row in loaded(model) if row.is_available_to(project)}
    in_sql = model.objects.filter(name__in=SHARED).available_to(project)
    assert in_python == set(in_sql.values_list("pk", flat=True))


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("name", SHARED)
def test_seen_order_picks_what_first_as_seen_by_picks(model, shared, viewer, name):
    project = shared[viewer]
    available = [r for r in loaded(model) if r.name == name and r.is_available_to(project)]
    first = model.objects.available_to(project).filter(name=name).first_as_seen_by(project)
    if available:
        assert min(available, key=lambda r: r.seen_order(project)).pk == first.pk
    else:
        assert first is None


def test_seen_order_prefers_own_then_system_then_owner_name(model, shared):
    rows = loaded(model)
    seen = {}
    for name in SHARED:
        for viewer in VIEWERS:
            project = shared[viewer]
            available = [r for r in rows if r.name == name and r.is_available_to(project)]
            if available:
                winner = min(available, key=lambda r: r.seen_order(project)).project
                seen.setdefault(name, {})[viewer] = (
                    "system" if winner.is_system_catalog else winner.name
                )
    assert seen == SEEN


def test_a_loaded_batch_answers_availability_without_queries(
    model, shared, django_assert_num_queries
):
    rows = loaded(model)
    with django_assert_num_queries(0):
        for project in shared.values():
            for row in rows:
                if row.is_available_to(project):
                    row.seen_order(project)


# Readmes: checked when they change ---------------------------------------------------------


@pytest.fixture
def applied(platform_ready, tmp_path) -> dict:
    """``new-notebook``, applied once from new_document(); the document."""
    document = new_document()
    apply(write(tmp_path / "first.yaml", [document]))
    return document


def test_a_second_apply_of_the_same_readme_is_unchanged_and_records_nothing(applied, tmp_path):
    revisions, events = ProfileRevision.objects.count(), ProfileEvent.objects.count()
    assert apply(write(tmp_path / "again.yaml", [applied])) == [
        "serviceprofile/platform/new-notebook unchanged"
    ]
    assert (ProfileRevision.objects.count(), ProfileEvent.objects.count()) == (revisions, events)


def test_a_readme_the_profile_already_has_is_not_checked_again(applied, tmp_path):
    """A readme stored before today's limits: applying it unchanged would be refused if it
    were rendered again."""
    ServiceProfile.objects.filter(name="new-notebook").update(readme=nested_list(250))
    applied["spec"]["readme"] = nested_list(250)
    assert apply(write(tmp_path / "again.yaml", [applied])) == [
        "serviceprofile/platform/new-notebook unchanged"
    ]


@pytest.mark.parametrize("dry_run", [False, True], ids=["apply", "dry-run"])
def test_a_change_beside_a_stored_readme_that_no_longer_renders_is_refused_at_spec_readme(
    applied, tmp_path, dry_run
):
    """The change writes a revision, whose readme must render; it cannot, so the document is
    refused like any other whose readme does not render."""
    ServiceProfile.objects.filter(name="new-notebook").update(readme=nested_list(250))
    applied["spec"]["readme"] = nested_list(250)
    applied["metadata"]["description"] = "Now with a new description."
    path = write(tmp_path / "changed.yaml", [applied])
    before = database_state()
    with pytest.raises(CommandError) as refused:
        apply(path, dry_run=dry_run)
    assert f"{path}[0]: spec.readme: {TOO_DEEP}" in str(refused.value)
    assert database_state() == before


@pytest.mark.parametrize("which", ["changed", "new"])
def test_a_readme_nesting_too_deeply_is_refused_at_spec_readme(applied, tmp_path, which):
    deep = new_document()
    deep["spec"]["readme"] = nested_list(250)
    if which == "new":
        deep["metadata"]["name"] = "another-notebook"
    path = write(tmp_path / "deep.yaml", [documents(1, "good")[0], deep])
    before = database_state()
    with pytest.raises(CommandError, match=r"^Nothing was applied:") as refused:
        apply(path)
    assert f"{path}[1]: spec.readme: {TOO_DEEP}" in str(refused.value)
    assert database_state() == before


# YAML the command refuses, and YAML it reads -------------------------------------------------


def yaml_text(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False)


ALIASES = {
    "mapping": (
        ("  labels:\n", "  labels: &labels\n"),
        ("  annotations:\n    owner: ml-platform@example.com\n", "  annotations: *labels\n"),
    ),
    "scalar": (
        ("  displayName: New Notebook\n", "  displayName: &title New Notebook\n"),
        ("    value: nvcr.io/nvidia/pytorch:24.10-py3\n", "    value: *title\n"),
    ),
    "merge-key": (
        ("  labels:\n", "  labels: &labels\n"),
        (
            "  annotations:\n    owner: ml-platform@example.com\n",
            "  annotations:\n    <<: *labels\n",
        ),
    ),
}


def with_alias(kind: str) -> str:
    text = yaml_text(new_document())
    for old, new in ALIASES[kind]:
        assert old in text
        text = text.replace(old, new, 1)
    return text


@pytest.mark.parametrize("kind", ALIASES)
def test_a_document_with_an_alias_is_refused_naming_the_file(platform_ready, tmp_path, kind):
    path = tmp_path / "aliased.yaml"
    path.write_text(with_alias(kind), encoding="utf-8")
    before = database_state()
    with pytest.raises(CommandError) as refused:
        apply(path)
    assert str(refused.value).startswith(f"{path}: not valid YAML: ")
    assert "aliases (*name) are not accepted" in str(refused.value)
    assert database_state() == before


@pytest.mark.parametrize("kind", ALIASES)
def test_the_aliased_document_expanded_by_hand_applies(platform_ready, tmp_path, kind):
    """What the alias tests refuse is the alias alone: the same document, written out, is fine."""
    expanded = json.loads(json.dumps(yaml.safe_load(with_alias(kind))))  # no shared nodes left
    path = write(tmp_path / "expanded.yaml", [expanded])
    assert apply(path) == ["serviceprofile/platform/new-notebook created"]


KEYS_TWICE = {
    "metadata.displayName": (
        "  displayName: New Notebook\n",
        "  displayName: New Notebook\n  displayName: Second Name\n",
        "the key 'displayName' is given twice",
        7,
    ),
    "spec.labels.team": (
        "    team: ml\n",
        "    team: ml\n    team: vision\n",
        "the key 'team' is given twice",
        10,
    ),
}


@pytest.mark.parametrize("key", KEYS_TWICE)
def test_a_key_given_twice_is_refused_naming_the_key_and_its_line(platform_ready, tmp_path, key):
    old, new, message, line = KEYS_TWICE[key]
    first = yaml_text(documents(1, "first")[0])
    second = yaml_text(new_document())
    assert old in second
    path = tmp_path / "twice.yaml"
    path.write_text(first + "---\n" + second.replace(old, new, 1), encoding="utf-8")
    before = database_state()
    with pytest.raises(CommandError) as refused:
        apply(path)
    assert str(refused.value).startswith(f"{path}: not valid YAML: {message}")
    assert f"line {first.count(chr(10)) + 1 + line}," in str(refused.value)
    assert database_state() == before


PLAIN = """\
# Two profiles, written by hand.
apiVersion: paas.envmgmt.io/v1
kind: ServiceProfile
metadata:
  name: hand-written
  project: platform
  displayName: "Hand: written"
  description: >-
    Folded onto
    one line.
  labels: {team: ml, example.com/tier: gold}
spec:
  environmentTemplate: {name: jupyter-notebook, version: v1}
  serviceType: notebook
  readme: |
    # Hand written

    - one
    - two
  inputs:
    - {name: gpu_count, value: 2}
    - name: enable_ssh
      value: true
    - name: notebook_profile
      override:
        type: restricted
        restrictedValues: [pytorch, rapids]
---
apiVersion: paas.envmgmt.io/v1
kind: ServiceProfile
metadata: {name: second-hand, project: platform, displayName: Second hand}
spec:
  environmentTemplate: {name: jupyter-notebook, version: v1}
  serviceType: jobs
...
"""


def test_plain_hand_written_documents_apply(platform_ready, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN, encoding="utf-8")
    assert apply(path) == [
        "serviceprofile/platform/hand-written created",
        "serviceprofile/platform/second-hand created",
    ]
    profile = ServiceProfile.objects.get(name="hand-written")
    inputs = {s.name: s for s in profile.inputs.all()}
    assert (profile.display_name, profile.description) == ("Hand: written", "Folded onto one line.")
    assert profile.labels == {"team": "ml", "example.com/tier": "gold"}
    assert profile.readme == "# Hand written\n\n- one\n- two\n"
    assert (inputs["gpu_count"].value, inputs["enable_ssh"].value) == ("2", "true")
    assert inputs["notebook_profile"].restricted_values == ["pytorch", "rapids"]
    assert ServiceProfile.objects.get(name="second-hand").service_type == "jobs"


def test_plain_documents_applied_again_are_unchanged(platform_ready, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN, encoding="utf-8")
    apply(path)
    assert outcomes(apply(path)) == {"unchanged"}


def test_an_error_in_plain_yaml_still_names_its_place(platform_ready, tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN.replace("serviceType: jobs", "serviceType: gaming"), encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape(f"{path}[1]: spec.serviceType: ")):
        apply(path)
