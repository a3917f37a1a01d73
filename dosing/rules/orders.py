"""Whether the patient's next dose may be ordered."""

from __future__ import annotations

import datetime

from core.formatting import fmt_time
from dosing.models import Dose, Protocol
from dosing.rules.base import Failure
from dosing.rules.times import dose_reference_time, interval_window
from patients.models import Patient

S = Dose.Status


def order_failures(
    patient: Patient,
    *,
    eligibility,
    weight,
    doses: list[Dose],
    protocol: Protocol,
    planned_for: datetime.datetime,
) -> list[Failure]:
    """Why the patient's next dose may not be ordered for `planned_for`.

    `eligibility` is `patients.eligibility.evaluate_eligibility` on the day of the order,
    `weight` the current weight record (or None), `doses` the live doses in order.
    """
    failures = []
    if not eligibility.is_eligible:
        parts = [f"{c.label} (not met: {c.value})" for c in eligibility.not_met]
        parts += [f"{c.label} (missing)" for c in eligibility.missing]
        if not eligibility.criteria:
            parts = ["no eligibility values recorded"]
        failures.append(
            Failure(f"Patient {patient.code} is not eligible: " + "; ".join(parts) + ".")
        )
    if weight is None:
        failures.append(
            Failure(f"Patient {patient.code} has no recorded weight: record it first.")
        )
    if len(doses) >= protocol.max_doses:
        failures.append(
            Failure(
                f"Patient {patient.code} has had {len(doses)} doses; {protocol} allows at most "
                f"{protocol.max_doses}."
            )
        )
        return failures
    if len(doses) + 1 > Dose.MAX_NUMBER:
        failures.append(
            Failure(
                f"{protocol} allows {protocol.max_doses} doses, but a patient's doses are "
                f"numbered 1–{Dose.MAX_NUMBER} (the case series' maximum); dose "
                f"{len(doses) + 1} cannot be recorded. Ask the pharmacy lead to correct the "
                "protocol's maximum doses."
            )
        )
    if doses:
        failures += _next_dose_failures(doses[-1], protocol, planned_for)
    return failures


def _next_dose_failures(
    previous: Dose, protocol: Protocol, planned_for: datetime.datetime
) -> list[Failure]:
    if previous.status != S.INFUSED:
        return [
            Failure(
                f"Dose {previous.number} of {previous.patient.code} is still "
                f"{previous.get_status_display().lower()}: record its infusion or cancel it "
                "before ordering the next dose."
            )
        ]
    earliest, latest = interval_window(previous, protocol)
    if earliest <= planned_for <= latest:
        return []
    given = dose_reference_time(previous)
    hours = (planned_for - given).total_seconds() / 3600
    return [
        Failure(
            f"Dose {previous.number + 1} at {fmt_time(planned_for)} would be {hours:.0f} h "
            f"after dose {previous.number} (infused {fmt_time(given)}); {protocol} allows "
            f"{protocol.min_interval_hours}–{protocol.max_interval_hours} h: between "
            f"{fmt_time(earliest)} and {fmt_time(latest)}."
        )
    ]
