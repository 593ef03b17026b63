"""``manage.py apply -f FILE|DIR|- [-f ...] [--dry-run] [--project P] [--user U]``.

Creates or updates the ServiceProfile and EnvironmentTemplate documents given, printing one
line per document: created, configured or unchanged (with the fields that change under
--dry-run). Every document is checked before anything is kept, and all are written or none:
any error rolls everything back and names the file, the document's index and the field path.
"""

import sys
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.exceptions import ValidationError

from profiles import applying
from profiles.documents import DocumentError
from profiles.serializers import ProfileDocumentSerializer, TemplateDocumentSerializer
from studio.api import flatten
from studio.formats import load_yaml_documents
from studio.models import Project

SERIALIZERS = {
    "EnvironmentTemplate": TemplateDocumentSerializer,
    "ServiceProfile": ProfileDocumentSerializer,
}


class _RollBack(Exception):
    pass


def read_sources(sources: list[str]) -> list[tuple[str, int, object]]:
    """(source name, index in its file, document) for every YAML document given."""
    found = []
    for source in sources:
        if source == "-":
            files = [("<stdin>", sys.stdin.read())]
        else:
            path = Path(source)
            if path.is_dir():
                paths = sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"})
            elif path.is_file():
                paths = [path]
            else:
                raise CommandError(f"{source}: no such file or directory.")
            files = []
            for file in paths:
                try:
                    files.append((str(file), file.read_text(encoding="utf-8")))
                except UnicodeDecodeError:
                    raise CommandError(f"{file}: not UTF-8 text.") from None
        for name, text in files:
            try:
                documents = load_yaml_documents(text)
            except (yaml.YAMLError, ValueError, RecursionError) as error:
                raise CommandError(f"{name}: not valid YAML: {error}") from None
            found += [(name, i, d) for i, d in enumerate(documents) if d is not None]
    return found


class Command(BaseCommand):
    help = "Create or update service profiles and environment templates from YAML documents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-f",
            "--filename",
            action="append",
            required=True,
            help="A YAML file, a directory of them, or - for standard input; repeatable.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would change; change nothing."
        )
        parser.add_argument(
            "--project", help="The project for documents that do not name metadata.project."
        )
        parser.add_argument("--user", help="Record changes as made by this user.")

    def handle(self, *args, filename: list[str], dry_run: bool, **options) -> None:
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"There is no user “{options['user']}”.")
        documents = read_sources(filename)
        parsed, valid, errors = [], [], []
        # One serializer per kind checks every document of it (its fields are built once).
        # Readmes render when applied, and only those that change.
        serializers = {
            kind: serializer(context={"render_readme": False})
            for kind, serializer in SERIALIZERS.items()
        }
        for source, index, data in documents:
            where = f"{source}[{index}]"
            kind = data.get("kind") if isinstance(data, dict) else None
            if kind not in SERIALIZERS:
                errors.append(f"{where}: kind: must be ServiceProfile or EnvironmentTemplate.")
                continue
            try:
                document = serializers[kind].run_validation(data)
            except ValidationError as error:
                errors += [f"{where}: {p}: {m}" for p, m in flatten(error.detail)]
                continue
            valid.append((where, kind, document))
        names = {d["metadata"].get("project") or options["project"] for _, _, d in valid}
        projects = {p.name: p for p in Project.objects.filter(name__in=names - {None})}
        for where, kind, document in valid:
            project_name = document["metadata"].get("project") or options["project"]
            if project_name not in projects:
                errors.append(
                    f"{where}: metadata.project: "
                    + (f"there is no project “{project_name}”." if project_name else "required.")
                )
                continue
            parsed.append((where, kind, projects[project_name], document))
        if errors:
            raise CommandError("Nothing was applied:\n" + "\n".join(errors))

        # Templates first: profiles in the same files may build on them.
        templates = [item for item in parsed if item[1] == "EnvironmentTemplate"]
        profiles = [item for item in parsed if item[1] == "ServiceProfile"]
        lines = []
        try:
            with transaction.atomic():
                for where, _, project, document in templates:
                    try:
                        _, outcome = applying.apply_template_document(
                            project=project, document=document
                        )
                    except DocumentError as error:
                        errors += [f"{where}: {path}: {message}" for path, message in error.causes]
                        continue
                    name = document["metadata"]["name"]
                    lines.append(f"environmenttemplate/{project.name}/{name} {outcome}")
                plans = applying.apply_profile_documents(
                    [(project, document) for _, _, project, document in profiles], actor=actor
                )
                for (where, *_), plan in zip(profiles, plans, strict=True):
                    if plan.causes:  # a plan's, or the DocumentError's of one that has none
                        errors += [f"{where}: {path}: {message}" for path, message in plan.causes]
                    else:
                        lines.append(self.profile_line(plan, dry_run))
                if errors or dry_run:
                    raise _RollBack
        except _RollBack:
            pass
        if errors:
            raise CommandError("Nothing was applied:\n" + "\n".join(errors))
        for line in lines:
            self.stdout.write(line)
        if dry_run:
            self.stdout.write("(dry run: nothing was changed)")

    def profile_line(self, plan: applying.ProfilePlan, dry_run: bool) -> str:
        line = f"serviceprofile/{plan.project.name}/{plan.profile.name} {plan.outcome}"
        if dry_run and plan.outcome == "configured":
            line += " (" + ", ".join(plan.changed_fields()) + ")"
        return line
