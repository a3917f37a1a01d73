"""Each batch a QP decided on keeps the hash of its record as it is now
(`Batch.record_hash`, see `batches.services.signed_record`), so that whether its decision
signature still matches is answered in bulk. This fills it for the batches decided before:
each one's record rebuilt as the signature built it (`Batch.signature_content`) and hashed.
A record already changed since its signature gets the hash of what it holds now, so its
signature keeps not matching; no record changes, and the hash is not on the trail (it is
derived from records that are).
"""

from django.db import migrations, models

DECISION_MEANINGS = ("released", "rejected")


def keep_record_hashes(apps, schema_editor):
    Signature = apps.get_model("audit", "Signature")
    decided = {
        int(object_id)
        for object_id in Signature.objects.filter(
            object_type="batches.batch", meaning__in=DECISION_MEANINGS
        ).values_list("object_id", flat=True)
    }
    if not decided:
        return
    # The record is what `Batch.signature_content` builds, which a historical model lacks:
    # the application's models read it (at this release's schema); the historical one
    # writes the hash (a plain UPDATE of a column the trail leaves out).
    from audit.signatures import content_hash
    from batches.models import Batch

    stored = apps.get_model("batches", "Batch")
    for batch in Batch._base_manager.filter(pk__in=decided).select_related(
        "donor", "procurement", "facility", "specification"
    ):
        stored._base_manager.filter(pk=batch.pk).update(
            record_hash=content_hash(batch.signature_content())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_signature_meanings_recalled_submitted"),
        ("batches", "0008_report_viability_differences"),
    ]

    operations = [
        migrations.AddField(
            model_name="batch",
            name="record_hash",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                help_text="SHA-256 of the batch record as it is now (`signature_content`), "
                "kept by the batch services from the QP's first decision on (blank before): "
                "compared with the decision signature's hash, it says in bulk whether that "
                "signature still matches.",
                max_length=64,
            ),
        ),
        migrations.RunPython(keep_record_hashes, migrations.RunPython.noop),
    ]
