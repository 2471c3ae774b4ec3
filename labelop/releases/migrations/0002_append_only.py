"""Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) of snapshot rows in the database."""

from django.db import migrations

from labelop.core import append_only

TABLE = "releases_snapshot"


def install(apps, schema_editor):
    append_only.install(schema_editor.connection, TABLE)


def uninstall(apps, schema_editor):
    append_only.uninstall(schema_editor.connection, TABLE)


class Migration(migrations.Migration):
    dependencies = [("releases", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
