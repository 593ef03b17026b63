"""The catalog's query plans at the size of a real installation (PostgreSQL only).

10,000 profiles over 500 projects, of which the viewer's project sees 13 %: its own, the
system catalog's, those shared with all projects and those shared with it by name. The
statements the catalog page runs are explained by the planner itself, after ``ANALYZE`` (as
autovacuum would have run), and must find the viewer's rows through the ``profiles_seen_``
indexes of profiles_visibility: a sequential scan of profiles_visibility or
profiles_serviceprofile costs what the whole installation holds, not what the project sees.
"""

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.views import PAGE_SIZE
from profiles import visibility
from profiles.choices import ServiceType, Sharing, Status
from profiles.models import ServiceProfile, Visibility
from studio.models import Project
from tests.factories import make_project, make_template, make_user, profiles_in_bulk
from tests.test_catalog import catalog_url

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="query plans are PostgreSQL's"
)

PROJECTS = 500  # the viewer and 499 others, besides the system catalog
PROFILES = 10_000
TABLES = (ServiceProfile._meta.db_table, Visibility._meta.db_table, Project._meta.db_table)
SCANNED_WHOLE = {ServiceProfile._meta.db_table, Visibility._meta.db_table}
INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


@dataclass(frozen=True)
class Kind:
    """Profiles of one owner, status and sharing, as many as ``count``."""

    name: str
    count: int
    owner: str  # "viewer", "system" or "other"
    ready: bool
    sharing: str = Sharing.NONE
    with_viewer: bool = False  # shared by name with the viewer (and two other projects)

    @property
    def seen(self) -> bool:
        """Whether the viewer's catalog lists it (SPEC §2): ready, and its own, the system
        catalog's, shared with all, or shared with it by name."""
        shared = self.sharing == Sharing.ALL or self.with_viewer
        return self.ready and (self.owner in {"viewer", "system"} or shared)


KINDS = [
    Kind("own", 150, "viewer", ready=True),
    Kind("own-draft", 50, "viewer", ready=False),
    Kind("system", 100, "system", ready=True),
    Kind("to-all", 600, "other", ready=True, sharing=Sharing.ALL),
    Kind("to-viewer", 450, "other", ready=True, sharing=Sharing.SELECTED, with_viewer=True),
    Kind("to-others", 650, "other", ready=True, sharing=Sharing.SELECTED),
    Kind("draft-to-all", 300, "other", ready=False, sharing=Sharing.ALL),
    Kind("draft-to-viewer", 100, "other", ready=False, sharing=Sharing.SELECTED, with_viewer=True),
    Kind("private", 6600, "other", ready=True),
    Kind("private-draft", 1000, "other", ready=False),
]


@pytest.fixture
def installation(system) -> Counter:
    """10,000 profiles shaped like a real installation; returns how many the viewer's catalog
    holds, in all (``""``) and of each service type.

    Display names are shuffled, so catalog order has nothing to do with the order the rows
    were written in; owners and selected projects are drawn at random among the others.
    """
    rng = random.Random(13)
    viewer = make_project("viewer")
    others = Project.objects.bulk_create(
        Project(name=f"team-{n:03d}", display_name=f"Team {n:03d}") for n in range(1, PROJECTS)
    )
    owners = {"viewer": [viewer], "system": [system], "other": others}
    version = make_template(system, "workbench")
    ranks = iter(rng.sample(range(PROFILES), k=PROFILES))
    types = ServiceType.values
    through = ServiceProfile.shared_with.through
    shares, seen = [], Counter()
    for kind in KINDS:
        made = profiles_in_bulk(
            [
                ServiceProfile(
                    project=rng.choice(owners[kind.owner]),
                    name=f"{kind.name}-{i:04d}",
                    display_name=f"Service {next(ranks):05d}",
                    template_version=version,
                    service_type=types[i % len(types)],
                    status=Status.READY if kind.ready else Status.DRAFT,
                    sharing=kind.sharing,
                )
                for i in range(kind.count)
            ]
        )
        if kind.sharing == Sharing.SELECTED:
            for profile in made:
                chosen = rng.sample([p for p in others if p.pk != profile.project_id], k=2)
                chosen += [viewer] if kind.with_viewer else []
                shares += [through(serviceprofile=profile, project=p) for p in chosen]
        if kind.seen:
            seen[""] += kind.count
            seen.update(profile.service_type for profile in made)
    through.objects.bulk_create(shares)
    visibility.refresh({share.serviceprofile_id for share in shares})
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(TABLES)}")
    assert sum(kind.count for kind in KINDS) == PROFILES
    assert seen[""] == PROFILES * 13 // 100
    return seen


