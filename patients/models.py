"""Pseudonymised ICU patients, their weights, recorded inclusion values and follow-up.

No names anywhere: a patient is a code (e.g. "SAL-P01"). Every record is audited; a change
to a stored record needs a written reason (a correction), and the trail keeps the old value.
Records are appended rather than overwritten where the clinic would do so: a new weight or
a new assessment supersedes the previous one, which stays on file.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from audit.models import AuditedModel

PATIENT_CODE_VALIDATOR = RegexValidator(
    r"^[A-Z0-9]{2,6}-[A-Z0-9]{1,10}$",
    "Use a pseudonymised code such as SAL-P01: capital letters and digits, one hyphen, no names.",
)


class Patient(AuditedModel):
    """One treated (or screened) patient, identified only by a pseudonymised code."""

    class Hospital(models.TextChoices):
        # The four TerCel hospitals of the case series.
        SALAMANCA = "HUS", "Hospital Universitario de Salamanca"
        JIMENEZ_DIAZ = "FJD", "Fundación Jiménez Díaz"
        GREGORIO_MARANON = "HGM", "Hospital Universitario Gregorio Marañón"
        NAVARRA = "CUN", "Clínica Universidad de Navarra"

    class Sex(models.TextChoices):
        MALE = "M", "Male"
        FEMALE = "F", "Female"

    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[PATIENT_CODE_VALIDATOR],
        help_text="Pseudonymised code, e.g. SAL-P01. Never a name.",
    )
    hospital = models.CharField(max_length=3, choices=Hospital.choices)
    birth_date = models.DateField(null=True, blank=True)
    age_years = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(120)],
        help_text="Age at registration, when the date of birth is not recorded.",
    )
    sex = models.CharField(max_length=1, choices=Sex.choices)
    consent_by_relatives = models.BooleanField(
        default=False, help_text="Informed consent given by the patient's relatives."
    )
    consent_date = models.DateField(null=True, blank=True)
    compassionate_use_authorisation = models.CharField(
        "AEMPS compassionate-use authorisation",
        max_length=60,
        blank=True,
        help_text="Reference of the Spanish Medicines Agency (AEMPS) authorisation.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(birth_date__isnull=False) | models.Q(age_years__isnull=False),
                name="patient_birth_date_or_age",
                violation_error_message="Record the date of birth or the age in years.",
            ),
            models.CheckConstraint(
                condition=models.Q(consent_by_relatives=False)
                | models.Q(consent_date__isnull=False),
                name="patient_consent_has_date",
                violation_error_message="Record the date the relatives gave consent.",
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def audit_code(self) -> str:
        return self.code

    def reason_required(self, stored: dict) -> bool:
        # A registered patient's record is clinical data: every correction says why.
        return True

    def clean(self):
        errors = {}
        today = timezone.localdate()
        if self.birth_date and self.birth_date > today:
            errors["birth_date"] = "The date of birth cannot be in the future."
        if self.consent_date and self.consent_date > today:
            errors["consent_date"] = "The consent date cannot be in the future."
        if self.consent_by_relatives and not self.consent_date:
            errors["consent_date"] = "Record the date the relatives gave consent."
        if self.birth_date is None and self.age_years is None:
            errors["age_years"] = "Record the date of birth or the age in years."
        if errors:
            raise ValidationError(errors)

    def age_on(self, day: datetime.date | None = None) -> int | None:
        """Age in whole years on `day` (today by default): from the date of birth when
        known, else the age recorded at registration (plus full years since then)."""
        day = day or timezone.localdate()
        if self.birth_date:
            years = day.year - self.birth_date.year
            if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
                years -= 1
            return years
        if self.age_years is None:
            return None
        registered = timezone.localdate(self.created_at) if self.created_at else day
        elapsed = day.year - registered.year
        if (day.month, day.day) < (registered.month, registered.day):
            elapsed -= 1
        return self.age_years + max(elapsed, 0)

    def current_weight(self) -> WeightMeasurement | None:
        """The latest weight measurement (by date measured, then by entry), or None.

        Uses the prefetched `weights` when a list page prefetched them, so it costs no query.
        """
        cache = getattr(self, "_prefetched_objects_cache", {})
        if "weights" in cache:
            weights = list(cache["weights"])
            if not weights:
                return None
            return max(weights, key=lambda w: (w.measured_on, w.pk))
        return self.weights.order_by("-measured_on", "-pk").first()

    def latest_assessment(self) -> ClinicalAssessment | None:
        """The assessment eligibility is evaluated from: the latest one recorded."""
        cache = getattr(self, "_prefetched_objects_cache", {})
        if "assessments" in cache:
            assessments = list(cache["assessments"])
            if not assessments:
                return None
            return max(assessments, key=lambda a: (a.assessed_on, a.pk))
        return self.assessments.order_by("-assessed_on", "-pk").first()


class WeightMeasurement(AuditedModel):
    """A body weight on a date; the dose is calculated from the latest one."""

    MIN_WEIGHT_KG = Decimal("20")
    MAX_WEIGHT_KG = Decimal("300")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="weights")
    weight_kg = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(MIN_WEIGHT_KG), MaxValueValidator(MAX_WEIGHT_KG)],
    )
    measured_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["patient", "-measured_on", "-pk"]
        get_latest_by = ["measured_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight_kg__gte=20) & models.Q(weight_kg__lte=300),
                name="weight_kg_between_20_and_300",
                violation_error_message="A weight must be between 20 and 300 kg.",
            ),
        ]

    def __str__(self):
        return f"{self.weight_kg} kg on {self.measured_on}"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code} weight {self.measured_on}"

    def reason_required(self, stored: dict) -> bool:
        return True

    def clean(self):
        if self.measured_on and self.measured_on > timezone.localdate():
            raise ValidationError({"measured_on": "The measurement date cannot be in the future."})


class ClinicalAssessment(AuditedModel):
    """The inclusion/exclusion values recorded on a date. Empty means not recorded.

    Eligibility is evaluated from the latest assessment (see `patients.eligibility`);
    a correction is a new assessment, or an edit with a reason, both on the trail.
    """

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
        if self.assessed_on and self.assessed_on > timezone.localdate():
            raise ValidationError({"assessed_on": "The assessment date cannot be in the future."})


class Observation(AuditedModel):
    """A follow-up laboratory value or WHO ordinal scale level at a time."""

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
        errors = {}
        if self.observed_at and self.observed_at > timezone.now() + datetime.timedelta(minutes=5):
            errors["observed_at"] = "The observation time cannot be in the future."
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
        if self.occurred_on and self.occurred_on > timezone.localdate():
            raise ValidationError({"occurred_on": "The date cannot be in the future."})
