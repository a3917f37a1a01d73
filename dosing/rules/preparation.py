"""Whether a dose may be thawed, refreshed or dispensed at the times given."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from batches.models import SpecificationItem
from core.formatting import fmt_cells, fmt_time
from core.plausibility import moment_problem
from dosing.models import Dose
from dosing.rules.base import Failure, status_failures, step_failures
from dosing.rules.times import interval_failures, limit_text, refresh_limit, use_before

S = Dose.Status


def thaw_failures(
    dose: Dose, thawed_at: datetime.datetime, now: datetime.datetime
) -> list[Failure]:
    """Why the dose's bags may not be thawed at `thawed_at` (recorded at `now`)."""
    failures = status_failures(dose, S.ALLOCATED, "thawed")
    if failures:
        return failures
    if thawed_at > now:
        failures.append(Failure("The thaw time cannot be in the future."))
    problem = moment_problem(thawed_at, what="The thaw time", now=now, future=True)
    if problem:
        failures.append(Failure(problem, field="thawed_at"))
    reserved = _reserved_at(dose)
    if reserved is not None and thawed_at < reserved:
        failures.append(
            Failure(
                f"The bags were reserved for this dose at {fmt_time(reserved)}: they cannot "
                "have been thawed before."
            )
        )
    protocol = dose.protocol
    failures += step_failures(dose, timezone.localdate(thawed_at))
    failures += interval_failures(
        dose,
        thawed_at,
        latest=thawed_at + datetime.timedelta(minutes=protocol.thaw_to_infusion_max_minutes),
        what=f"Thawed at {fmt_time(thawed_at)} (infusion within "
        f"{protocol.thaw_to_infusion_max_minutes} min of thaw)",
    )
    return failures


def refresh_failures(
    dose: Dose,
    *,
    thawed_at: datetime.datetime,
    seeded_at: datetime.datetime,
    harvested_at: datetime.datetime,
    viable_cells: int,
    now: datetime.datetime,
    viability_pct: Decimal | None = None,
) -> list[Failure]:
    """Why a refresh with these times and count may not be recorded (the range and its
    override are `override_check`'s; a count or viability that cannot be true is refused
    here, never overridden)."""
    failures = status_failures(dose, S.ALLOCATED, "refreshed")
    if failures:
        return failures
    protocol = dose.protocol
    for field, moment, what in (
        ("thawed_at", thawed_at, "The thaw time"),
        ("seeded_at", seeded_at, "The seeding time"),
        ("harvested_at", harvested_at, "The harvest time"),
    ):
        problem = moment_problem(moment, what=what, now=now, future=True)
        if problem:
            failures.append(Failure(problem, field=field))
    if failures:
        return failures
    if not thawed_at <= seeded_at <= harvested_at:
        return [Failure("The times must be in order: thawed, then seeded, then harvested.")]
    reserved = _reserved_at(dose)
    if reserved is not None and thawed_at < reserved:
        failures.append(
            Failure(
                f"The bags were reserved for this dose at {fmt_time(reserved)}: they cannot "
                "have been thawed before.",
                field="thawed_at",
            )
        )
    failures += count_failures(dose, viable_cells, viability_pct)
    if harvested_at > now:
        failures.append(Failure("The harvest time cannot be in the future."))
    culture_h = (harvested_at - seeded_at).total_seconds() / 3600
    if culture_h >= protocol.refresh_max_culture_hours:
        failures.append(
            Failure(
                f"The cells were cultured for {culture_h:.1f} h; {protocol} allows less than "
                f"{protocol.refresh_max_culture_hours} h of refresh culture. Do not use this "
                "product."
            )
        )
    limit = refresh_limit(dose, harvested_at)
    if now > limit:
        failures.append(
            Failure(
                f"Harvested at {fmt_time(harvested_at)}: a refreshed product is infused within "
                f"{protocol.harvest_to_infusion_max_hours} h of harvest (by {fmt_time(limit)}). "
                "It is past that limit."
            )
        )
    failures += step_failures(dose, timezone.localdate(thawed_at))
    failures += interval_failures(
        dose,
        harvested_at,
        latest=limit,
        what=f"Harvested at {fmt_time(harvested_at)} (infusion within "
        f"{protocol.harvest_to_infusion_max_hours} h of harvest)",
    )
    return failures


