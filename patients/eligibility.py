"""Eligibility of a patient for AT-MSC, evaluated criterion by criterion from recorded values.

The rules are those of the case series (DESIGN.md "Patient"). All thresholds live in the
module constants just below and nowhere else: pages, services and the dose order read
them from here. A value that was not recorded makes its criterion "missing", never "met",
so a patient with a gap in the record is not eligible.

`evaluate_eligibility()` is a pure function: it reads the patient, the latest assessment
and the recorded outcomes (death, extubation, ICU discharge), and writes nothing. A death
on or before the day evaluated makes "not deceased" not met; an extubation or ICU
discharge after the assessment makes "invasive mechanical ventilation in ICU" not met
until a newer assessment records the patient ventilated in ICU again.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from patients.models import ClinicalAssessment, ClinicalOutcome, Patient

# --- Thresholds (the single place they are defined) -------------------------------------
MIN_AGE_YEARS_EXCLUSIVE = 18  # age > 18, in completed years (19 and over)
RESPIRATORY_RATE_MIN_PER_MIN = 30  # RR >= 30/min
SPO2_MAX_PCT = Decimal("93")  # SpO2 <= 93 % at rest
PAO2_FIO2_MAX_MMHG = 300  # PaO2/FiO2 <= 300 mmHg
SOFA_MIN_EXCLUSIVE = 3  # SOFA > 3
WHO_ORDINAL_REQUIRED_LEVEL = 6  # WHO ordinal scale level 6
CREATININE_CLEARANCE_MIN_EXCLUSIVE_ML_MIN = Decimal("30")  # CrCl > 30 ml/min
TRANSAMINASE_ULN_U_L = Decimal("40")  # upper limit of normal for ALT and AST
TRANSAMINASE_MAX_TIMES_ULN = 5  # ALT and AST < 5 x ULN
TRANSAMINASE_LIMIT_EXCLUSIVE_U_L = TRANSAMINASE_ULN_U_L * TRANSAMINASE_MAX_TIMES_ULN  # 200

MET = "met"
NOT_MET = "not_met"
MISSING = "missing"

STATUS_LABELS = {MET: "Met", NOT_MET: "Not met", MISSING: "Missing"}


@dataclass(frozen=True)
class Criterion:
    """One line of the eligibility table."""

    code: str
    label: str
    status: str  # "met", "not_met" or "missing"
    value: str  # the recorded value(s) as shown to the user; "not recorded" when missing

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def css_class(self) -> str:
        return self.status.replace("_", "-")

    @property
    def is_met(self) -> bool:
        return self.status == MET


@dataclass(frozen=True)
class Eligibility:
    criteria: list[Criterion] = field(default_factory=list)
    assessed_on: datetime.date | None = None

    @property
    def is_eligible(self) -> bool:
        """True only when every criterion is met (none missing, none failed)."""
        return bool(self.criteria) and all(c.status == MET for c in self.criteria)

    @property
    def not_met(self) -> list[Criterion]:
        return [c for c in self.criteria if c.status == NOT_MET]

    @property
    def missing(self) -> list[Criterion]:
        return [c for c in self.criteria if c.status == MISSING]

    def reasons(self) -> list[str]:
        """One sentence per criterion that is not met or missing, for refusals."""
        lines = [f"Not met: {c.label} (recorded: {c.value})." for c in self.not_met]
        lines += [f"Missing: {c.label} — not recorded." for c in self.missing]
        return lines


NOT_RECORDED = "not recorded"


def _yes_no(value: bool | None) -> str:
    if value is None:
        return NOT_RECORDED
    return "yes" if value else "no"


def _num(value, unit: str = "") -> str:
    if value is None:
        return NOT_RECORDED
    if isinstance(value, Decimal):
        value = value.normalize()
        text = f"{value:f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _required_true(code: str, label: str, value: bool | None) -> Criterion:
    if value is None:
        return Criterion(code, label, MISSING, NOT_RECORDED)
    return Criterion(code, label, MET if value else NOT_MET, _yes_no(value))


def _required_false(code: str, label: str, value: bool | None) -> Criterion:
    if value is None:
        return Criterion(code, label, MISSING, NOT_RECORDED)
    return Criterion(code, label, NOT_MET if value else MET, _yes_no(value))


def _threshold(code: str, label: str, value, unit: str, passes) -> Criterion:
    if value is None:
        return Criterion(code, label, MISSING, NOT_RECORDED)
    return Criterion(code, label, MET if passes(value) else NOT_MET, _num(value, unit))


def _respiratory_severity(a: ClinicalAssessment | None) -> Criterion:
    """At least one of RR >= 30, SpO2 <= 93, PaO2/FiO2 <= 300, imaging progression > 50 %.

    Met as soon as one recorded value qualifies; not met only when all four are recorded
    and none qualifies; otherwise missing (an unrecorded value might still qualify).
    """
    label = (
        f"At least one of: RR ≥ {RESPIRATORY_RATE_MIN_PER_MIN}/min, SpO₂ ≤ {SPO2_MAX_PCT} % at "
        f"rest, PaO₂/FiO₂ ≤ {PAO2_FIO2_MAX_MMHG} mmHg, imaging progression > 50 % in 24–48 h"
    )
    if a is None:
        return Criterion("respiratory_severity", label, MISSING, NOT_RECORDED)
    rr, spo2, pf, prog = (
        a.respiratory_rate_per_min,
        a.spo2_pct,
        a.pao2_fio2_mmhg,
        a.imaging_progression_over_50_pct,
    )
    value = (
        f"RR {_num(rr, '/min')}; SpO₂ {_num(spo2, '%')}; PaO₂/FiO₂ {_num(pf, 'mmHg')}; "
        f"progression > 50 % {_yes_no(prog)}"
    )
    qualifies = [
        rr is not None and rr >= RESPIRATORY_RATE_MIN_PER_MIN,
        spo2 is not None and Decimal(spo2) <= SPO2_MAX_PCT,
        pf is not None and pf <= PAO2_FIO2_MAX_MMHG,
        prog is True,
    ]
    if any(qualifies):
        status = MET
    elif None in (rr, spo2, pf, prog):
        status = MISSING
    else:
        status = NOT_MET
    return Criterion("respiratory_severity", label, status, value)


def _outcomes(patient: Patient, on: datetime.date | None) -> list[ClinicalOutcome]:
    """The patient's recorded outcomes dated on or before `on` (today by default)."""
    if patient.pk is None:
        return []
    cache = getattr(patient, "_prefetched_objects_cache", {})
    outcomes = list(cache["outcomes"]) if "outcomes" in cache else list(patient.outcomes.all())
    if on is None:
        from django.utils import timezone

        on = timezone.localdate()
    return sorted(
        (o for o in outcomes if o.occurred_on <= on), key=lambda o: (o.occurred_on, o.pk or 0)
    )


