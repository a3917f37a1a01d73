"""Whether bags chosen by hand may be reserved for a dose."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from batches.models import Bag, Batch
from batches.rules import batch_problem
from dosing.models import DoseBag
from dosing.rules.base import Failure
from patients.models import Patient


def chosen_bag_failures(
    bags: Sequence[Bag], *, fixed_batch: Batch | None, patient: Patient, on_date: datetime.date
) -> list[Failure]:
    """Every reason these bags may not make one dose: batch not usable on `on_date`, a bag
    not available (and who holds it), bags of several batches, or of another batch than
    the one the patient's first dose fixed."""
    failures = []
    for bag in bags:
        failures += _bag_failures(bag, on_date)
    batch_codes = sorted({b.batch.code for b in bags})
    if len(batch_codes) > 1:
        failures.append(
            Failure(
                "All bags of a dose come from one batch; these are from "
                + ", ".join(batch_codes)
                + "."
            )
        )
    if fixed_batch is not None:
        for bag in bags:
            if bag.batch_id != fixed_batch.pk:
                failures.append(
                    Failure(
                        f"Bag {bag.code} is from batch {bag.batch.code}, but all of "
                        f"{patient.code}'s doses come from batch {fixed_batch.code} (fixed by "
                        "the first dose)."
                    )
                )
    return failures


def _bag_failures(bag: Bag, on_date: datetime.date) -> list[Failure]:
    failures = []
    batch = bag.batch
    if batch.status == Batch.Status.RECALLED:
        failures.append(Failure(f"Bag {bag.code}: {batch_problem(batch, on_date)}"))
    elif batch.status != Batch.Status.RELEASED:
        failures.append(
            Failure(
                f"Bag {bag.code}: batch {batch.code} is {batch.get_status_display().lower()}, "
                "not released; nothing from it may be allocated."
            )
        )
    elif batch.expires_on is None or batch.expires_on < on_date:
        failures.append(
            Failure(f"Bag {bag.code}: batch {batch.code} expired on {batch.expires_on}.")
        )
    else:
        problem = batch_problem(batch, on_date)
        if problem:
            failures.append(Failure(f"Bag {bag.code}: {problem}"))
    if bag.status == Bag.Status.EXPIRED:
        failures.append(Failure(f"Bag {bag.code} is expired."))
    elif bag.status == Bag.Status.DISCARDED:
        failures.append(Failure(f"Bag {bag.code} is discarded ({bag.discard_reason})."))
    elif bag.status == Bag.Status.RESERVED:
        holder = DoseBag.objects.filter(bag=bag, live=True).select_related("dose__patient").first()
        where = f" for dose {holder.dose.code}" if holder else ""
        failures.append(Failure(f"Bag {bag.code} is already reserved{where}."))
    elif bag.status != Bag.Status.AVAILABLE:
        failures.append(
            Failure(f"Bag {bag.code} is {bag.get_status_display().lower()}, not available.")
        )
    return failures


def batch_override_failures(
    fixed_batch: Batch | None, *, physician: str, reason: str
) -> list[Failure]:
    """A course whose batch was recalled continues from another batch only with a named
    physician's override and a written reason; an override where the batch was not
    recalled is refused (every other dose of a course comes from one batch)."""
    physician, reason = physician.strip(), reason.strip()
    recalled = fixed_batch is not None and fixed_batch.status == Batch.Status.RECALLED
    if not recalled:
        if physician or reason:
            return [
                Failure(
                    "An override of the course's batch is only for a course whose batch was "
                    "recalled; all of a patient's doses come from one batch.",
                    "batch_override_physician",
                )
            ]
        return []
    if physician and reason:
        return []
    return [
        Failure(
            f"The course's {batch_problem(fixed_batch, datetime.date.max)} To continue the "
            "course from another batch, name the physician who orders it and write the reason.",
            "batch_override_physician" if not physician else "batch_override_reason",
        )
    ]
