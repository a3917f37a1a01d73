"""The only writer of the clinical-course records (`patients.models.cohort`).

Each function runs in one transaction, locks the patient row, checks the plausibility
rules of `patients.cohort_rules` (every failure at once, with its field), validates with
`full_clean()` and saves with its audit event; nothing is written when it refuses.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from audit.context import audit_context
from patients import cohort_rules as rules
from patients.exceptions import InvalidPatientData
from patients.models import (
    ChestXray,
    HospitalStay,
    Infection,
    LymphocyteSubsets,
    Patient,
    SupportPeriod,
)
from patients.services import _full_clean, _require_reason


def _refuse(failures: list[rules.Failure]) -> None:
    if failures:
        errors: dict[str | None, list[str]] = {}
        for field, message in failures:
            errors.setdefault(field, []).append(message)
        raise InvalidPatientData(errors)


def _lock(patient: Patient) -> Patient:
    return Patient.objects.select_for_update().get(pk=patient.pk)


def _save(record, *, actor, reason: str, action: str = "create"):
    _full_clean(record)
    with audit_context(actor=actor, reason=reason):
        if action == "create":
            record.save()
        else:
            record.save(audit_action=action)
    return record


def _admitted_on(patient: Patient) -> datetime.date | None:
    stay = HospitalStay.objects.filter(patient=patient).first()
    return stay.admitted_on if stay else None


@transaction.atomic
def record_stay(
    patient: Patient,
    *,
    admitted_on: datetime.date,
    follow_up_ended_on: datetime.date | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> HospitalStay:
    """Record the hospital admission and (when known) the end of follow-up.

    The first record, and the end of follow-up added later, need no reason; a change of
    a recorded date is a correction and needs one. Refused: dates before birth or in the
    future, an end before the admission, an admission after the start of a recorded
    period of support."""
    patient = _lock(patient)
    _refuse(
        rules.stay_failures(
            patient, admitted_on=admitted_on, follow_up_ended_on=follow_up_ended_on
        )
    )
    first = patient.support_periods.order_by("started_at").first()
    if first and admitted_on and rules._day(first.started_at) < admitted_on:
        _refuse([("admitted_on", f"{first} starts before this admission.")])
    stay = HospitalStay.objects.select_for_update().filter(patient=patient).first()
    if stay is None:
        stay = HospitalStay(
            patient=patient, admitted_on=admitted_on, follow_up_ended_on=follow_up_ended_on
        )
        return _save(stay, actor=actor, reason=reason or "hospital stay recorded")
    if (stay.admitted_on, stay.follow_up_ended_on) == (admitted_on, follow_up_ended_on):
        return stay
    if stay.admitted_on != admitted_on or stay.follow_up_ended_on is not None:
        reason = _require_reason(reason)  # a correction, not the first end of follow-up
    stay.admitted_on, stay.follow_up_ended_on = admitted_on, follow_up_ended_on
    return _save(stay, actor=actor, reason=reason or "end of follow-up recorded", action="update")


@transaction.atomic
def record_support_period(
    patient: Patient,
    *,
    kind: str,
    started_at: datetime.datetime,
    ended_at: datetime.datetime | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> SupportPeriod:
    """Record a period of invasive ventilation or ECMO (open while `ended_at` is None).

    Refused: times before birth or in the future, an end not after the start, a start
    before the hospital admission, an overlap with another period of the same kind."""
    patient = _lock(patient)
    _refuse(
        rules.period_failures(
            patient,
            kind=kind,
            started_at=started_at,
            ended_at=ended_at,
            admitted_on=_admitted_on(patient),
            others=list(patient.support_periods.all()),
        )
    )
    period = SupportPeriod(patient=patient, kind=kind, started_at=started_at, ended_at=ended_at)
    return _save(period, actor=actor, reason=reason or "period of support recorded")


@transaction.atomic
def end_support_period(
    period: SupportPeriod,
    *,
    ended_at: datetime.datetime,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> SupportPeriod:
    """Close an open period (extubation, ECMO decannulation); a closed one is corrected
    with a reason. Refused as `record_support_period` refuses."""
    patient = _lock(period.patient)
    period = SupportPeriod.objects.select_for_update().get(pk=period.pk)
    if period.ended_at is not None:
        reason = _require_reason(reason)
    _refuse(
        rules.period_failures(
            patient,
            kind=period.kind,
            started_at=period.started_at,
            ended_at=ended_at,
            admitted_on=_admitted_on(patient),
            others=list(patient.support_periods.exclude(pk=period.pk)),
        )
    )
    period.ended_at = ended_at
    return _save(period, actor=actor, reason=reason or "period of support ended", action="end")


@transaction.atomic
def record_xray_score(
    patient: Patient,
    *,
    taken_on: datetime.date,
    wong_score: int,
    actor: AbstractBaseUser | None,
) -> ChestXray:
    """Record the Wong score (0–8) of a chest X-ray. Refused: a date before birth or in
    the future, a score outside 0–8, a second score on one date."""
    patient = _lock(patient)
    _refuse(rules.date_failures(patient, "taken_on", taken_on))
    if patient.xrays.filter(taken_on=taken_on).exists():
        _refuse([("taken_on", f"A chest X-ray score is already recorded on {taken_on}.")])
    record = ChestXray(patient=patient, taken_on=taken_on, wong_score=wong_score)
    return _save(record, actor=actor, reason="chest X-ray score recorded")


@transaction.atomic
def record_lymphocyte_subsets(
    patient: Patient,
    *,
    timepoint: str,
    sampled_on: datetime.date,
    counts: dict[str, Any],
    actor: AbstractBaseUser | None,
) -> LymphocyteSubsets:
    """Record B, CD4+, CD8+ and NK cells per µl for a time point (before dose 1, or about
    10 days after it). Refused: a date before birth or in the future, a missing or
    negative count, a count above 10 000/µl, a second record of the time point."""
    patient = _lock(patient)
    unknown = set(counts) - set(LymphocyteSubsets.COUNT_FIELDS)
    _refuse([(None, f"Unknown count: {name}.") for name in sorted(unknown)])
    _refuse(rules.date_failures(patient, "sampled_on", sampled_on))
    if patient.lymphocyte_subsets.filter(timepoint=timepoint).exists():
        _refuse([("timepoint", "Lymphocyte subsets are already recorded for this time point.")])
    record = LymphocyteSubsets(
        patient=patient, timepoint=timepoint, sampled_on=sampled_on, **counts
    )
    return _save(record, actor=actor, reason="lymphocyte subsets recorded")


@transaction.atomic
def record_infection(
    patient: Patient,
    *,
    organism: str,
    diagnosed_on: datetime.date,
    site: str = "",
    actor: AbstractBaseUser | None,
) -> Infection:
    """Record an infection (organism, date, site). Refused: no organism, a date before
    birth or in the future."""
    patient = _lock(patient)
    organism = (organism or "").strip()
    failures = rules.date_failures(patient, "diagnosed_on", diagnosed_on)
    if not organism:
        failures.append(("organism", "Name the organism (e.g. Candida spp.)."))
    _refuse(failures)
    record = Infection(
        patient=patient, organism=organism, site=(site or "").strip(), diagnosed_on=diagnosed_on
    )
    return _save(record, actor=actor, reason="infection recorded")
