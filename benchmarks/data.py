"""What the benchmark keeps in its database: the data set, the sign-ins, the documents it applies.

Imported only after ``django.setup()``. The environment templates and the system profiles are
seed_demo's, made through the same code paths as the app's (``tests.factories.make_template``,
``profiles.services.create_profile``); the many other profiles are written with
``bulk_create`` in batches, copying the input and output rows of the system profile on the
same template version, and each gets revision 1 (``profile_document``) and its ``created``
event, as a profile made in the Studio has.
"""

import copy
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from catalog.management.commands.seed_demo import PROFILES, TEMPLATES, system_profiles
from compute.inputs import resolve_inputs
from compute.models import (
    ComputeInstance,
    Connection,
    Run,
    RunAction,
    RunState,
    Service,
    ServiceEvent,
    ServiceState,
)
from profiles import services, visibility
from profiles.choices import Sharing, Status, Step
from profiles.documents import profile_document, profile_secrets
from profiles.exporting import export_documents
from profiles.models import (
    InputSetting,
    OutputSetting,
    ProfileEvent,
    ProfileRevision,
    ServiceProfile,
    TemplateVersion,
)
from profiles.readme import render_readme
from studio.formats import dump_yaml
from studio.models import SYSTEM_CATALOG, ApiKey, Membership, Project
from tests.factories import make_template, system_catalog

BATCH = 2000
VIEWER = "team-000"
MEMBER, ADMIN, ROOT = "bench-member", "bench-admin", "bench-root"
COMPLETE = "gpu-research-notebook"
# The word the searches look for: in the descriptions of about one profile in six, and in some
# readmes.
SEARCH_WORD = "pytorch"
SERVICES = 30
# The unique names of the documents applied as code start with this; no other profile's do.
AS_CODE_PREFIX = "as-code-"
API_KEY_NAME = "load benchmark"

# Sharing before the mix is tuned to the viewer's share: none, all projects, selected projects.
_SHARING_WEIGHTS = {Sharing.NONE: 0.60, Sharing.ALL: 0.145, Sharing.SELECTED: 0.255}
_DRAFT_SHARE = 0.10
_DRAFT_STEPS = [Step.INPUTS, Step.OUTPUTS, Step.SHARING]
_SEED = 13

# Which seed_demo profile (and so template version) a service type builds on, with its weight.
_TYPES = {
    "notebook": (0.40, ["jupyter-notebook"]),
    "inference": (0.25, ["vllm-inference"]),
    "jobs": (0.20, ["batch-job"]),
    "custom": (0.15, ["web-file-server", "bionemo"]),
}
_TITLES = {
    "notebook": ["Notebook", "Lab", "Workbench", "Sandbox", "Research Notebook", "Science Lab"],
    "inference": ["Chat API", "Inference", "Embedding Service", "Transcription API", "Reranker"],
    "jobs": ["Nightly ETL", "Fine-tuning Job", "Batch Evaluation", "Feature Backfill", "Job"],
    "custom": ["Docs Site", "Label Studio", "MLflow Tracking", "Dashboards", "Vector Database"],
}
_SUBJECTS = [
    "PyTorch", "TensorFlow", "RAPIDS", "Llama 3.1", "Mistral", "Whisper", "Genomics",
    "Computer Vision", "Time Series", "Geospatial", "Fraud Detection", "Recommendation",
    "Speech", "Protein Folding", "Retail Forecast", "Document AI",
]  # fmt: skip
_DOMAINS = [
    "research", "finance", "retail", "healthcare", "logistics", "marketing", "security",
    "manufacturing", "energy", "customer support",
]  # fmt: skip
_LIBRARIES = ["PyTorch", "TensorFlow", "JAX", "cuDF and cuML", "Hugging Face Transformers", "vLLM"]
_HARDWARE = ["one A100", "two L40S", "an H100", "four A10G", "eight H100s", "a T4"]
_TIERS = ["gold", "silver", "bronze"]
_ENVIRONMENTS = ["prod", "staging", "dev"]


