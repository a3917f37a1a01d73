"""Every change to a patient's records: the only writer of patients and their follow-up.

Each function runs in one transaction, locks the rows it changes, opens an
`audit_context` naming the actor (and the reason, where one is needed), validates with
`full_clean()` and raises a `PatientError` subclass with a message the user can act on.
Nothing is written when a function refuses.
"""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from patients.exceptions import CorrectionReasonMissing, DuplicatePatientCode, InvalidPatientData
from patients.models import (
    ClinicalAssessment,
    ClinicalOutcome,
    Observation,
    Patient,
    WeightMeasurement,
)

# The fields a correction of the patient record may change (the code is the identity).
CORRECTABLE_PATIENT_FIELDS = frozenset(Patient.RECORD_FIELDS)


def _validation_errors(error: ValidationError) -> dict[str | None, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            (None if field == NON_FIELD_ERRORS else field): [str(m) for m in messages]
            for field, messages in error.message_dict.items()
        }
    return {None: list(error.messages)}


def _full_clean(obj, *, exclude: list[str] | None = None, prefix: str = "") -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False)
    except ValidationError as error:
        errors = _validation_errors(error)
        if prefix:
            errors = {f"{prefix}{k}" if k else None: v for k, v in errors.items()}
        raise InvalidPatientData(errors) from None


def _add(record, *, actor, reason: str):
    """Validate a new record of the patient's file and save it on the trail with `reason`."""
    _full_clean(record)
    with audit_context(actor=actor, reason=reason):
        record.save()
    return record


def _check_weight(weight_kg: Any, field: str = "weight_kg") -> Decimal:
    try:
        weight = Decimal(str(weight_kg))
    except (InvalidOperation, ValueError):
        raise InvalidPatientData({field: ["Enter the weight in kg as a number."]}) from None
    lo, hi = WeightMeasurement.MIN_WEIGHT_KG, WeightMeasurement.MAX_WEIGHT_KG
    if not lo <= weight <= hi:
        raise InvalidPatientData(
            {field: [f"A weight of {weight} kg is outside {lo}–{hi} kg: check the scale entry."]}
        )
    return weight


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionReasonMissing(
            "A correction needs a written reason (what was wrong and where the right value "
            "comes from)."
        )
    return reason


@transaction.atomic
def register_patient(
    *,
    code: str,
    hospital: str,
    sex: str,
    weight_kg: Decimal | str | float,
    weighed_on: datetime.date | None = None,
    birth_date: datetime.date | None = None,
    age_years: int | None = None,
    consent_by_relatives: bool = False,
    consent_date: datetime.date | None = None,
    compassionate_use_authorisation: str = "",
    assessment: dict[str, Any] | None = None,
    assessed_on: datetime.date | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "patient registered",
) -> Patient:
    """Register a patient with a first weight and (optionally) a first assessment.

    Guarantees: all three records are created in one transaction, each with its audit
    event, or nothing is (a duplicate code, a weight outside 20–300 kg, a date in the
    future, a missing age and birth date are refused). Weight and assessment dates
    default to today. Returns the patient.
    """
    code = (code or "").strip().upper()
    today = timezone.localdate()
    patient = Patient(
        code=code,
        hospital=hospital,
        sex=sex,
        birth_date=birth_date,
        age_years=age_years,
        consent_by_relatives=bool(consent_by_relatives),
        consent_date=consent_date,
        compassionate_use_authorisation=(compassionate_use_authorisation or "").strip(),
    )
    _full_clean(patient)
    if prefix_error := patient.code_prefix_error():
        raise InvalidPatientData({"code": [prefix_error]})
    weight = _check_weight(weight_kg)
    weight_record = WeightMeasurement(weight_kg=weight, measured_on=weighed_on or today)
    _full_clean(weight_record, exclude=["patient"])
    assessment_record = None
    if assessment is not None:
        assessment_record = _build_assessment(assessment, assessed_on or today)
        _full_clean(assessment_record, exclude=["patient"])
    born = {
        "weighed_on": weight_record.measured_on,
        "assessed_on": assessment_record.assessed_on if assessment_record else None,
    }
    before_birth = {
        field: [f"This date is before the patient's birth ({birth_date:%Y-%m-%d})."]
        for field, day in born.items()
        if birth_date and day and day < birth_date
    }
    if before_birth:
        raise InvalidPatientData(before_birth)
    # Lock-free check, backed by the unique constraint: the message names the code.
    if Patient.objects.filter(code=code).exists():
        raise DuplicatePatientCode(
            f"A patient with code {code} is already registered: choose another code or open "
            "that patient's record.",
            field="code",
        )
    with audit_context(actor=actor, reason=reason):
        patient.save()
        weight_record.patient = patient
        weight_record.save()
        if assessment_record is not None:
            assessment_record.patient = patient
            assessment_record.save()
    return patient


def _build_assessment(values: dict[str, Any], assessed_on: datetime.date) -> ClinicalAssessment:
    unknown = set(values) - set(ClinicalAssessment.VALUE_FIELDS)
    if unknown:
        raise InvalidPatientData(
            {None: [f"Unknown assessment values: {', '.join(sorted(unknown))}."]}
        )
    return ClinicalAssessment(assessed_on=assessed_on, **values)


