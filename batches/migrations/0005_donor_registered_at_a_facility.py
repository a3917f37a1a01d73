"""A donor is registered at a GMP facility: the staff of that facility see the donor.

A donor already on file gets the facility of their first batch; one with no batch keeps
none and is seen through the batches made from them (none yet: network-wide only).
Like the move of storage to sites (0004), this is a schema move, not a change of a GMP
record's content: no audit event is written for it.
"""

import django.db.models.deletion
from django.db import migrations, models


def donors_to_their_first_batchs_facility(apps, schema_editor):
    Donor = apps.get_model("batches", "Donor")
    Batch = apps.get_model("batches", "Batch")
    for donor_id, facility_id in (
        Batch.objects.order_by("donor_id", "pk").values_list("donor_id", "facility_id")
    ):
        Donor.objects.filter(pk=donor_id, facility__isnull=True).update(facility_id=facility_id)


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0004_storage_belongs_to_a_site"),
        ("sites", "0002_hospitals_and_memberships"),
    ]

    operations = [
        migrations.AddField(
            model_name="donor",
            name="facility",
            field=models.ForeignKey(
                blank=True,
                help_text="The GMP facility that registered the donor (its staff see the donor).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="donors",
                to="sites.facility",
            ),
        ),
        migrations.RunPython(donors_to_their_first_batchs_facility, migrations.RunPython.noop),
    ]