def _readmes() -> list[str]:
    """A dozen distinct readmes of a few paragraphs each (rendered once each, then reused)."""
    readmes = [spec["readme"] for spec in PROFILES.values()]
    for subject, library in zip(_SUBJECTS[:7], _LIBRARIES * 2, strict=False):
        readmes.append(
            f"# {subject}\n\n"
            f"A ready-made environment for {subject.lower()} work with {library}, kept up to "
            "date by the platform team. Launch it, wait for the service to turn *running*, and "
            "open the URL shown on its page.\n\n"
            "## What you get\n\n"
            f"- {library} with CUDA, matched to the instance's driver\n"
            "- A persistent volume for your data, kept between launches\n"
            "- Logs of every deploy on the service page\n\n"
            "## Getting started\n\n"
            "1. Pick the number of GPUs you need (more GPUs wait longer for a free instance).\n"
            "2. Set your access token if the models you use are gated.\n"
            "3. Launch, then follow the link in the outputs.\n\n"
            "```bash\nnvidia-smi --query-gpu=name,memory.total --format=csv\n```\n\n"
            "## Support\n\n"
            "Ask in the platform team's channel; say which service and when it happened. "
            "Outages and maintenance windows are announced there a week ahead.\n"
        )
    return readmes


@dataclass
class _Plan:
    """The profile rows about to be written, with the projects each selected one is shared
    with (by index into ``rows``)."""

    rows: list[ServiceProfile] = field(default_factory=list)
    targets: dict[int, list[Project]] = field(default_factory=dict)


def _batches(items: Sequence, size: int = BATCH) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _templates() -> dict[tuple[str, str], TemplateVersion]:
    """seed_demo's environment templates in the system catalog, every version."""
    versions = {}
    for name, spec in TEMPLATES.items():
        for version_name, (variables, outputs) in spec["versions"].items():
            versions[name, version_name] = make_template(
                system_catalog(),
                name,
                version=version_name,
                variables=variables,
                outputs=[{"name": n, "description": d, "sensitive": s} for n, d, s in outputs],
                display_name=spec["display_name"],
                description=spec["description"],
                sharing=Sharing.ALL,
            )
    return versions


def _complete_profile(versions: dict, viewer: Project, admin, others: list[Project]):
    """The viewer's own profile with every part filled in, made as the Studio makes one."""
    spec = PROFILES["jupyter-notebook"]
    return services.create_profile(
        project=viewer,
        actor=admin,
        name=COMPLETE,
        display_name="GPU Research Notebook",
        description=(
            "JupyterLab with PyTorch on two GPUs for the research group, with the team's "
            "datasets mounted read-only and an idle timeout that frees the GPUs overnight."
        ),
        template_version=versions["jupyter-notebook", "v2"],
        service_type="notebook",
        icon_url="https://icons.example.com/jupyter.svg",
        readme=_readmes()[-1],
        labels={"team": viewer.name, "tier": "gold", "cost-center": "cc-4100"},
        annotations={"owner": "research-platform@example.com"},
        extra_config={"volume_gib": "200", "mounts": "/datasets"},
        sharing=Sharing.SELECTED,
        shared_with=others,
        status=Status.READY,
        inputs=spec["inputs"]
        | {
            "gpu_count": {"display_name": "GPUs", "value": "2"},
            "idle_timeout_minutes": {"display_name": "Idle timeout (minutes)"},
        },
        outputs=spec["outputs"],
    )


def _users(viewer: Project, projects: list[Project]):
    """bench-member, bench-admin and bench-root, and an admin for every other project (the
    profiles' authors), who cannot sign in."""
    User = get_user_model()
    member = User.objects.create_user(MEMBER, f"{MEMBER}@example.com")
    admin = User.objects.create_user(ADMIN, f"{ADMIN}@example.com")
    root = User.objects.create_superuser(ROOT, f"{ROOT}@example.com")
    Membership.objects.create(user=member, project=viewer, role=Membership.Role.MEMBER)
    Membership.objects.create(user=admin, project=viewer, role=Membership.Role.ADMIN)
    unusable = make_password(None)
    owners = User.objects.bulk_create(
        User(username=f"owner-{p.name}", email=f"owner-{p.name}@example.com", password=unusable)
        for p in projects[1:]
    )
    Membership.objects.bulk_create(
        Membership(user=user, project=project, role=Membership.Role.ADMIN)
        for user, project in zip(owners, projects[1:], strict=True)
    )
    authors = {viewer.pk: admin} | {p.pk: u for p, u in zip(projects[1:], owners, strict=True)}
    return member, admin, root, authors


