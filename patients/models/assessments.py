"""A dated clinical assessment: the values eligibility is evaluated from."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from audit.audited import AuditedModel
from core.plausibility import moment_errors
from patients.models.patient import Patient, born_before_errors
from patients.querysets import PatientRecordQuerySet


class ClinicalAssessment(AuditedModel):
    """The inclusion/exclusion values recorded on a date. Empty means not recorded.

    Eligibility is evaluated from the latest assessment (see `patients.eligibility`);
    a correction is a new assessment, or an edit with a reason, both on the trail.
    """

    objects = PatientRecordQuerySet.as_manager()

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    assessed_on = models.DateField()

    sars_cov2_rt_pcr_confirmed = models.BooleanField(
        "SARS-CoV-2 confirmed by RT-PCR", null=True, blank=True
    )
    pneumonia_on_imaging = models.BooleanField(
        "pneumonia on chest X-ray or CT", null=True, blank=True
    )
    invasive_ventilation_in_icu = models.BooleanField(
        "invasive mechanical ventilation in ICU", null=True, blank=True
    )
    respiratory_rate_per_min = models.PositiveSmallIntegerField(
        "respiratory rate (/min)", null=True, blank=True, validators=[MaxValueValidator(80)]
    )
    spo2_pct = models.DecimalField(
        "SpO₂ at rest (%)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    pao2_fio2_mmhg = models.PositiveSmallIntegerField(
        "PaO₂/FiO₂ (mmHg)", null=True, blank=True, validators=[MaxValueValidator(700)]
    )
    imaging_progression_over_50_pct = models.BooleanField(
        "imaging progression > 50 % in 24–48 h", null=True, blank=True
    )
    sofa_score = models.PositiveSmallIntegerField(
        "SOFA score", null=True, blank=True, validators=[MaxValueValidator(24)]
    )
    who_ordinal_scale = models.PositiveSmallIntegerField(
        "WHO ordinal scale level", null=True, blank=True, validators=[MaxValueValidator(8)]
    )
    multi_organ_failure = models.BooleanField("multi-organ failure", null=True, blank=True)
    creatinine_clearance_ml_min = models.DecimalField(
        "creatinine clearance (ml/min)",
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    alt_u_l = models.DecimalField(
        "ALT (U/l)",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    ast_u_l = models.DecimalField(
        "AST (U/l)",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    active_neoplasm = models.BooleanField("active neoplasm", null=True, blank=True)
    systemic_immunosuppression = models.BooleanField(
        "systemic immunosuppression before admission", null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The recorded values, in the order the eligibility page shows them.
    VALUE_FIELDS = (
        "sars_cov2_rt_pcr_confirmed",
        "pneumonia_on_imaging",
        "invasive_ventilation_in_icu",
        "respiratory_rate_per_min",
        "spo2_pct",
        "pao2_fio2_mmhg",
        "imaging_progression_over_50_pct",
        "sofa_score",
        "who_ordinal_scale",
        "multi_organ_failure",
        "creatinine_clearance_ml_min",
        "alt_u_l",
        "ast_u_l",
        "active_neoplasm",
        "systemic_immunosuppression",
    )

    class Meta:
        ordering = ["patient", "-assessed_on", "-pk"]

    def __str__(self):
        return f"assessment of {self.assessed_on}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} assessment {self.assessed_on}"

    def reason_required(self, stored: dict) -> bool:
        return True

    def clean(self):
        errors = moment_errors("assessed_on", self.assessed_on, what="The assessment date")
        errors = errors or born_before_errors(self, "assessed_on", self.assessed_on)
        if errors:
            raise ValidationError(errors)
