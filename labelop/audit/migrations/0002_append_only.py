"""Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) of audit events in the database,
and start the chain at its genesis head."""

from django.db import migrations

from labelop.audit.chain import GENESIS
from labelop.core import append_only

TABLE = "audit_auditevent"


def install(apps, schema_editor):
    append_only.install(schema_editor.connection, TABLE)
    apps.get_model("audit", "ChainHead").objects.create(id=1, seq=0, hash=GENESIS)


def uninstall(apps, schema_editor):
    append_only.uninstall(schema_editor.connection, TABLE)
    apps.get_model("audit", "ChainHead").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(install, uninstall)]
