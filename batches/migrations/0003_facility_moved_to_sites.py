"""Batch.facility now points at sites.Facility (see sites 0001, which moved the table).

State only: the column and its foreign key already reference the renamed table.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0002_alter_bag_volume_ml_alter_procurement_fat_weight_g_and_more"),
        ("sites", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="batch",
                    name="facility",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="batches",
                        to="sites.facility",
                    ),
                ),
                migrations.DeleteModel(name="Facility"),
            ],
        ),
    ]