def _not_deceased(outcomes: list[ClinicalOutcome]) -> Criterion:
    death = next((o for o in outcomes if o.kind == "death"), None)
    label = "Not deceased (no death recorded)"
    if death is None:
        return Criterion("not_deceased", label, MET, "no death recorded")
    return Criterion("not_deceased", label, NOT_MET, f"died on {death.occurred_on:%Y-%m-%d}")


def _after_assessment(outcome: ClinicalOutcome, a: ClinicalAssessment) -> bool:
    """Whether the outcome happened after the assessment: a later day, or the same day
    and recorded after the assessment was (the order of entry is all a day tells)."""
    if outcome.occurred_on != a.assessed_on:
        return outcome.occurred_on > a.assessed_on
    if outcome.created_at is None or a.created_at is None:
        return True
    return outcome.created_at > a.created_at


def _invasive_ventilation(
    a: ClinicalAssessment | None, outcomes: list[ClinicalOutcome]
) -> Criterion:
    """Ventilated in ICU per the latest assessment, and not extubated or discharged from
    ICU since that assessment."""
    code, label = "invasive_ventilation_in_icu", "Invasive mechanical ventilation in ICU"
    value = getattr(a, "invasive_ventilation_in_icu", None)
    criterion = _required_true(code, label, value)
    if not criterion.is_met:
        return criterion
    ended = [
        o
        for o in outcomes
        if o.kind in ("extubation", "icu_discharge") and _after_assessment(o, a)
    ]
    if not ended:
        return criterion
    event = ended[0]
    return Criterion(
        code,
        label,
        NOT_MET,
        f"yes on {a.assessed_on:%Y-%m-%d}, but {event.get_kind_display().lower()} on "
        f"{event.occurred_on:%Y-%m-%d} (record a new assessment if ventilated again)",
    )


