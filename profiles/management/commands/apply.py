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

from profiles import applying
from profiles.documents import DocumentError, changed_fields, profile_document
from profiles.models import ServiceProfile
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
        parsed, errors = [], []
        for source, index, data in documents:
            where = f"{source}[{index}]"
            kind = data.get("kind") if isinstance(data, dict) else None
            if kind not in SERIALIZERS:
                errors.append(f"{where}: kind: must be ServiceProfile or EnvironmentTemplate.")
                continue
            serializer = SERIALIZERS[kind](data=data)
            if not serializer.is_valid():
                errors += [f"{where}: {p}: {m}" for p, m in flatten(serializer.errors)]
                continue
            document = serializer.validated_data
            project_name = document["metadata"].get("project") or options["project"]
            project = Project.objects.filter(name=project_name).first() if project_name else None
            if project is None:
                errors.append(
                    f"{where}: metadata.project: "
                    + (f"there is no project “{project_name}”." if project_name else "required.")
                )
                continue
            parsed.append((where, kind, project, document))
        if errors:
            raise CommandError("Nothing was applied:\n" + "\n".join(errors))

        # Templates first: profiles in the same files may build on them.
        parsed.sort(key=lambda item: item[1] != "EnvironmentTemplate")
        lines = []
        try:
            with transaction.atomic():
                for where, kind, project, document in parsed:
                    try:
                        lines.append(self.apply_one(kind, project, document, actor, dry_run))
                    except DocumentError as error:
                        errors += [f"{where}: {path}: {message}" for path, message in error.causes]
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

    def apply_one(self, kind, project, document, actor, dry_run: bool) -> str:
        name = document["metadata"]["name"]
        if kind == "EnvironmentTemplate":
            _, outcome = applying.apply_template_document(project=project, document=document)
            return f"environmenttemplate/{project.name}/{name} {outcome}"
        current = ServiceProfile.objects.filter(project=project, name=name).first()
        before = profile_document(current) if current else None
        profile, outcome = applying.apply_profile_document(
            project=project, document=document, actor=actor
        )
        line = f"serviceprofile/{project.name}/{name} {outcome}"
        if dry_run and before is not None and outcome == "configured":
            line += " (" + ", ".join(changed_fields(before, profile_document(profile))) + ")"
        return line
