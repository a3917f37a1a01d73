"""Follow-up observations (labs, WHO scale) and clinical outcomes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from audit.audited import AuditedModel
from core.plausibility import moment_errors
from patients.models.patient import Patient, born_before_errors
from patients.querysets import PatientRecordQuerySet


class Observation(AuditedModel):
    """A follow-up laboratory value or WHO ordinal scale level at a time."""

    objects = PatientRecordQuerySet.as_manager()

    class Kind(models.TextChoices):
        CRP = "crp", "C-reactive protein"
        IL6 = "il6", "IL-6"
        FERRITIN = "ferritin", "Ferritin"
        LDH = "ldh", "LDH"
        D_DIMER = "d_dimer", "D-dimer"
        FIBRINOGEN = "fibrinogen", "Fibrinogen"
        LYMPHOCYTES = "lymphocytes", "Lymphocytes"
        WHO_SCALE = "who_scale", "WHO ordinal scale"

    # The unit each kind is recorded in (the paper's units; its "ferritin mg/dl" and
    # "D-dimer ng/mcL" are read as ng/ml, the unit of the normal ranges it quotes).
    UNITS = {
        Kind.CRP: "mg/dl",
        Kind.IL6: "pg/ml",
        Kind.FERRITIN: "ng/ml",
        Kind.LDH: "U/l",
        Kind.D_DIMER: "ng/ml",
        Kind.FIBRINOGEN: "mg/dl",
        Kind.LYMPHOCYTES: "×10³/µl",
        Kind.WHO_SCALE: "level",
    }

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    unit = models.CharField(max_length=16)
    observed_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["patient", "observed_at", "kind", "pk"]
        indexes = [models.Index(fields=["patient", "kind", "observed_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.value} {self.unit}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} {self.kind} {self.observed_at:%Y-%m-%d %H:%M}"

    def reason_required(self, stored: dict) -> bool:
        return True

    def clean(self):
        errors = moment_errors("observed_at", self.observed_at, what="The observation time")
        errors = errors or born_before_errors(self, "observed_at", self.observed_at)
        expected = self.UNITS.get(self.kind)
        if expected and self.unit and self.unit != expected:
            errors["unit"] = f"{self.get_kind_display()} is recorded in {expected}."
        if (
            self.kind == self.Kind.WHO_SCALE
            and self.value is not None
            and (self.value != int(self.value) or not 0 <= self.value <= 8)
        ):
            errors["value"] = "The WHO ordinal scale is a whole level from 0 to 8."
        if errors:
            raise ValidationError(errors)


class ClinicalOutcome(AuditedModel):
    """An outcome event of the follow-up: extubation, ICU discharge or death, dated."""

    objects = PatientRecordQuerySet.as_manager()

    class Kind(models.TextChoices):
        EXTUBATION = "extubation", "Extubation"
        ICU_DISCHARGE = "icu_discharge", "ICU discharge"
        DEATH = "death", "Death"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="outcomes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["patient", "occurred_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(kind="death"),
                name="outcome_one_death_per_patient",
                violation_error_message="A death is already recorded for this patient.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.occurred_on}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} {self.kind} {self.occurred_on}"

    def reason_required(self, stored: dict) -> bool:
        return True

    def clean(self):
        errors = moment_errors("occurred_on", self.occurred_on, what="The date")
        errors = errors or born_before_errors(self, "occurred_on", self.occurred_on)
        if errors:
            raise ValidationError(errors)
