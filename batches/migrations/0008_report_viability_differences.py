"""Viability before cryopreservation is now entered once, as its release check, and the
batch's figure is read from it (`Batch.FROM_CHECKS`). Batches recorded before may hold a
figure that differs from their viability check (or one with no check): this migration
lists them, in the migration's output and the `celltrack.migrations` log, and changes
nothing — which of the two figures is right is for production and the QP to decide, and
a correction goes through the check's service, on the trail.
"""

import logging

from django.db import migrations

logger = logging.getLogger("celltrack.migrations")


def _pct(value) -> str:
    return "none" if value is None else f"{format(value.normalize(), 'f')} %"


def viability_differences(Batch, ReleaseCheck) -> list[str]:
    """One line per batch whose figure is not its viability check's."""
    checks = {}
    for batch_id, value in ReleaseCheck.objects.filter(item__category="viability").values_list(
        "batch_id", "result_value"
    ):
        checks.setdefault(batch_id, []).append(value)
    lines = []
    for pk, din, din_check, figure in Batch.objects.order_by("pk").values_list(
        "pk", "din", "din_check", "viability_pct"
    ):
        values = checks.get(pk, [])
        if figure is None and not values:
            continue
        if not values:
            lines.append(f"{din}{din_check}: batch viability {_pct(figure)}, no viability check.")
        elif any(value != figure for value in values):
            shown = ", ".join(_pct(v) for v in values)
            lines.append(
                f"{din}{din_check}: batch viability {_pct(figure)}, viability check {shown}."
            )
    return lines


def report(apps, schema_editor):
    lines = viability_differences(
        apps.get_model("batches", "Batch"), apps.get_model("batches", "ReleaseCheck")
    )
    if not lines:
        return
    heading = (
        f"{len(lines)} batch(es) whose viability differs from the viability release check "
        "(nothing changed; correct the check, on the trail, where the batch's figure is right):"
    )
    for line in (heading, *lines):
        logger.warning(line)
        print(f"  {line}")  # noqa: T201 - the migration's report, read where it is run


class Migration(migrations.Migration):
    dependencies = [("batches", "0007_shipments_and_requests")]

    operations = [migrations.RunPython(report, migrations.RunPython.noop, elidable=True)]
