"""Read paths over patients (no writes here): what a user may see, with what it needs.

Every page reaches patients through `Patient.objects.for_user(user)`: the role's view
permission, then the user's hospitals (`sites.querysets.SiteScopedQuerySet`). A patient and
every record about them belong to the patient's hospital; facilities see none of them.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from sites.querysets import SiteScopedQuerySet
from sites.scope import SiteScope


class PatientQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> PatientQuerySet:
        return self.filter(hospital_id__in=scope.hospital_ids)

    def with_records(self) -> PatientQuerySet:
        """Weights, assessments and outcomes prefetched, so that `current_weight()`,
        `latest_assessment()` and eligibility cost no query per patient."""
        weights = self.model._meta.get_field("weights").related_model
        assessments = self.model._meta.get_field("assessments").related_model
        return self.select_related("hospital").prefetch_related(
            Prefetch("weights", queryset=weights.objects.order_by("measured_on", "pk")),
            Prefetch("assessments", queryset=assessments.objects.order_by("assessed_on", "pk")),
            # Eligibility reads the recorded outcomes (death, extubation, ICU discharge).
            "outcomes",
        )


class PatientRecordQuerySet(SiteScopedQuerySet):
    """Weights, assessments, observations, outcomes: those of the patients seen."""

    def within(self, scope: SiteScope) -> PatientRecordQuerySet:
        return self.filter(patient__hospital_id__in=scope.hospital_ids)


def patient_or_404(user, code: str):
    """The patient with this code if `user` may see them; else 404 (existence not told)."""
    from patients.models import Patient

    return get_object_or_404(Patient.objects.for_user(user), code=code)


def observations_of(patient) -> QuerySet:
    """A patient's follow-up observations, in time order."""
    return patient.observations.order_by("observed_at", "kind", "pk")
