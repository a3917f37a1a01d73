"""Factories for patients (owned by the patients/dosing work).

`PatientFactory()` makes an eligible patient by default: consent and AEMPS reference on
file, a 78 kg weight and an assessment meeting every criterion. Pass `weight_kg=False` or
`assessment=False` to leave them out, or `assessment={...}` to override single values.
"""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from patients.models import (
    ClinicalAssessment,
    ClinicalOutcome,
    Observation,
    Patient,
    WeightMeasurement,
)
from tests.factories.base import AuditedFactory

__all__ = [
    "ELIGIBLE_VALUES",
    "PatientFactory",
    "WeightMeasurementFactory",
    "ClinicalAssessmentFactory",
    "ObservationFactory",
    "ClinicalOutcomeFactory",
]

# Inclusion values that meet every criterion (each one chosen away from its boundary).
ELIGIBLE_VALUES = {
    "sars_cov2_rt_pcr_confirmed": True,
    "pneumonia_on_imaging": True,
    "invasive_ventilation_in_icu": True,
    "respiratory_rate_per_min": 32,
    "spo2_pct": Decimal("90.0"),
    "pao2_fio2_mmhg": 150,
    "imaging_progression_over_50_pct": True,
    "sofa_score": 6,
    "who_ordinal_scale": 6,
    "multi_organ_failure": False,
    "creatinine_clearance_ml_min": Decimal("85.0"),
    "alt_u_l": Decimal("45.0"),
    "ast_u_l": Decimal("52.0"),
    "active_neoplasm": False,
    "systemic_immunosuppression": False,
}


class ClinicalAssessmentFactory(AuditedFactory):
    class Meta:
        model = ClinicalAssessment

    patient = factory.SubFactory("tests.factories.patients.PatientFactory", assessment=False)
    assessed_on = factory.LazyFunction(timezone.localdate)

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        return {**ELIGIBLE_VALUES, **kwargs}


class WeightMeasurementFactory(AuditedFactory):
    class Meta:
        model = WeightMeasurement

    patient = factory.SubFactory("tests.factories.patients.PatientFactory", weight_kg=False)
    weight_kg = Decimal("78.0")
    measured_on = factory.LazyFunction(timezone.localdate)


class PatientFactory(AuditedFactory):
    class Meta:
        model = Patient
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"TST-P{n:03d}")
    hospital = factory.SubFactory("tests.factories.sites.HospitalFactory")
    age_years = 60
    sex = Patient.Sex.MALE
    consent_by_relatives = True
    consent_date = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=1))
    compassionate_use_authorisation = "AEMPS-UC-2020-001"

    @factory.post_generation
    def weight_kg(self, create, extracted, **kwargs):
        """A first weight (78 kg unless given); `weight_kg=False` records none."""
        if not create or extracted is False:
            return
        WeightMeasurementFactory(
            patient=self,
            weight_kg=Decimal("78.0") if extracted is None else Decimal(str(extracted)),
        )

    @factory.post_generation
    def assessment(self, create, extracted, **kwargs):
        """An eligible assessment; a dict overrides values; `assessment=False` records none."""
        if not create or extracted is False:
            return
        ClinicalAssessmentFactory(patient=self, **(extracted or {}))


class ObservationFactory(AuditedFactory):
    class Meta:
        model = Observation

    patient = factory.SubFactory(PatientFactory)
    kind = Observation.Kind.CRP
    value = Decimal("12.5")
    unit = factory.LazyAttribute(lambda o: Observation.UNITS[o.kind])
    observed_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(hours=1))


class ClinicalOutcomeFactory(AuditedFactory):
    class Meta:
        model = ClinicalOutcome

    patient = factory.SubFactory(PatientFactory)
    kind = ClinicalOutcome.Kind.EXTUBATION
    occurred_on = factory.LazyFunction(timezone.localdate)