def _plan(
    rng: random.Random, count: int, projects: list[Project], authors: dict, protos: dict
) -> _Plan:
    """``count`` profile rows over ``projects`` with varied text, types and sharing."""
    readmes = [(text, str(render_readme(text))) for text in _readmes()]
    type_names = list(_TYPES)
    type_weights = [_TYPES[t][0] for t in type_names]
    sharings, sharing_weights = list(_SHARING_WEIGHTS), list(_SHARING_WEIGHTS.values())
    plan = _Plan()
    for n in range(count):
        project = rng.choice(projects)
        service_type = rng.choices(type_names, type_weights)[0]
        proto = protos[rng.choice(_TYPES[service_type][1])]
        subject, domain = rng.choice(_SUBJECTS), rng.choice(_DOMAINS)
        title = rng.choice(_TITLES[service_type])
        description = (
            f"{subject} {title.lower()} for the {domain} team, with {rng.choice(_LIBRARIES)} "
            f"preinstalled on {rng.choice(_HARDWARE)}."
        )
        if rng.random() < 0.5:
            description += (
                " Data stays on the instance's volume between launches; logs are kept for "
                f"{rng.choice([7, 14, 30])} days."
            )
        readme, readme_html = rng.choice(readmes)
        draft = rng.random() < _DRAFT_SHARE
        sharing = rng.choices(sharings, sharing_weights)[0]
        plan.rows.append(
            ServiceProfile(
                project=project,
                name=f"{proto.name}-{n:06d}",
                display_name=f"{subject} {title}",
                description=description,
                template_version=proto.template_version,
                service_type=service_type,
                icon_url=(
                    f"https://icons.example.com/{service_type}.svg" if rng.random() < 0.3 else ""
                ),
                readme=readme,
                readme_html=readme_html,
                labels={
                    "team": project.name,
                    "tier": rng.choice(_TIERS),
                    "environment": rng.choice(_ENVIRONMENTS),
                },
                status=Status.DRAFT if draft else Status.READY,
                wizard_step=rng.choice(_DRAFT_STEPS) if draft else Step.SHARING,
                sharing=sharing,
                created_by=authors[project.pk],
                modified_by=authors[project.pk],
            )
        )
        if sharing == Sharing.SELECTED:
            others = [p for p in rng.sample(projects, 4) if p.pk != project.pk]
            plan.targets[n] = others[: rng.randint(1, 3)]
    return plan


def _tune(rng: random.Random, plan: _Plan, viewer: Project, wanted: int) -> None:
    """Move rows between no sharing and sharing with all projects until exactly ``wanted`` of
    them are in the viewer's catalog."""

    def seen(i: int, row: ServiceProfile) -> bool:
        if row.status != Status.READY:
            return False
        return (
            row.project.pk == viewer.pk
            or row.sharing == Sharing.ALL
            or viewer in plan.targets.get(i, [])
        )

    visible = sum(seen(i, row) for i, row in enumerate(plan.rows))
    order = list(range(len(plan.rows)))
    rng.shuffle(order)
    for i in order:
        row = plan.rows[i]
        if visible == wanted:
            break
        if row.status != Status.READY or row.project.pk == viewer.pk:
            continue
        if visible < wanted and row.sharing == Sharing.NONE:
            row.sharing, visible = Sharing.ALL, visible + 1
        elif visible > wanted and row.sharing == Sharing.ALL:
            row.sharing, visible = Sharing.NONE, visible - 1
    if visible != wanted:
        raise RuntimeError(f"Could not put {wanted} profiles in the viewer's catalog.")