# Plans -------------------------------------------------------------------------------------------


def explain(sql: str) -> dict:
    """The planner's plan for ``sql``, as the root node of ``EXPLAIN (FORMAT JSON)``."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        [(document,)] = cursor.fetchall()
    return document[0]["Plan"]


def nodes(plan: dict) -> Iterator[dict]:
    """Every node of a plan, the root first (subplans and init plans included)."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def outline(plan: dict, depth: int = 0) -> str:
    """A plan as indented lines: node, relation, index, conditions, estimated cost and rows."""
    parts = [plan["Node Type"]]
    if "Relation Name" in plan:
        parts.append(f"on {plan['Relation Name']}")
    if "Index Name" in plan:
        parts.append(f"using {plan['Index Name']}")
    for key in ("Index Cond", "Recheck Cond", "Filter"):
        if key in plan:
            parts.append(f"{key}: {plan[key]}")
    parts.append(f"(cost={plan['Total Cost']} rows={plan['Plan Rows']})")
    lines = ["  " * depth + " ".join(parts)]
    lines += [outline(child, depth + 1) for child in plan.get("Plans", [])]
    return "\n".join(lines)


def scans_whole(plan: dict) -> list[str]:
    """The tables of :data:`SCANNED_WHOLE` the plan reads row after row."""
    return [
        node["Relation Name"]
        for node in nodes(plan)
        if node["Node Type"] == "Seq Scan" and node["Relation Name"] in SCANNED_WHOLE
    ]


def seen_indexes(plan: dict) -> list[str]:
    """The ``profiles_seen_`` indexes of profiles_visibility the plan reads."""
    return [
        node["Index Name"]
        for node in nodes(plan)
        if node["Node Type"] in INDEX_SCANS and node["Index Name"].startswith("profiles_seen_")
    ]


# The page ----------------------------------------------------------------------------------------


def result_count(html: str) -> int:
    """The number of results the page announces."""
    return int(re.search(r'<div aria-live="polite"[^>]*>(\d+) results?</div>', html).group(1))


# Three pages the planner plans differently: the first, a type tab (a narrower range) and one
# far into the catalog (a deeper sort).
PAGES = {"first page": {}, "type tab": {"type": ServiceType.NOTEBOOK}, "later page": {"page": "30"}}


def test_catalog_pages_read_visibility_through_its_indexes(client, installation, subtests):
    client.force_login(make_user(viewer="member"))
    for page, params in PAGES.items():
        with subtests.test(page):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(catalog_url("viewer"), params)
            html = response.content.decode()
            assert response.status_code == 200
            assert html.count('<article class="card') == PAGE_SIZE
            assert result_count(html) == installation[params.get("type", "")]
            assert_planned_on_indexes([query["sql"] for query in queries.captured_queries])


def assert_planned_on_indexes(captured: list[str]) -> None:
    """No statement reading profiles scans a table of :data:`SCANNED_WHOLE` whole, and each
    one reading profiles_visibility goes through a ``profiles_seen_`` index."""
    statements = [sql for sql in captured if any(table in sql for table in SCANNED_WHOLE)]
    reading_visibility = [sql for sql in statements if Visibility._meta.db_table in sql]
    assert reading_visibility, "the catalog no longer reads profiles_visibility"
    for sql in statements:
        plan = explain(sql)
        shown = f"{sql}\n\n{outline(plan)}\n\n{json.dumps(plan, indent=1)}"
        assert not scans_whole(plan), f"sequential scan in:\n{shown}"
        if sql in reading_visibility:
            assert seen_indexes(plan), f"no profiles_seen_ index in:\n{shown}"
