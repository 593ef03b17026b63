"""How long the catalog page takes with many profiles in the database.

Runs in a throwaway test database (never the configured one): creates --profiles service
profiles spread over --projects projects with every kind of sharing, then requests the
catalog page of one project --requests times through Django's test client, and prints the
median and 90th percentile wall time and the SQL query count of one request.

    DEBUG=1 DATABASE_URL=postgres://studio:studio@127.0.0.1:5432/studio \
        .venv/bin/python benchmarks/catalog.py --profiles 10000
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402


def populate(profiles: int, projects: int) -> str:
    from django.contrib.auth.models import User

    from profiles.models import ServiceProfile
    from studio.models import Membership, Project
    from tests.factories import make_template, system_catalog

    version = make_template(system_catalog(), "bench-template")
    owners = Project.objects.bulk_create(
        Project(name=f"team-{n:03d}", display_name=f"Team {n}") for n in range(projects)
    )
    viewer = owners[0]
    user = User.objects.create_user("bench-user", password="bench")
    Membership.objects.create(user=user, project=viewer, role="member")
    rng = random.Random(42)
    types = ServiceProfile.ServiceType.values
    rows = []
    for n in range(profiles):
        sharing = rng.choices(["none", "all", "selected"], weights=[6, 1, 3])[0]
        rows.append(
            ServiceProfile(
                project=rng.choice(owners),
                name=f"profile-{n:05d}",
                display_name=f"Profile {n}",
                description="A benchmark profile with a few words of description. " * 3,
                template_version=version,
                service_type=rng.choice(types),
                status=rng.choices(["ready", "draft"], weights=[9, 1])[0],
                sharing=sharing,
                labels={"team": f"t{n % 17}"},
            )
        )
    created = ServiceProfile.objects.bulk_create(rows, batch_size=1000)
    through = ServiceProfile.shared_with.through
    through.objects.bulk_create(
        (
            through(serviceprofile_id=p.pk, project_id=rng.choice(owners).pk)
            for p in created
            if p.sharing == "selected"
        ),
        batch_size=1000,
        ignore_conflicts=True,
    )
    return viewer.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        project = populate(args.profiles, args.projects)
        print(
            f"{connection.vendor}: {args.profiles:,} profiles in "
            f"{time.perf_counter() - started:.1f} s"
        )
        from profiles.models import ServiceProfile
        from studio.models import Project

        visible = ServiceProfile.objects.in_catalog_of(Project.objects.get(name=project))
        print(f"visible to {project}: {visible.count():,}")
        client = Client()
        # Signed in directly: the sign-in lockout (django-axes) wants a real request to check.
        from django.contrib.auth.models import User

        client.force_login(User.objects.get(username="bench-user"))
        url = f"/projects/{project}/catalog/"
        for query in ["", "?q=profile+1", "?type=notebook", "?page=3"]:
            assert client.get(url + query).status_code == 200  # warm up
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        for query in ["", "?q=profile+1", "?type=notebook"]:
            times = []
            for _ in range(args.requests):
                start = time.perf_counter()
                response = client.get(url + query)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            times.sort()
            p90 = times[int(len(times) * 0.9) - 1]
            print(
                f"GET {url}{query}: median {statistics.median(times):.1f} ms, "
                f"p90 {p90:.1f} ms over {args.requests} requests"
            )
        print(f"SQL queries per request: {len(queries)}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
