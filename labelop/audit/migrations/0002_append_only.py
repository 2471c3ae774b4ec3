"""Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit events in the database."""

from django.db import migrations

from labelop.core import append_only

TABLE = "audit_auditevent"


def install(apps, schema_editor):
    append_only.install(schema_editor.connection, TABLE)


def uninstall(apps, schema_editor):
    append_only.uninstall(schema_editor.connection, TABLE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
