"""Database triggers refusing UPDATE and DELETE (and TRUNCATE) on the audit tables."""

from django.db import migrations


def install(apps, schema_editor):
    from audit import triggers

    triggers.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from audit import triggers

    triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_changes_canonical_text")]

    operations = [migrations.RunPython(install, uninstall)]
