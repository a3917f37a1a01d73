"""The overrides a dose was given under, as structured records for the auditor API.

A dose keeps the override in force on its own fields (`dosing.rules.override_check`
writes them at allocation or at a refresh, `allocate_dose` the batch override after a
recall); this module names each as the rule it overrode, where in the dose's course it
was given, the physician and the reason. An override later replaced by another (a
refreshed count outside the range needing a fresh one) is on the audit trail
(`/api/v1/audit-events/?object_type=dosing.dose`, actions `override_*`).
"""

from __future__ import annotations

from rest_framework import serializers

from dosing.models import Dose

DOSE_RANGE = "dose_range"
SAME_BATCH = "same_batch"
RULES = {
    DOSE_RANGE: "A dose's cells lie within the protocol version's acceptable range "
    "(min_cells_per_kg to max_cells_per_kg times the dose's weight_kg).",
    SAME_BATCH: "All of a patient's doses come from the same batch (overridden only when "
    "the course's batch was recalled).",
}
ALLOCATION, PREPARATION = "allocation", "preparation"


class OverrideSerializer(serializers.Serializer):
    rule = serializers.ChoiceField(
        choices=sorted(RULES), help_text="The rule overridden: " + " ".join(
            f"`{code}`: {text}" for code, text in RULES.items()
        )
    )  # fmt: skip
    rule_text = serializers.CharField(help_text="What the rule says.")
    stage = serializers.ChoiceField(
        choices=[ALLOCATION, PREPARATION],
        allow_null=True,
        help_text="Where it was given: at allocation of the bags, or at the refresh (a "
        "post-harvest count outside the range); null for a dose recorded before the "
        "approved total was kept.",
    )
    physician = serializers.CharField(help_text="The physician who authorised it.")
    reason = serializers.CharField(help_text="The physician's written reason.")
    recorded_at = serializers.DateTimeField(
        allow_null=True, help_text="When the step that recorded it was done."
    )
    approved_cells = serializers.IntegerField(
        allow_null=True, help_text="dose_range: the total (cells) the override approved."
    )
    approved_cells_per_kg = serializers.IntegerField(
        allow_null=True, help_text="dose_range: that total per kg of the dose's weight."
    )
    batch = serializers.CharField(
        allow_null=True, help_text="same_batch: the batch the dose was given from instead."
    )


def _per_kg(cells: int | None, dose: Dose) -> int | None:
    if cells is None or not dose.weight_kg:
        return None
    return round(cells / dose.weight_kg)


def _range_stage(dose: Dose) -> str | None:
    """An override at allocation approved the bags' total (`planned_cells`); one at a
    refresh approved the post-harvest count, which differs from it (`record_refresh`)."""
    if dose.override_cells is None:
        return None
    return ALLOCATION if dose.override_cells == dose.planned_cells else PREPARATION


def _preparation_time(dose: Dose):
    try:
        return dose.preparation.recorded_at
    except Dose.preparation.RelatedObjectDoesNotExist:
        return None


def dose_overrides(dose: Dose) -> list[dict]:
    """Every override in force on `dose`, each naming its rule, physician and reason."""
    found = []
    if dose.override_physician:
        stage = _range_stage(dose)
        found.append(
            {
                "rule": DOSE_RANGE,
                "rule_text": RULES[DOSE_RANGE],
                "stage": stage,
                "physician": dose.override_physician,
                "reason": dose.override_reason,
                "recorded_at": _preparation_time(dose)
                if stage == PREPARATION
                else dose.allocated_at,
                "approved_cells": dose.override_cells,
                "approved_cells_per_kg": _per_kg(dose.override_cells, dose),
                "batch": None,
            }
        )
    if dose.batch_override_physician:
        found.append(
            {
                "rule": SAME_BATCH,
                "rule_text": RULES[SAME_BATCH],
                "stage": ALLOCATION,
                "physician": dose.batch_override_physician,
                "reason": dose.batch_override_reason,
                "recorded_at": dose.allocated_at,
                "approved_cells": None,
                "approved_cells_per_kg": None,
                "batch": dose.batch.code if dose.batch_id else None,
            }
        )
    return OverrideSerializer(found, many=True).data