@transaction.atomic
def record_weight(
    patient: Patient,
    *,
    weight_kg: Decimal | str | float,
    measured_on: datetime.date | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> WeightMeasurement:
    """Record a new body weight; it becomes the current weight if it is the latest dated.

    Refused: a weight outside 20–300 kg, a date in the future. Returns the measurement.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    weight = _check_weight(weight_kg)
    record = WeightMeasurement(
        patient=patient, weight_kg=weight, measured_on=measured_on or timezone.localdate()
    )
    return _add(record, actor=actor, reason=reason or "weight recorded")


@transaction.atomic
def record_assessment(
    patient: Patient,
    *,
    values: dict[str, Any],
    assessed_on: datetime.date | None = None,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> ClinicalAssessment:
    """Record the inclusion/exclusion values measured on a date.

    The new assessment supersedes earlier ones for eligibility (the latest dated is used);
    earlier ones stay on file and on the trail. An unrecorded value stays empty and makes
    its criterion "missing". Refused: a date in the future, values out of range.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    record = _build_assessment(values, assessed_on or timezone.localdate())
    record.patient = patient
    return _add(record, actor=actor, reason=reason or "assessment recorded")


@transaction.atomic
def record_observation(
    patient: Patient,
    *,
    kind: str,
    value: Decimal | str | int | float,
    observed_at: datetime.datetime,
    unit: str = "",
    note: str = "",
    actor: AbstractBaseUser | None,
) -> Observation:
    """Record one follow-up value (a laboratory result or the WHO ordinal scale level).

    The unit defaults to the unit of the kind; another unit is refused rather than
    silently mixed into the series. Refused: a time in the future, a negative value, a WHO
    level that is not a whole number 0–8.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidPatientData({"value": ["Enter the value as a number."]}) from None
    record = Observation(
        patient=patient,
        kind=kind,
        value=number,
        unit=(unit or Observation.UNITS.get(kind, "")).strip(),
        observed_at=observed_at,
        note=(note or "").strip(),
    )
    return _add(record, actor=actor, reason="observation recorded")


@transaction.atomic
def record_outcome(
    patient: Patient,
    *,
    kind: str,
    occurred_on: datetime.date,
    note: str = "",
    actor: AbstractBaseUser | None,
) -> ClinicalOutcome:
    """Record an outcome of the follow-up: extubation, ICU discharge or death.

    Refused: a date in the future; a second death; any outcome after a recorded death;
    a death dated before a recorded extubation or ICU discharge.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    record = ClinicalOutcome(
        patient=patient, kind=kind, occurred_on=occurred_on, note=(note or "").strip()
    )
    _full_clean(record)
    death = patient.outcomes.filter(kind=ClinicalOutcome.Kind.DEATH).first()
    if death is not None:
        if kind == ClinicalOutcome.Kind.DEATH:
            raise InvalidPatientData(
                {
                    "kind": [
                        f"A death is already recorded for {patient.code} ({death.occurred_on})."
                    ]
                },
            )
        if occurred_on > death.occurred_on:
            raise InvalidPatientData(
                {
                    "occurred_on": [
                        f"{patient.code} died on {death.occurred_on}: no outcome can follow."
                    ]
                }
            )
    if kind == ClinicalOutcome.Kind.DEATH:
        later = patient.outcomes.filter(occurred_on__gt=occurred_on).first()
        if later is not None:
            raise InvalidPatientData(
                {
                    "occurred_on": [
                        f"{later.get_kind_display()} is recorded on {later.occurred_on}, after "
                        "this date: check the date of death."
                    ]
                }
            )
    return _add(record, actor=actor, reason="outcome recorded")


@transaction.atomic
def correct_patient(
    patient: Patient,
    *,
    changes: dict[str, Any],
    actor: AbstractBaseUser | None,
    reason: str,
) -> Patient:
    """Correct fields of a registered patient, with a written reason on the trail.

    Guarantees: the row is locked; only `CORRECTABLE_PATIENT_FIELDS` may change (the code
    is the patient's identity and is never rewritten); the audit event carries before,
    after and the reason. A correction that changes nothing writes nothing.
    """
    if "compassionate_use_authorisation" in changes:
        changes = {
            **changes,
            "compassionate_use_authorisation": (
                changes["compassionate_use_authorisation"] or ""
            ).strip(),
        }
    return _correct(
        patient, changes, allowed=CORRECTABLE_PATIENT_FIELDS, actor=actor, reason=reason
    )


@transaction.atomic
def correct_assessment(
    assessment: ClinicalAssessment,
    *,
    changes: dict[str, Any],
    actor: AbstractBaseUser | None,
    reason: str,
) -> ClinicalAssessment:
    """Correct recorded values of an assessment (a transcription error), with a reason.

    For a new measurement, record a new assessment instead: a correction rewrites what
    was recorded for that date, and the trail keeps the old value and the reason.
    """
    allowed = set(ClinicalAssessment.VALUE_FIELDS) | {"assessed_on"}
    return _correct(assessment, changes, allowed=allowed, actor=actor, reason=reason)


def _correct(record, changes: dict[str, Any], *, allowed: set[str], actor, reason: str):
    """Apply a correction to one locked record: only `allowed` fields, a written reason,
    validated, one audit event with before, after and the reason; nothing when unchanged."""
    reason = _require_reason(reason)
    not_allowed = set(changes) - set(allowed)
    if not_allowed:
        raise InvalidPatientData(
            {None: [f"These fields cannot be corrected: {', '.join(sorted(not_allowed))}."]}
        )
    locked = type(record).objects.select_for_update().get(pk=record.pk)
    changed = False
    for name, value in changes.items():
        if getattr(locked, name) != value:
            setattr(locked, name, value)
            changed = True
    if not changed:
        return locked
    _full_clean(locked)
    with audit_context(actor=actor, reason=reason):
        locked.save(audit_action="correct")
    return locked
