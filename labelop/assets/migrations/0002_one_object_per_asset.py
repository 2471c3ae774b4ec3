# The thumbnail became the first part of the image's object (one write per image).
# Assets stored before this have no thumbnail part; LabelOp had no release then.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("assets", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="asset", name="thumbnail_key"),
        migrations.AddField(model_name="asset", name="thumbnail_size",
                            field=models.PositiveIntegerField(default=0),
                            preserve_default=False),
    ]
