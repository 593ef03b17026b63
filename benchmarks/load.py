"""Load benchmark of PaaS Studio's pages, side by side: gunicorn with production settings, wrk.

Builds a throwaway PostgreSQL database (DATABASE_URL, default
postgres://studio@127.0.0.1:5432/studio_bench; its name must end in _bench, as it is dropped),
fills it with --profiles service profiles over --projects projects, serves the app with
gunicorn (2 sync workers) on a loopback port, and drives each page with wrk for --duration
seconds over --connections connections. Prints req/s, p50, p99 and SQL queries per request of
each page, and its req/s as a share of a bare view of the same middleware stack and as a
multiple of the Django admin's changelist of the same profiles. Then times ``manage.py apply``
of 1,000 profile documents: creating them, again with all unchanged, and with --dry-run.

    make bench                                    # 10,000 profiles
    PROFILES=100000 make bench                    # the large run
    .venv/bin/python benchmarks/load.py --keep-db # keep the database, then rerun with
    .venv/bin/python benchmarks/load.py --reuse-db --only catalog --skip-apply
"""

import argparse
import http.client
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://studio@127.0.0.1:5432/studio_bench"
# The benchmark database's comment holds the encryption key its sensitive values were written
# with, so that --reuse-db can read them again.
KEY_COMMENT = "paas-studio load benchmark; FIELD_ENCRYPTION_KEY="
VIEWER_SHARE = 0.1345
DOCUMENTS = 1000
WORKERS = 2
PROBES = 4  # requests before wrk's, to count queries
# Pages measured whatever --only says: what every other page is compared with.
BARE, ADMIN = "Bare view (same middleware)", "Admin changelist"


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Result:
    label: str
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    queries: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=10_000, help="Default: 10,000.")
    parser.add_argument("--projects", type=int, default=500, help="Default: 500.")
    parser.add_argument("--duration", type=int, default=10, help="Seconds of wrk per page.")
    parser.add_argument("--connections", type=int, default=8, help="wrk's open connections.")
    parser.add_argument("--only", help="Measure only pages whose name or URL holds this.")
    parser.add_argument("--json", type=Path, help="Also write the results here, as JSON.")
    parser.add_argument("--keep-db", action="store_true", help="Do not drop the database.")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="Use the database as it is if it holds data (no drop, create or populate).",
    )
    parser.add_argument("--skip-apply", action="store_true", help="Do not time manage.py apply.")
    args = parser.parse_args()
    if args.profiles < 1 or args.projects < 2:
        parser.error("--profiles must be at least 1 and --projects at least 2.")
    return args


# The database -----------------------------------------------------------------------------


def bench_database(url: str) -> str:
    """The database name of ``url``; exits unless it is a throwaway one (``*_bench``)."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in {"postgres", "postgresql"} or not name.endswith("_bench"):
        sys.exit(
            f"DATABASE_URL must name a PostgreSQL database ending in _bench (it is dropped), "
            f"not {name or url!r}."
        )
    return name


@contextmanager
def maintenance(url: str) -> Iterator:
    """An autocommit connection to the server's ``postgres`` database."""
    import psycopg

    with psycopg.connect(urlsplit(url)._replace(path="/postgres").geturl(), autocommit=True) as db:
        yield db


def reusable_key(url: str, name: str) -> str | None:
    """The encryption key of the existing benchmark database, if it holds profiles."""
    import psycopg

    with maintenance(url) as db:
        row = db.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    if row is None or not (row[0] or "").startswith(KEY_COMMENT):
        return None
    with psycopg.connect(url) as db:
        if db.execute("SELECT to_regclass('profiles_serviceprofile')").fetchone()[0] is None:
            return None
        if not db.execute("SELECT EXISTS (SELECT FROM profiles_serviceprofile)").fetchone()[0]:
            return None
    return row[0].removeprefix(KEY_COMMENT)


def recreate_database(url: str, name: str, key: str) -> None:
    from psycopg import sql

    with maintenance(url) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        db.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(KEY_COMMENT + key)
            )
        )


def drop_database(url: str, name: str) -> None:
    from psycopg import sql

    with maintenance(url) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# The server -------------------------------------------------------------------------------


