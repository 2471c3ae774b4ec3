import django.db.models.deletion
from django.db import migrations, models

# Each task page keeps half its room free on PostgreSQL: a task row changes on every save,
# assignment and review, and an update that fits on the row's own page and changes no indexed
# column (version, shape count, times) is a HOT update, which writes none of the task's six
# indexes. Half, because a label import updates every task of a project in one transaction,
# where no old row version can be pruned before the commit: the 50k-task import's task update
# went from 1.0 s to 0.2 s. Pages filled from now on keep the room; a big existing table gets
# it only when rewritten (VACUUM FULL, or pg_repack without the lock).
# SQLite has no such setting.


def _fillfactor(value: int):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE annotations_task SET (fillfactor = {value})")
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('annotations', '0005_fewer_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='tasklabel',
            name='task',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='label_counts', to='annotations.task'),
        ),
        migrations.RunPython(_fillfactor(50), _fillfactor(100)),
    ]