def _copy_settings(created: list[ServiceProfile], protos: list[ServiceProfile]) -> None:
    """The input and output rows of the ``created`` profiles: copies of those of the system
    profile on the same template version, one ``INSERT … SELECT`` per table and version."""
    quote = connection.ops.quote_name
    profiles = quote(ServiceProfile._meta.db_table)
    first, last = created[0].pk, created[-1].pk
    with connection.cursor() as cursor:
        for model in (InputSetting, OutputSetting):
            table = quote(model._meta.db_table)
            owner = model._meta.get_field("profile").column
            columns = [
                quote(f.column)
                for f in model._meta.concrete_fields
                if f.column not in {model._meta.pk.column, owner}
            ]
            for proto in protos:
                cursor.execute(
                    f"INSERT INTO {table} ({quote(owner)}, {', '.join(columns)}) "
                    f"SELECT p.id, {', '.join(f's.{c}' for c in columns)} "
                    f"FROM {profiles} p JOIN {table} s ON s.{quote(owner)} = %s "
                    "WHERE p.id BETWEEN %s AND %s AND p.template_version_id = %s "
                    "ORDER BY p.id, s.id",
                    [proto.pk, first, last, proto.template_version_id],
                )


def _known(queryset: QuerySet, rows: list) -> QuerySet:
    """``queryset`` with its results already known, as ``prefetch_related`` leaves one."""
    queryset._result_cache = rows
    queryset._prefetch_done = True
    return queryset


def _first_revisions(plan: _Plan, created: list[ServiceProfile], protos: list[ServiceProfile]):
    """Revision 1 and the ``created`` event of each profile, as ``commit_revision`` writes.

    The documents are ``profile_document``'s. Each profile's input and output rows are copies
    of its prototype's (see :func:`_copy_settings`), so it is handed those, and the projects
    it is shared with, as prefetched results: ``prefetch_related`` would spend longer building
    a queryset per profile than everything else here.
    """
    inputs, outputs = {}, {}
    for proto in protos:
        version = proto.template_version_id
        inputs[version] = _known(proto.inputs.all(), list(proto.inputs.all()))
        outputs[version] = _known(proto.outputs.all(), list(proto.outputs.all()))
    unshared = _known(Project.objects.none(), [])
    for start, batch in zip(range(0, len(created), BATCH), _batches(created), strict=True):
        revisions, events = [], []
        for i, profile in enumerate(batch, start=start):
            targets = plan.targets.get(i)
            profile._prefetched_objects_cache = {
                "inputs": inputs[profile.template_version_id],
                "outputs": outputs[profile.template_version_id],
                "shared_with": _known(Project.objects.all(), targets) if targets else unshared,
            }
            secrets = profile_secrets(profile)
            revisions.append(
                ProfileRevision(
                    profile=profile,
                    number=1,
                    document=profile_document(profile),
                    secrets=json.dumps(secrets) if secrets else "",
                    author=profile.created_by,
                )
            )
            events.append(
                ProfileEvent(
                    project=profile.project,
                    profile=profile,
                    profile_name=profile.name,
                    action=ProfileEvent.Action.CREATED,
                    revision=1,
                    actor=profile.created_by,
                    actor_name=profile.created_by.get_username() if profile.created_by else "",
                )
            )
            del profile._prefetched_objects_cache
        ProfileRevision.objects.bulk_create(revisions)
        ProfileEvent.objects.bulk_create(events)


