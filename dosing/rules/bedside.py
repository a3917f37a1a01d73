"""Whether an infusion or an adverse event may be recorded as typed."""

from __future__ import annotations

import datetime

from core.formatting import fmt_time
from core.plausibility import moment_problem
from dosing.models import Dose, Preparation
from dosing.rules.base import Failure, stopped_failure
from dosing.rules.scan import bedside_check
from dosing.rules.times import interval_failures, use_before
from patients.models import Patient

S = Dose.Status

# Times are typed to the minute on the ward: compare at that precision.
MINUTE = datetime.timedelta(minutes=1)


def infusion_failures(
    dose: Dose,
    *,
    started_at: datetime.datetime,
    ended_at: datetime.datetime,
    filter_confirmed: bool,
    premedication_given: str,
    now: datetime.datetime,
) -> list[Failure]:
    """Why this infusion of a dispensed dose may not be recorded."""
    existing = getattr(dose, "infusion", None)
    if existing is not None:
        return [
            Failure(
                f"Dose {dose.code} already has an infusion record (started "
                f"{fmt_time(existing.started_at)}); a dose is infused once. Correct that record "
                "instead."
            )
        ]
    stopped = stopped_failure(dose)
    if stopped is not None:
        return [stopped]
    if dose.status != S.DISPENSED:
        return [
            Failure(
                f"Dose {dose.code} is {dose.get_status_display().lower()}, not dispensed: the "
                "pharmacy must dispense it before an infusion can be recorded."
            )
        ]
    prep = dose.preparation
    protocol = dose.protocol
    failures = []
    if not filter_confirmed:
        failures.append(
            Failure(
                f"Confirm that the standard {protocol.filter_microns} µm transfusion filter "
                "was used.",
                "filter_200um_confirmed",
            )
        )
    failures += _infusion_time_failures(dose, started_at, ended_at, now)
    failures += bedside_check_failures(dose)
    if prep.premedication and not premedication_given.strip():
        failures.append(
            Failure(
                f"{protocol} requires premedication before a thawed product "
                f"({prep.premedication}): record what was given.",
                "premedication_given",
            )
        )
    return failures


def _infusion_time_failures(dose, started_at, ended_at, now) -> list[Failure]:
    prep = dose.preparation
    protocol = dose.protocol
    failures = []
    if started_at > now + MINUTE:
        failures.append(Failure("The start time cannot be in the future.", "started_at"))
    if ended_at > now + MINUTE:
        failures.append(
            Failure(
                "The end time cannot be in the future: record the infusion once it has ended.",
                "ended_at",
            )
        )
    if ended_at < started_at:
        failures.append(Failure("The infusion cannot end before it starts.", "ended_at"))
    ready = prep.harvested_at or prep.thawed_at
    if ready is not None and started_at < ready.replace(second=0, microsecond=0):
        step = "harvested" if prep.harvested_at else "thawed"
        failures.append(
            Failure(
                f"The infusion cannot start before the cells were {step} ({fmt_time(ready)}).",
                "started_at",
            )
        )
    if dose.dispensed_at and started_at < dose.dispensed_at.replace(second=0, microsecond=0):
        failures.append(
            Failure(
                f"The infusion cannot start before the dose was dispensed "
                f"({fmt_time(dose.dispensed_at)}).",
                "started_at",
            )
        )
    failures += interval_failures(dose, started_at, what="Started at", field="started_at")
    limit = use_before(prep, protocol)
    if started_at > limit:
        if prep.method == Preparation.Method.REFRESHED:
            hours = (started_at - prep.harvested_at).total_seconds() / 3600
            message = (
                f"Started {hours:.1f} h after harvest: a refreshed product is infused within "
                f"{protocol.harvest_to_infusion_max_hours} h of harvest (by {fmt_time(limit)})."
            )
        else:
            minutes = (started_at - prep.thawed_at).total_seconds() / 60
            message = (
                f"Started {minutes:.0f} min after thaw: a thawed product is infused within "
                f"{protocol.thaw_to_infusion_max_minutes} min (by {fmt_time(limit)})."
            )
        failures.append(Failure(message, "started_at"))
    return failures


def adverse_event_failures(
    patient: Patient,
    *,
    dose: Dose | None,
    onset_at: datetime.datetime,
    description: str,
    ctcae_grade: int,
    serious: bool,
    fatal: bool,
    now: datetime.datetime,
) -> list[Failure]:
    """Why this adverse event report is inconsistent (grade, outcome, dose, onset)."""
    failures = []
    if dose is not None and dose.patient_id != patient.pk:
        failures.append(Failure(f"Dose {dose.code} is not a dose of {patient.code}.", "dose"))
    if onset_at > now:
        failures.append(Failure("The onset cannot be in the future.", "onset_at"))
    problem = moment_problem(onset_at, what="The onset", now=now, future=True)
    if problem:
        failures.append(Failure(problem, "onset_at"))
    infusion = getattr(dose, "infusion", None) if dose is not None else None
    if infusion is not None and onset_at < infusion.started_at.replace(second=0, microsecond=0):
        failures.append(
            Failure(
                f"The onset cannot precede the infusion of dose {dose.code} (started "
                f"{fmt_time(infusion.started_at)}): choose the dose it followed, or none.",
                "onset_at",
            )
        )
    if not description.strip():
        failures.append(Failure("Describe the event.", "description"))
    if (ctcae_grade == 5) != fatal:
        failures.append(
            Failure(
                "CTCAE grade 5 means death related to the event: grade 5 goes with a fatal "
                "outcome, and a fatal outcome with grade 5.",
                "ctcae_grade",
            )
        )
    if fatal and not serious:
        failures.append(Failure("A fatal event is serious.", "serious"))
    return failures


def bedside_check_failures(dose: Dose) -> list[Failure]:
    """The infusion is recorded only after the wristband and every bag were scanned."""
    check = bedside_check(dose)
    if check.complete:
        return []
    missing = ["the patient's wristband"] if not check.wristband_ok else []
    missing += [f"bag {bag.code}" for bag in check.missing]
    return [
        Failure(
            "Do the bedside check first: scan " + ", ".join(missing) + " (a wrong patient or "
            "a wrong bag is refused on the spot)."
        )
    ]
