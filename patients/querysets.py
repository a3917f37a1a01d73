"""Read paths over patients (no writes here)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from patients.models import ClinicalAssessment, Observation, Patient, WeightMeasurement


def patients_with_records() -> QuerySet[Patient]:
    """Patients with their weights and assessments prefetched, so that
    `current_weight()`, `latest_assessment()` and eligibility cost no query per patient."""
    return Patient.objects.prefetch_related(
        Prefetch("weights", queryset=WeightMeasurement.objects.order_by("measured_on", "pk")),
        Prefetch("assessments", queryset=ClinicalAssessment.objects.order_by("assessed_on", "pk")),
        # Eligibility reads the recorded outcomes (death, extubation, ICU discharge).
        "outcomes",
    )


def observations_of(patient: Patient) -> QuerySet[Observation]:
    """A patient's follow-up observations, in time order."""
    return Observation.objects.filter(patient=patient).order_by("observed_at", "kind", "pk")
