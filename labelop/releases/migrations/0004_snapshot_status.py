"""Snapshots written by a background job wait as pending rows, sealed once: the append-only
triggers make way for the table change, then come back allowing that one change."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from labelop.core import append_only

TABLE = "releases_snapshot"


def install(apps, schema_editor):
    append_only.install(schema_editor.connection, TABLE, "OLD.status = 'pending'")


def uninstall(apps, schema_editor):
    append_only.uninstall(schema_editor.connection, TABLE)


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0001_initial'),
        ('projects', '0004_project_policy'),
        ('releases', '0003_exports'),
        ('storage', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(uninstall, install),
        migrations.RemoveConstraint(
            model_name='snapshot',
            name='one_snapshot_name_per_project',
        ),
        migrations.AddField(
            model_name='snapshot',
            name='job',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='jobs.job'),
        ),
        migrations.AddField(
            model_name='snapshot',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('sealed', 'Sealed'), ('failed', 'Failed')], default='sealed', max_length=8),
        ),
        migrations.AddConstraint(
            model_name='snapshot',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'failed'), _negated=True), fields=('project', 'name'), name='one_snapshot_name_per_project'),
        ),
        migrations.RunPython(install, uninstall),
    ]
