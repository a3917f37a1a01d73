"""Facility moves from `batches` to `sites`, keeping its rows, ids and permissions.

The table is renamed batches_facility → sites_facility (so the model needs no
`db_table` override for ever after); ids are unchanged, so foreign keys and audit events
still point at the same facility. The content type batches.facility becomes
sites.facility, so existing permissions (and the groups holding them) and admin log
entries follow the model. Audit events keep the object type they were written with
(`batches.facility`): the trail is append-only and hash-chained.

`batches` 0003 then repoints Batch.facility in the migration state and drops the old
model from it; neither step touches the database.
"""

from django.db import migrations, models

OLD_TABLE, NEW_TABLE = "batches_facility", "sites_facility"


def rename_table(apps, schema_editor):
    model = apps.get_model("batches", "Facility")
    schema_editor.alter_db_table(model, OLD_TABLE, NEW_TABLE)


def rename_table_back(apps, schema_editor):
    model = apps.get_model("batches", "Facility")
    schema_editor.alter_db_table(model, NEW_TABLE, OLD_TABLE)


def _move_content_type(apps, schema_editor, source: str, target: str):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    old = types.filter(app_label=source, model="facility")
    if not old.exists():
        return  # a new database: post_migrate creates the content type
    # One made by a post_migrate that ran before this migration holds no grant that the
    # role sync after migrate does not restore: the original, with its history, wins.
    types.filter(app_label=target, model="facility").delete()
    old.update(app_label=target)


def content_type_to_sites(apps, schema_editor):
    _move_content_type(apps, schema_editor, "batches", "sites")


def content_type_to_batches(apps, schema_editor):
    _move_content_type(apps, schema_editor, "sites", "batches")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("batches", "0002_alter_bag_volume_ml_alter_procurement_fat_weight_g_and_more"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(rename_table, rename_table_back)],
            state_operations=[
                migrations.CreateModel(
                    name="Facility",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "fin",
                            models.CharField(
                                help_text="ISBT 128 FIN: 5 letters or digits, the start of "
                                "every DIN issued here.",
                                max_length=5,
                                unique=True,
                                verbose_name="facility identification number",
                            ),
                        ),
                        ("name", models.CharField(max_length=200)),
                        (
                            "authorisation_ref",
                            models.CharField(
                                blank=True, max_length=100, verbose_name="GMP authorisation"
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "facilities",
                        "ordering": ["fin"],
                    },
                ),
            ],
        ),
        migrations.RunPython(content_type_to_sites, content_type_to_batches),
    ]
