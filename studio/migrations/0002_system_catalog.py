"""The reserved ``system-catalog`` project always exists: it holds what the platform ships."""

from django.db import migrations


def create_system_catalog(apps, schema_editor):
    Project = apps.get_model("studio", "Project")
    Project.objects.get_or_create(
        name="system-catalog",
        defaults={
            "display_name": "System Catalog",
            "description": "Environment templates and service profiles the platform ships.",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("studio", "0001_initial")]

    operations = [migrations.RunPython(create_system_catalog, migrations.RunPython.noop)]
