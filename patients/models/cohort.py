"""The clinical course a cohort report needs (DESIGN "Cohort data and the report").

Hospital admission and end of follow-up (`HospitalStay`, one per patient), periods of
invasive ventilation and ECMO (`SupportPeriod`), the chest X-ray score of Wong et al. by
date (`ChestXray`), lymphocyte subsets before and about 10 days after dose 1
(`LymphocyteSubsets`) and infections (`Infection`). The WHO ordinal scale by day is an
`Observation` of kind `who_scale` (one home for that fact). Written only by
`patients.cohort_services`; the plausibility rules that need other records (not before
birth, after admission, no overlap) are in `patients.cohort_rules`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from audit.audited import AuditedModel
from patients.models.patient import Patient

# Wong et al. (Radiology 2020): each lung 0–4 by the extent of consolidation or
# ground-glass opacity, summed: 0–8.
WONG_MAX = 8
# Cells per µl of blood: far above any lymphocyte subset count of an adult.
SUBSET_MAX_PER_UL = 10_000


class _PatientRecord(AuditedModel):
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True

    def reason_required(self, stored: dict) -> bool:
        return True


class HospitalStay(_PatientRecord):
    """The admission to hospital and the last day of follow-up of a patient."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="stay")
    admitted_on = models.DateField("hospital admission")
    follow_up_ended_on = models.DateField(
        "end of follow-up", null=True, blank=True, help_text="Last day the patient was followed."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(follow_up_ended_on__isnull=True)
                | Q(follow_up_ended_on__gte=F("admitted_on")),
                name="stay_follow_up_after_admission",
                violation_error_message="The end of follow-up cannot precede the admission.",
            )
        ]

    def __str__(self):
        return f"admitted {self.admitted_on}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} stay"


class SupportPeriod(_PatientRecord):
    """A period of invasive mechanical ventilation or of ECMO; open while `ended_at` is
    empty."""

    class Kind(models.TextChoices):
        INVASIVE_VENTILATION = "imv", "Invasive mechanical ventilation"
        ECMO = "ecmo", "ECMO"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="support_periods")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["patient", "started_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=F("started_at")),
                name="support_period_ends_after_start",
                violation_error_message="A period ends after it starts.",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} {self.kind} {self.started_at:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.started_at and self.ended_at and self.ended_at <= self.started_at:
            raise ValidationError({"ended_at": "The end must come after the start."})


class ChestXray(_PatientRecord):
    """The chest X-ray score of Wong et al. (0–8) on a date."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="xrays")
    taken_on = models.DateField()
    wong_score = models.PositiveSmallIntegerField(
        "Wong score (0–8)", validators=[MaxValueValidator(WONG_MAX)]
    )

    class Meta:
        ordering = ["patient", "taken_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "taken_on"],
                name="xray_one_score_per_day",
                violation_error_message="A chest X-ray score is already recorded on this date.",
            ),
            models.CheckConstraint(
                condition=Q(wong_score__lte=WONG_MAX), name="xray_wong_score_range"
            ),
        ]

    def __str__(self):
        return f"chest X-ray {self.taken_on}: {self.wong_score}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} X-ray {self.taken_on}"


class LymphocyteSubsets(_PatientRecord):
    """B, CD4+ T, CD8+ T and NK cells per µl by flow cytometry, before dose 1 or about
    10 days after it."""

    class Timepoint(models.TextChoices):
        BEFORE_DOSE_1 = "before", "Before dose 1"
        AFTER_DOSE_1 = "after", "About 10 days after dose 1"

    COUNT_FIELDS = ("b_cells_per_ul", "cd4_per_ul", "cd8_per_ul", "nk_per_ul")

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="lymphocyte_subsets"
    )
    timepoint = models.CharField(max_length=8, choices=Timepoint.choices)
    sampled_on = models.DateField()
    b_cells_per_ul = models.PositiveIntegerField(
        "B cells (/µl)", validators=[MaxValueValidator(SUBSET_MAX_PER_UL)]
    )
    cd4_per_ul = models.PositiveIntegerField(
        "CD4+ T cells (/µl)", validators=[MaxValueValidator(SUBSET_MAX_PER_UL)]
    )
    cd8_per_ul = models.PositiveIntegerField(
        "CD8+ T cells (/µl)", validators=[MaxValueValidator(SUBSET_MAX_PER_UL)]
    )
    nk_per_ul = models.PositiveIntegerField(
        "NK cells (/µl)", validators=[MaxValueValidator(SUBSET_MAX_PER_UL)]
    )

    class Meta:
        ordering = ["patient", "sampled_on", "pk"]
        verbose_name_plural = "lymphocyte subsets"
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "timepoint"],
                name="subsets_one_per_timepoint",
                violation_error_message="Lymphocyte subsets are already recorded for this "
                "time point: correct them instead.",
            )
        ]

    def __str__(self):
        return f"lymphocyte subsets {self.sampled_on}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} subsets {self.timepoint}"


class Infection(_PatientRecord):
    """An infection diagnosed during the stay: the organism and the date."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="infections")
    organism = models.CharField(max_length=120, help_text="e.g. Candida spp., MRSA.")
    site = models.CharField(max_length=80, blank=True, help_text="e.g. pneumonia, bloodstream.")
    diagnosed_on = models.DateField()

    class Meta:
        ordering = ["patient", "diagnosed_on", "pk"]

    def __str__(self):
        return f"{self.organism} on {self.diagnosed_on}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} infection {self.diagnosed_on}"
