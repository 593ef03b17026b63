"""``manage.py export --project P [NAME ...] [-o FILE] [--templates] [--include-secrets]``.

Writes the project's service profiles (and with --templates, the environment templates it owns)
as multi-document YAML, in the shape ``apply`` reads back: see :mod:`profiles.exporting`, which
the Studio's Export shares. Read-only bookkeeping (revision, status) is left out so the files
diff cleanly in git; sensitive values are left out unless --include-secrets is given.
"""

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from profiles.exporting import UnknownProfiles, export_documents
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
        try:
            documents = export_documents(
                project=owner,
                names=names,
                templates=options["templates"],
                include_secrets=options["include_secrets"],
            )
        except UnknownProfiles as unknown:
            raise CommandError(str(unknown)) from None
        text = dump_yaml(documents)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
            self.stderr.write(f"Wrote {len(documents)} documents to {output}.")
        else:
            sys.stdout.write(text)
