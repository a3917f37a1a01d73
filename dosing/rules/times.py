"""When a dose may be given: the interval window after the previous dose, the product's
use-before time."""

from __future__ import annotations

import datetime

from core.formatting import fmt_time
from dosing.models import Dose, Preparation, Protocol
from dosing.rules.base import Failure
from patients.models import Patient

S = Dose.Status


def dose_reference_time(dose: Dose) -> datetime.datetime:
    """When a dose was given (infusion start), else when it is planned."""
    infusion = getattr(dose, "infusion", None) if dose.status == S.INFUSED else None
    return infusion.started_at if infusion else dose.planned_for


def interval_window(
    previous: Dose, protocol: Protocol
) -> tuple[datetime.datetime, datetime.datetime]:
    ref = dose_reference_time(previous)
    return (
        ref + datetime.timedelta(hours=protocol.min_interval_hours),
        ref + datetime.timedelta(hours=protocol.max_interval_hours),
    )


def use_before(preparation: Preparation, protocol: Protocol) -> datetime.datetime:
    """The latest start of infusion: thaw + thaw limit, or harvest + harvest limit."""
    if preparation.method == Preparation.Method.REFRESHED:
        return preparation.harvested_at + datetime.timedelta(
            hours=protocol.harvest_to_infusion_max_hours
        )
    return preparation.thawed_at + datetime.timedelta(
        minutes=protocol.thaw_to_infusion_max_minutes
    )


def refresh_limit(dose: Dose, harvested_at: datetime.datetime) -> datetime.datetime:
    """The latest start of infusion of a refreshed product harvested at `harvested_at`."""
    return harvested_at + datetime.timedelta(hours=dose.protocol.harvest_to_infusion_max_hours)


def limit_text(prep: Preparation, protocol: Protocol) -> str:
    if prep.method == Preparation.Method.REFRESHED:
        return (
            f"refreshed: within {protocol.harvest_to_infusion_max_hours} h of harvest at "
            f"{fmt_time(prep.harvested_at)}"
        )
    return (
        f"thawed: within {protocol.thaw_to_infusion_max_minutes} min of thaw at "
        f"{fmt_time(prep.thawed_at)}"
    )


def live_doses(patient: Patient):
    return Dose.objects.of_patient(patient)


def previous_dose(dose: Dose) -> Dose | None:
    """The patient's live dose given just before `dose` (None for a first dose)."""
    return (
        live_doses(dose.patient)
        .filter(number__lt=dose.number)
        .exclude(pk=dose.pk)
        .select_related("infusion")
        .last()
    )


def window_text(previous: Dose, protocol: Protocol) -> str:
    earliest, latest = interval_window(previous, protocol)
    return (
        f"dose {previous.number + 1} may start {protocol.min_interval_hours}–"
        f"{protocol.max_interval_hours} h after dose {previous.number} (infused "
        f"{fmt_time(dose_reference_time(previous))}): between {fmt_time(earliest)} and "
        f"{fmt_time(latest)} ({protocol})"
    )


def interval_failures(
    dose: Dose,
    moment: datetime.datetime,
    *,
    latest: datetime.datetime | None = None,
    what: str = "The infusion",
    field: str | None = None,
) -> list[Failure]:
    """A start of infusion outside the window after the previous dose's infusion.

    `moment` is the (earliest possible) start of infusion, `latest` the latest possible
    one when the product's time limit allows a range (thaw: thaw + thaw limit; refresh:
    harvest + harvest limit). Refused when the latest possible start is before the window
    opens or the earliest is after it closes. The window is measured from the previous
    live dose's real infusion start (`infusion.started_at`), never from a planned time.
    """
    previous = previous_dose(dose)
    if previous is None:
        return []
    protocol = dose.protocol
    infusion = getattr(previous, "infusion", None) if previous.status == S.INFUSED else None
    if infusion is None:
        return [
            Failure(
                f"Dose {previous.code} has no infusion record: dose {dose.number} cannot be "
                "prepared or given before the previous dose's infusion is recorded.",
                field,
            )
        ]
    latest = latest or moment
    earliest_ok, latest_ok = interval_window(previous, protocol)
    if earliest_ok <= latest and moment <= latest_ok:
        return []
    after = (moment - infusion.started_at).total_seconds() / 3600
    if latest == moment:
        when = f"{what} {fmt_time(moment)}, {after:.0f} h after dose {previous.number}"
    else:
        last = (latest - infusion.started_at).total_seconds() / 3600
        when = (
            f"{what}: its infusion could start only between {fmt_time(moment)} and "
            f"{fmt_time(latest)}, {after:.0f}–{last:.0f} h after dose {previous.number}"
        )
    return [
        Failure(
            f"{when}, which is outside the interval window: {window_text(previous, protocol)}.",
            field,
        )
    ]
