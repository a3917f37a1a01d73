"""Pseudonymised ICU patients, their weights, recorded inclusion values and follow-up.

No names anywhere: a patient is a code (e.g. "SAL-P01"). Every record is audited; a change
to a stored record needs a written reason (a correction), and the trail keeps the old value.
Records are appended rather than overwritten where the clinic would do so: a new weight or
a new assessment supersedes the previous one, which stays on file.
"""

from patients.models.assessments import ClinicalAssessment
from patients.models.cohort import (
    ChestXray,
    HospitalStay,
    Infection,
    LymphocyteSubsets,
    SupportPeriod,
)
from patients.models.follow_up import ClinicalOutcome, Observation
from patients.models.patient import Patient, WeightMeasurement

__all__ = [
    "Patient",
    "WeightMeasurement",
    "ClinicalAssessment",
    "Observation",
    "ClinicalOutcome",
    "HospitalStay",
    "SupportPeriod",
    "ChestXray",
    "LymphocyteSubsets",
    "Infection",
]
