"""``manage.py export --project P [NAME ...] [-o FILE] [--templates] [--include-secrets]``.

Writes the project's service profiles (and with --templates, the environment templates it owns)
as multi-document YAML, in the shape ``apply`` reads back. Read-only bookkeeping (revision,
status) is left out so the files diff cleanly in git; sensitive values are left out unless
--include-secrets is given.
"""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from profiles.documents import (
    clean_for_export,
    documents_queryset,
    profile_document,
    template_document,
    templates_queryset,
)
from profiles.models import ServiceProfile
from studio.formats import dump_yaml
from studio.models import Project


class Command(BaseCommand):
    help = "Export a project's service profiles (and templates) as YAML documents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="The project's unique name.")
        parser.add_argument("names", nargs="*", help="Only these profiles (default: all).")
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")
        parser.add_argument(
            "--templates", action="store_true", help="Also the templates the project owns."
        )
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="Include sensitive values in clear. Keep such a file out of git.",
        )

    def handle(self, *args, project: str, names: list[str], output: str | None, **options):
        owner = Project.objects.filter(name=project).first()
        if owner is None:
            raise CommandError(f"There is no project “{project}”.")
        secrets = options["include_secrets"]
        documents = []
        if options["templates"]:
            templates = templates_queryset(owner).filter(project=owner)
            documents += [template_document(t, include_secrets=secrets) for t in templates]
        profiles = documents_queryset(ServiceProfile.objects.filter(project=owner)).order_by("name")
        if names:
            missing = sorted(
                set(names) - set(profiles.filter(name__in=names).values_list("name", flat=True))
            )
            if missing:
                raise CommandError(f"Project {project} has no profile named {', '.join(missing)}.")
            profiles = profiles.filter(name__in=names)
        documents += [profile_document(p, include_secrets=secrets) for p in profiles]
        text = dump_yaml([clean_for_export(d) for d in documents])
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
            self.stderr.write(f"Wrote {len(documents)} documents to {output}.")
        else:
            sys.stdout.write(text)