def _services(viewer: Project, member, root, profile: ServiceProfile) -> None:
    """SERVICES services of bench-member launched from ``profile``, in a mix of states, with
    their runs and events as workers leave them."""
    instance = ComputeInstance.objects.create(
        project=viewer,
        owner=root,
        name="gpu-workstation",
        display_name="GPU workstation",
        gpus="2x NVIDIA L40S",
        connection=Connection.LOCAL,
    )
    revision = profile.revisions.get(number=profile.revision)
    version = profile.template_version
    value_types = dict(version.variables.values_list("name", "value_type"))
    resolved = resolve_inputs(
        document=revision.document,
        secrets=json.loads(revision.secrets) if revision.secrets else {},
        value_types=value_types,
        submitted={},
    )
    states = (
        [ServiceState.RUNNING] * (SERVICES - 8)
        + [ServiceState.FAILED] * 3
        + [ServiceState.DESTROYED] * 3
        + [ServiceState.DEPLOYING] * 2
    )
    log = "".join(f"[{second:03d}s] pulling layers, starting the server\n" for second in range(60))
    now = timezone.now()
    for number, state in enumerate(states, start=1):
        running = state == ServiceState.RUNNING
        service = Service.objects.create(
            project=viewer,
            owner=member,
            owner_name=member.get_username(),
            name=f"notebook-{number:02d}",
            profile=profile,
            profile_owner=viewer.name,
            profile_name=profile.name,
            revision=revision.number,
            document=revision.document,
            value_types=value_types,
            code_repository=version.code_repository,
            code_path=version.code_path,
            code_revision=version.code_commit or version.code_revision,
            compute_instance=instance,
            instance_name=instance.name,
            inputs=resolved.plain,
            secrets=json.dumps(resolved.secrets) if resolved.secrets else "",
            state=state,
            outputs=[
                {"name": "url", "displayName": "Notebook URL", "sensitive": False,
                 "value": f"https://gpu-workstation.example.com/notebook-{number:02d}/"},
                {"name": "token", "displayName": "Access token", "sensitive": True},
            ] if running else [],
            output_secrets=json.dumps({"token": f"tok-{number:04d}"}) if running else "",
        )  # fmt: skip
        ServiceEvent.record(
            service=service,
            actor=member,
            action=ServiceEvent.Action.LAUNCHED,
            detail={"profile": f"{viewer.name}/{profile.name}", "revision": revision.number,
                    "instance": instance.name},
        )  # fmt: skip
        deploy_state = {
            ServiceState.FAILED: RunState.FAILED,
            ServiceState.DEPLOYING: RunState.RUNNING,
        }.get(state, RunState.SUCCEEDED)
        finished = deploy_state != RunState.RUNNING
        Run.objects.create(
            service=service,
            action=RunAction.DEPLOY,
            state=deploy_state,
            log=log,
            exit_code=(1 if deploy_state == RunState.FAILED else 0) if finished else None,
            error="The code exited with status 1." if deploy_state == RunState.FAILED else "",
            worker="bench-worker-1",
            started_at=now,
            heartbeat_at=now,
            finished_at=now if finished else None,
        )
        if state == ServiceState.DESTROYED:
            Run.objects.create(
                service=service,
                action=RunAction.DESTROY,
                state=RunState.SUCCEEDED,
                log="stopped\nremoved\n",
                exit_code=0,
                worker="bench-worker-1",
                started_at=now,
                finished_at=now,
            )
        if finished:
            ServiceEvent.record(
                service=service,
                actor=None,
                action=ServiceEvent.Action.STATE_CHANGED,
                detail={"from": ServiceState.DEPLOYING, "to": state, "run": RunAction.DEPLOY},
            )