def production_environment(database_url: str, key: str, static_root: Path) -> dict[str, str]:
    """What this process, gunicorn and ``manage.py apply`` run with: production settings, no
    .env file, fresh secrets, plain HTTP on the loopback address."""
    return {
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "ENV_FILE": "",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "FIELD_ENCRYPTION_KEY": key,
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(static_root),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """One GET, redirects not followed (a redirect to the sign-in page must not pass)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@contextmanager
def gunicorn(port: int, log: Path) -> Iterator[None]:
    """gunicorn serving the app on ``port`` until the block ends; waits until it answers."""
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "studio.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={WORKERS}",
                "--worker-class=sync",
                "--timeout=120",
                "--log-level=warning",
            ],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                sys.exit(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if get(port, "/bench/bare/", {}).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# Measuring --------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian's packages if missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: install it with `sudo apt-get install -y wrk`.")
    print("Installing wrk (apt-get install -y wrk) ...", flush=True)
    if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("apt-get installed wrk, but it is not on PATH.")


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _milliseconds(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no {percentile}% latency:\n{output}")
    return float(match[1]) * _UNITS_MS[match[2]]


def measure(wrk: str, port: int, page: Page, args: argparse.Namespace) -> Result:
    """Probe requests (status 200, the query count of a page as most requests find it: the
    fewest of a few, once both workers keep what they cache), then wrk's figures."""
    counts = []
    for _ in range(PROBES):
        probe = get(port, page.path, page.headers | {"X-Bench-Count-Queries": "1"})
        if probe.status != 200:
            sys.exit(
                f"{page.label}: GET {page.path} answered {probe.status}"
                + (f" (to {probe.getheader('Location')})" if probe.getheader("Location") else "")
            )
        counts.append(int(probe.getheader("X-Bench-Queries", "-1")))
    queries = min(counts)
    command = [wrk, "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    # Slow pages at many profiles may take seconds: wrk's default 2 s would count timeouts.
    command.append("--timeout=60s")
    for header, value in page.headers.items():
        command += ["-H", f"{header}: {value}"]
    run = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{page.path}"], capture_output=True, text=True
    )
    output = run.stdout + run.stderr
    if run.returncode != 0:
        sys.exit(f"{page.label}: wrk failed ({run.returncode}):\n{output}")
    for problem in ("Non-2xx or 3xx responses", "Socket errors"):
        if problem in output:
            sys.exit(f"{page.label}: wrk reports {problem.lower()}:\n{output}")
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rps is None or float(rps[1]) == 0:
        sys.exit(f"{page.label}: wrk completed no request:\n{output}")
    return Result(
        page.label,
        page.path,
        float(rps[1]),
        _milliseconds(output, "50"),
        _milliseconds(output, "99"),
        queries,
    )


def pages(data, catalog_count: int) -> list[Page]:
    """Every measured page, in the table's order, with the credentials it is opened with."""
    from catalog.views import PAGE_SIZE

    member = {"Cookie": f"sessionid={data.sign_in(data.MEMBER)}"}
    admin = {"Cookie": f"sessionid={data.sign_in(data.ADMIN)}"}
    root = {"Cookie": f"sessionid={data.sign_in(data.ROOT)}"}
    api = {"X-API-KEY": data.issue_api_key(data.ADMIN), "Accept": "application/json"}
    project = f"/projects/{data.VIEWER}"
    catalog = f"{project}/catalog/"
    studio = f"{project}/studio/service-profiles/"
    api_root = f"/apis/paas.envmgmt.io/v1/projects/{data.VIEWER}"
    later = data.later_page(catalog_count, PAGE_SIZE)
    return [
        Page(BARE, "/bench/bare/", member),
        Page("Catalog, first page", catalog, member),
        Page("Catalog search", f"{catalog}?q={data.SEARCH_WORD}", member),
        Page("Catalog type tab", f"{catalog}?type=notebook", member),
        Page(f"Catalog page {later}", f"{catalog}?page={later}", member),
        Page("Catalog detail", f"{catalog}{data.VIEWER}/{data.COMPLETE}/", member),
        Page("Studio list", studio, admin),
        Page("Studio list search", f"{studio}?q={data.SEARCH_WORD}", admin),
        Page("Services list", f"{project}/services/", member),
        Page("Service page", f"{project}/services/notebook-01/", member),
        Page("API catalog", f"{api_root}/catalog/", api),
        Page("API profile list", f"{api_root}/serviceprofiles/", api),
        Page(ADMIN, "/admin/profiles/serviceprofile/", root),
    ]


def print_table(results: list[Result]) -> None:
    bare = next(r for r in results if r.label == BARE)
    admin = next(r for r in results if r.label == ADMIN)
    width = max(len(r.label) for r in results)
    print(
        f"\n{'page':<{width}}  {'req/s':>8}  {'p50 ms':>8}  {'p99 ms':>8}  {'SQL/req':>7}  "
        f"{'% of bare':>9}  {'x admin':>7}"
    )
    for r in results:
        print(
            f"{r.label:<{width}}  {r.rps:>8.1f}  {r.p50_ms:>8.1f}  {r.p99_ms:>8.1f}  "
            f"{r.queries:>7}  {100 * r.rps / bare.rps:>8.2f}%  {r.rps / admin.rps:>6.2f}x"
        )


# As code ----------------------------------------------------------------------------------


def time_apply(folder: Path, *options: str) -> tuple[float, list[str]]:
    """Seconds that ``manage.py apply -f folder`` takes as a process, and what it printed."""
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "manage.py", "apply", "-f", str(folder), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        sys.exit(f"manage.py apply {' '.join(options)} failed:\n{run.stdout}{run.stderr}")
    return elapsed, run.stdout.splitlines()


def measure_apply(data, folder: Path) -> dict[str, float]:
    """Create DOCUMENTS profiles from documents, apply them again (all unchanged), and once
    more with --dry-run; the database is left without them."""
    data.remove_applied()
    data.write_documents(folder, DOCUMENTS)
    times = {}
    try:
        for step, options, outcome in [
            ("create", (), "created"),
            ("unchanged", (), "unchanged"),
            ("dry_run", ("--dry-run",), "unchanged"),
        ]:
            times[step], lines = time_apply(folder, *options)
            done = sum(line.endswith(f" {outcome}") for line in lines)
            if done != DOCUMENTS:
                sys.exit(f"apply ({step}): {done} of {DOCUMENTS} documents {outcome}:\n{lines}")
            print(f"apply {step}: {times[step]:.1f} s", flush=True)
    finally:
        data.remove_applied()
    return times


# The run ----------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    wrk = ensure_wrk()
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    name = bench_database(database_url)
    key = reusable_key(database_url, name) if args.reuse_db else None
    reuse = key is not None
    if args.reuse_db and not reuse:
        print(f"{name} holds no benchmark data: building it afresh.", flush=True)
    if not reuse:
        from cryptography.fernet import Fernet

        key = Fernet.generate_key().decode()
        recreate_database(database_url, name, key)

    with tempfile.TemporaryDirectory(prefix="paas-bench-") as scratch:
        workdir = Path(scratch)
        os.environ.update(production_environment(database_url, key, workdir / "static"))
        sys.path.insert(0, str(ROOT))
        try:
            run(args, reuse, wrk, workdir)
        finally:
            from django.db import connections

            connections.close_all()
            if args.keep_db:
                print(f"Kept the database {name} (rerun with --reuse-db).")
            else:
                drop_database(database_url, name)


def run(args: argparse.Namespace, reuse: bool, wrk: str, workdir: Path) -> None:
    import django
    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command

    django.setup()
    from benchmarks import data
    from catalog.filters import CatalogFilter
    from profiles.models import ServiceProfile
    from studio.models import Project

    # django-axes logs every sign-in at INFO; the benchmark signs its users in directly.
    logging.getLogger("axes").setLevel(logging.WARNING)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    if reuse:
        print("Reusing the database as it is.", flush=True)
    else:
        started = time.perf_counter()
        data.populate(profiles=args.profiles, projects=args.projects, viewer_share=VIEWER_SHARE)
        data.vacuum()
        print(
            f"Populated {args.profiles:,} profiles over {args.projects} projects in "
            f"{time.perf_counter() - started:.1f} s.",
            flush=True,
        )
    viewer = Project.objects.get(name=data.VIEWER)
    in_catalog = ServiceProfile.objects.in_catalog_of(viewer)
    total, visible = ServiceProfile.objects.count(), in_catalog.count()
    matches = CatalogFilter({"q": data.SEARCH_WORD}, queryset=in_catalog).qs.count()
    print(
        f"{data.VIEWER}'s catalog: {visible:,} of {total:,} profiles "
        f"({visible / total:.2%}); “{data.SEARCH_WORD}” finds {matches:,} of them.",
        flush=True,
    )
    call_command("collectstatic", interactive=False, verbosity=0)
    # Every run starts with empty caches: a kept database keeps its cache table.
    for alias in settings.CACHES:
        caches[alias].clear()

    measured = [
        page
        for page in pages(data, visible)
        if page.label in {BARE, ADMIN}
        or not args.only
        or args.only.lower() in page.label.lower()
        or args.only.lower() in page.path.lower()
    ]
    results = []
    port = free_port()
    with gunicorn(port, workdir / "gunicorn.log"):
        for page in measured:
            print(f"Measuring {page.label}: {page.path}", flush=True)
            results.append(measure(wrk, port, page, args))
    print_table(results)

    apply_times = {}
    if not args.skip_apply:
        print(f"\nTiming manage.py apply of {DOCUMENTS:,} documents ...", flush=True)
        apply_times = measure_apply(data, workdir / "documents")
        print(
            f"apply of {DOCUMENTS:,} documents: create {apply_times['create']:.1f} s, "
            f"all unchanged {apply_times['unchanged']:.1f} s, "
            f"--dry-run {apply_times['dry_run']:.1f} s"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "profiles": total,
                    "projects": Project.objects.filter(name__startswith="team-").count(),
                    "viewer_catalog": visible,
                    "connections": args.connections,
                    "duration_s": args.duration,
                    "pages": [asdict(r) for r in results],
                    "apply_s": apply_times,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"Wrote {args.json}.")


if __name__ == "__main__":
    main()
