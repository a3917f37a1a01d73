"""Whether a dose may be thawed, refreshed or dispensed at the times given."""

from __future__ import annotations

import datetime

from django.utils import timezone

from core.formatting import fmt_time
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
) -> list[Failure]:
    """Why a refresh with these times and count may not be recorded (the range and its
    override are `override_check`'s)."""
    failures = status_failures(dose, S.ALLOCATED, "refreshed")
    if failures:
        return failures
    protocol = dose.protocol
    if not thawed_at <= seeded_at <= harvested_at:
        return [Failure("The times must be in order: thawed, then seeded, then harvested.")]
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
    if viable_cells <= 0:
        failures.append(Failure("Enter the post-harvest viable cell count (cells)."))
    failures += step_failures(dose, timezone.localdate(thawed_at))
    failures += interval_failures(
        dose,
        harvested_at,
        latest=limit,
        what=f"Harvested at {fmt_time(harvested_at)} (infusion within "
        f"{protocol.harvest_to_infusion_max_hours} h of harvest)",
    )
    return failures


def dispense_failures(dose: Dose, now: datetime.datetime) -> list[Failure]:
    """Why a prepared dose may not go to the ward at `now`."""
    failures = status_failures(dose, S.PREPARED, "dispensed")
    if failures:
        return failures
    failures = step_failures(dose, timezone.localdate(now))
    prep = dose.preparation
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