def _reserved_at(dose: Dose) -> datetime.datetime | None:
    times = [link.reserved_at for link in dose.dose_bags.filter(live=True) if link.reserved_at]
    return max(times) if times else None


def viability_limit(dose: Dose) -> Decimal | None:
    """The lowest viability (%) the batch's release specification accepts, if it has one."""
    if dose.batch_id is None:
        return None
    item = (
        SpecificationItem.objects.filter(
            specification_id=dose.batch.specification_id,
            category=SpecificationItem.Category.VIABILITY,
            lower_limit__isnull=False,
        )
        .order_by("-lower_limit")
        .first()
    )
    return item.lower_limit if item else None


def count_failures(dose: Dose, viable_cells: int, viability_pct: Decimal | None) -> list[Failure]:
    """A refreshed count that cannot be true: none, more than the thawed bags' cells times
    the protocol's expansion factor, or less than a hundredth of them (a count typed in the
    wrong unit); a viability outside 0–100 % or below the specification's limit."""
    failures = []
    thawed = sum(link.cells for link in dose.dose_bags.filter(live=True))
    factor = dose.protocol.refresh_max_expansion
    if viable_cells <= 0:
        failures.append(
            Failure("Enter the post-harvest viable cell count (×10⁶).", field="viable_cells")
        )
    elif thawed and viable_cells > thawed * factor:
        failures.append(
            Failure(
                f"{fmt_cells(viable_cells)} viable cells cannot come from bags of "
                f"{fmt_cells(thawed)}: {dose.protocol} allows at most {factor}× growth in "
                f"culture ({fmt_cells(int(thawed * factor))}). Check the count and its unit.",
                field="viable_cells",
            )
        )
    elif thawed and viable_cells * 100 < thawed:
        failures.append(
            Failure(
                f"{fmt_cells(viable_cells)} viable cells from bags of {fmt_cells(thawed)} is "
                "less than a hundredth of what was thawed: check the count and its unit (×10⁶). "
                "A product that lost this much is not given.",
                field="viable_cells",
            )
        )
    if viability_pct is not None:
        limit = viability_limit(dose)
        if not Decimal(0) < viability_pct <= Decimal(100):
            failures.append(
                Failure(
                    "Viability is a percentage above 0 and at most 100.", field="viability_pct"
                )
            )
        elif limit is not None and viability_pct < limit:
            failures.append(
                Failure(
                    f"Viability {viability_pct} % is below the release specification's limit "
                    f"of {limit} %: the product cannot be given.",
                    field="viability_pct",
                )
            )
    return failures


def dispense_failures(dose: Dose, now: datetime.datetime) -> list[Failure]:
    """Why a prepared dose may not go to the ward at `now`."""
    failures = status_failures(dose, S.PREPARED, "dispensed")
    if failures:
        return failures
    failures = step_failures(dose, timezone.localdate(now))
    prep = dose.preparation
    ready = prep.harvested_at or prep.thawed_at
    if ready is not None and now < ready:
        failures.append(
            Failure(f"A dose cannot be dispensed before it was prepared ({fmt_time(ready)}).")
        )
    limit = use_before(prep, dose.protocol)
    if now > limit:
        failures.append(
            Failure(
                f"Dose {dose.code} was to be infused by {fmt_time(limit)} "
                f"({limit_text(prep, dose.protocol)}); it is past its limit and cannot be "
                "dispensed. Cancel the dose to discard it."
            )
        )
    return failures
