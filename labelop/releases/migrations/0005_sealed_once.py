"""A pending snapshot row may change once, to sealed or failed, keeping its project and name
(it could change any number of times, anyhow, while pending)."""

from django.db import migrations

from labelop.core import append_only

TABLE = "releases_snapshot"
BEFORE = "OLD.status = 'pending'"
NOW = ("OLD.status = 'pending' AND NEW.status IN ('sealed', 'failed') "
       "AND NEW.project_id = OLD.project_id AND NEW.name = OLD.name")


def _to(condition):
    def apply(apps, schema_editor):
        append_only.uninstall(schema_editor.connection, TABLE)
        append_only.install(schema_editor.connection, TABLE, condition)
    return apply


class Migration(migrations.Migration):
    dependencies = [("releases", "0004_snapshot_status")]
    operations = [migrations.RunPython(_to(NOW), _to(BEFORE))]
