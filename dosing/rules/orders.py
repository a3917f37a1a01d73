"""Whether the patient's next dose may be ordered."""

from __future__ import annotations

import datetime

from django.utils import timezone

from core.formatting import fmt_time
from core.plausibility import moment_problem
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
    failures += recency_failures(
        patient,
        eligibility=eligibility,
        weight=weight,
        doses=doses,
        protocol=protocol,
        planned_for=planned_for,
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


def recency_failures(
    patient: Patient,
    *,
    eligibility,
    weight,
    doses: list[Dose],
    protocol: Protocol,
    planned_for: datetime.datetime,
) -> list[Failure]:
    """A dose planned before the programme began, or ordered on an old measurement: the
    weight it is calculated from is at most `weight_max_age_days` old on its planned day,
    and dose 1 is ordered on an assessment of its planned day or at most
    `assessment_max_age_days` before. (A measurement dated after the planned day is not
    refused here: a plan may be made before the morning's assessment is typed in.)"""
    problem = moment_problem(planned_for, what="The planned time of the dose", future=True)
    if problem:
        return [Failure(problem, field="planned_for")]
    day = timezone.localdate(planned_for)
    failures = []
    if weight is not None:
        age = (day - weight.measured_on).days
        if age > protocol.weight_max_age_days:
            failures.append(
                Failure(
                    f"The latest weight of {patient.code} was measured on "
                    f"{weight.measured_on:%Y-%m-%d}, {age} days before the dose; {protocol} "
                    f"calculates a dose from a weight of the last {protocol.weight_max_age_days} "
                    "days. Record a new weight."
                )
            )
    assessed_on = getattr(eligibility, "assessed_on", None)
    if not doses and assessed_on is not None:
        age = (day - assessed_on).days
        limit = protocol.assessment_max_age_days
        if age > limit:
            failures.append(
                Failure(
                    f"The latest assessment of {patient.code} is of {assessed_on:%Y-%m-%d}; "
                    f"{protocol} orders dose 1 on an assessment of its day or up to {limit} "
                    f"day{'s' if limit != 1 else ''} before ({day:%Y-%m-%d}). Record a new "
                    "assessment."
                )
            )
    return failures
