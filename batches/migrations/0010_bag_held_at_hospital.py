"""Each bag keeps the hospital it is held at (`Bag.held_at_hospital`: its storage
position's hospital), so that the calculator and the allocation find a hospital's stock
through one index instead of joining every position of the hospital with the network's
available bags. This fills it for the bags stored now (one UPDATE from their positions;
the column is derived from `location`, which is on the trail, so no record changes and
nothing is appended to it), then installs the triggers with which the database refuses a
row where the two disagree (`batches.triggers`).
"""

import django.db.models.deletion
from django.db import migrations, models

FILL = """
UPDATE batches_bag SET held_at_hospital_id = (
    SELECT hospital_id FROM batches_storagelocation
    WHERE batches_storagelocation.id = batches_bag.location_id
)
WHERE location_id IS NOT NULL
"""


def install_triggers(apps, schema_editor):
    from batches import triggers

    triggers.install(schema_editor.connection)


def uninstall_triggers(apps, schema_editor):
    from batches import triggers

    triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0009_kept_record_hash"),
        ("sites", "0002_hospitals_and_memberships"),
    ]

    operations = [
        migrations.AddField(
            model_name="bag",
            name="held_at_hospital",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                help_text="The hospital whose storage position holds the bag (its "
                "position's hospital; blank at a facility or out of storage). Derived from "
                "`location` by `Bag.keep_held_at` on every save and bulk insert, checked by "
                "the database (`batches.triggers`), so a hospital's stock is found without "
                "joining its positions.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sites.hospital",
            ),
        ),
        migrations.RunSQL(FILL, reverse_sql=migrations.RunSQL.noop),
        migrations.RunPython(install_triggers, uninstall_triggers),
        migrations.AddIndex(
            model_name="bag",
            index=models.Index(fields=["held_at_hospital", "status"], name="bag_held_at_status"),
        ),
    ]