def evaluate_eligibility(
    patient: Patient,
    assessment: ClinicalAssessment | None = None,
    *,
    on: datetime.date | None = None,
) -> Eligibility:
    """Evaluate every inclusion and exclusion criterion for `patient`.

    Uses `assessment` when given (to preview a form before saving), else the patient's
    latest recorded assessment. `on` is the day the age is computed for and the outcomes
    are counted up to (today by default).
    Guarantees: one Criterion per rule, in a stable order; `is_eligible` only when all met.
    """
    if assessment is None and patient.pk is not None:
        assessment = patient.latest_assessment()
    a = assessment
    get = (lambda name: getattr(a, name)) if a is not None else (lambda name: None)

    age = patient.age_on(on)
    outcomes = _outcomes(patient, on)
    criteria = [
        _threshold(
            "age",
            f"Age > {MIN_AGE_YEARS_EXCLUSIVE} years",
            age,
            "years",
            lambda v: v > MIN_AGE_YEARS_EXCLUSIVE,
        ),
        _not_deceased(outcomes),
        Criterion(
            "consent",
            "Informed consent by relatives on file",
            MET if patient.consent_by_relatives else MISSING,
            (f"given on {patient.consent_date:%Y-%m-%d}" if patient.consent_date else "given")
            if patient.consent_by_relatives
            else NOT_RECORDED,
        ),
        Criterion(
            "aemps_authorisation",
            "Compassionate-use authorisation (AEMPS) on file",
            MET if patient.compassionate_use_authorisation.strip() else MISSING,
            patient.compassionate_use_authorisation.strip() or NOT_RECORDED,
        ),
        _required_true(
            "sars_cov2_rt_pcr",
            "SARS-CoV-2 confirmed by RT-PCR",
            get("sars_cov2_rt_pcr_confirmed"),
        ),
        _required_true(
            "pneumonia_on_imaging", "Pneumonia on chest X-ray or CT", get("pneumonia_on_imaging")
        ),
        _invasive_ventilation(a, outcomes),
        _respiratory_severity(a),
        _threshold(
            "sofa",
            f"SOFA score > {SOFA_MIN_EXCLUSIVE}",
            get("sofa_score"),
            "",
            lambda v: v > SOFA_MIN_EXCLUSIVE,
        ),
        _threshold(
            "who_ordinal_scale",
            f"WHO ordinal scale level {WHO_ORDINAL_REQUIRED_LEVEL}",
            get("who_ordinal_scale"),
            "",
            lambda v: v == WHO_ORDINAL_REQUIRED_LEVEL,
        ),
        _required_false(
            "no_multi_organ_failure", "No multi-organ failure", get("multi_organ_failure")
        ),
        _threshold(
            "creatinine_clearance",
            f"Creatinine clearance > {CREATININE_CLEARANCE_MIN_EXCLUSIVE_ML_MIN} ml/min",
            get("creatinine_clearance_ml_min"),
            "ml/min",
            lambda v: Decimal(v) > CREATININE_CLEARANCE_MIN_EXCLUSIVE_ML_MIN,
        ),
        _threshold(
            "alt",
            f"ALT < {TRANSAMINASE_MAX_TIMES_ULN} × ULN "
            f"({TRANSAMINASE_LIMIT_EXCLUSIVE_U_L.normalize():f} U/l)",
            get("alt_u_l"),
            "U/l",
            lambda v: Decimal(v) < TRANSAMINASE_LIMIT_EXCLUSIVE_U_L,
        ),
        _threshold(
            "ast",
            f"AST < {TRANSAMINASE_MAX_TIMES_ULN} × ULN "
            f"({TRANSAMINASE_LIMIT_EXCLUSIVE_U_L.normalize():f} U/l)",
            get("ast_u_l"),
            "U/l",
            lambda v: Decimal(v) < TRANSAMINASE_LIMIT_EXCLUSIVE_U_L,
        ),
        _required_false(
            "no_active_neoplasm", "Exclusion: no active neoplasm", get("active_neoplasm")
        ),
        _required_false(
            "no_systemic_immunosuppression",
            "Exclusion: no systemic immunosuppression before admission",
            get("systemic_immunosuppression"),
        ),
    ]
    return Eligibility(criteria=criteria, assessed_on=getattr(a, "assessed_on", None))