@transaction.atomic
def populate(*, profiles: int, projects: int, viewer_share: float) -> None:
    """Write the whole data set; ``viewer_share`` of ``profiles`` end up in the catalog of
    VIEWER (the system profiles and the complete profile count towards it)."""
    rng = random.Random(_SEED)
    width = max(3, len(str(projects - 1)))
    teams = Project.objects.bulk_create(
        Project(
            name=f"team-{n:0{width}d}",
            display_name=f"Team {n:0{width}d}",
            description=f"The {rng.choice(_DOMAINS)} team's project.",
        )
        for n in range(projects)
    )
    viewer = teams[0]
    member, admin, root, authors = _users(viewer, teams)
    versions = _templates()
    system = system_profiles(system=system_catalog(), actor=root, versions=versions)
    complete = _complete_profile(versions, viewer, admin, teams[1:4])
    protos = {p.name: p for p in system.values()}

    plan = _plan(rng, profiles, teams, authors, protos)
    already = ServiceProfile.objects.in_catalog_of(viewer).count()
    _tune(rng, plan, viewer, round(viewer_share * profiles) - already)
    created = []
    for batch in _batches(plan.rows):
        created += ServiceProfile.objects.bulk_create(batch)
    through = ServiceProfile.shared_with.through
    shares = [
        through(serviceprofile_id=created[i].pk, project_id=p.pk)
        for i, targets in plan.targets.items()
        for p in targets
    ]
    through.objects.bulk_create(shares, batch_size=BATCH)
    visibility.refresh(profile.pk for profile in created)
    _copy_settings(created, list(system.values()))
    _first_revisions(plan, created, list(system.values()))
    _services(viewer, member, root, complete)


def later_page(visible: int, page_size: int) -> int:
    """A page about seven tenths of the way through a list of ``visible`` rows."""
    return max(1, math.ceil(visible / page_size) * 7 // 10)


def sign_in(username: str) -> str:
    """A new session of ``username`` in the database: the value of its session cookie."""
    client = Client()
    client.force_login(
        get_user_model().objects.get(username=username),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def issue_api_key(username: str) -> str:
    """A fresh API key of ``username`` (the benchmark's earlier ones are deleted)."""
    user = get_user_model().objects.get(username=username)
    ApiKey.objects.filter(user=user, name=API_KEY_NAME).delete()
    _, token = ApiKey.issue(user=user, name=API_KEY_NAME)
    return token


def write_documents(folder: Path, count: int) -> None:
    """``count`` profile documents as ``export`` writes them, one file each, spread over the
    team projects: each is a system profile's export given its own name, owner, text (a readme
    of its own) and sharing."""
    rng = random.Random(_SEED)
    teams = list(Project.objects.filter(name__startswith="team-").order_by("name"))
    exported = export_documents(project=Project.objects.get(name=SYSTEM_CATALOG))
    readmes = _readmes()
    for n in range(count):
        project = teams[n % len(teams)]
        document = copy.deepcopy(exported[n % len(exported)])
        subject, domain = rng.choice(_SUBJECTS), rng.choice(_DOMAINS)
        kind = rng.choice(_TITLES[document["spec"]["serviceType"]])
        document["metadata"] |= {
            "name": f"{AS_CODE_PREFIX}{n:04d}",
            "project": project.name,
            "displayName": f"{subject} {kind}",
            "description": (
                f"{subject} {kind.lower()} for the {domain} team, kept in git and applied by CI."
            ),
            "labels": {"team": project.name, "managed-by": "gitops"},
        }
        # Each its own readme, as in a real repository: under its own title, with its owner.
        body = rng.choice(readmes).split("\n", 1)[1]
        document["spec"]["readme"] = (
            f"# {subject} {kind}\n{body}\nMaintained by {project.name} ({domain}).\n"
        )
        sharing = rng.choices(list(_SHARING_WEIGHTS), list(_SHARING_WEIGHTS.values()))[0]
        others = [p.name for p in rng.sample(teams, 3) if p.pk != project.pk][:2]
        document["spec"]["sharing"] = {"type": sharing} | (
            {"projects": sorted(others)} if sharing == Sharing.SELECTED else {}
        )
        path = folder / project.name / f"{document['metadata']['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_yaml([document]), encoding="utf-8")


@transaction.atomic
def remove_applied() -> int:
    """Delete what applying the documents made (their profiles and events), so that the
    database holds the data set as populated again; how many profiles went."""
    applied = ServiceProfile.objects.filter(name__startswith=AS_CODE_PREFIX)
    count = applied.count()
    applied.delete()
    ProfileEvent.objects.filter(profile_name__startswith=AS_CODE_PREFIX).delete()
    return count


def vacuum() -> None:
    """VACUUM ANALYZE the database, as autovacuum would soon after a bulk load: the planner's
    statistics and the visibility map describe the data as populated."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
