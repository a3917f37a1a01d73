"""A pseudonymised patient and their dated weights."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from audit.audited import AuditedModel
from core.plausibility import BIRTH_FLOOR, moment_errors
from patients.querysets import PatientQuerySet, PatientRecordQuerySet

if TYPE_CHECKING:
    from patients.models.assessments import ClinicalAssessment

PATIENT_CODE_VALIDATOR = RegexValidator(
    r"^[A-Z0-9]{2,6}-[A-Z0-9]{1,10}$",
    "Use a pseudonymised code such as SAL-P01: capital letters and digits, one hyphen, no names.",
)


def born_before_errors(record, field: str, day) -> dict[str, str]:
    """A record of the patient's file dated before the patient's birth (for a record
    already attached to its patient; registration checks its first records itself)."""
    patient = getattr(record, "patient", None) if record.patient_id else None
    if patient is None or not patient.birth_date or day is None:
        return {}
    day = timezone.localdate(day) if isinstance(day, datetime.datetime) else day
    if day < patient.birth_date:
        return {field: f"This date is before the patient's birth ({patient.birth_date:%Y-%m-%d})."}
    return {}


class Patient(AuditedModel):
    """One treated (or screened) patient, identified only by a pseudonymised code."""

    # The record's fields other than its code (the identity): what registration sets and
    # a correction may change. The service, the forms and the pages name them from here.
    objects = PatientQuerySet.as_manager()

    RECORD_FIELDS = (
        "hospital",
        "age_years",
        "birth_date",
        "sex",
        "consent_by_relatives",
        "consent_date",
        "compassionate_use_authorisation",
    )

    class Sex(models.TextChoices):
        MALE = "M", "Male"
        FEMALE = "F", "Female"

    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[PATIENT_CODE_VALIDATOR],
        help_text="Pseudonymised code, e.g. SAL-P01. Never a name.",
    )
    hospital = models.ForeignKey(
        "sites.Hospital",
        on_delete=models.PROTECT,
        related_name="patients",
        help_text="The treating hospital; its pharmacy and clinicians see the patient.",
    )
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
        errors.update(
            moment_errors(
                "birth_date", self.birth_date, what="The date of birth", floor=BIRTH_FLOOR
            )
        )
        errors.update(moment_errors("consent_date", self.consent_date, what="The consent date"))
        if self.birth_date and "birth_date" not in errors and self.age_years is not None:
            # The age is the one given at registration: it must be the birth date's.
            registered = timezone.localdate(self.created_at) if self.created_at else None
            born_age = self.age_on(registered or timezone.localdate())
            if born_age != self.age_years:
                errors["age_years"] = (
                    f"Born on {self.birth_date:%Y-%m-%d}, the patient was {born_age} at "
                    f"registration, not {self.age_years}: check the age or the date of birth."
                )
        if self.birth_date and self.pk and "birth_date" not in errors:
            earliest = self.earliest_record_date()
            if earliest is not None and earliest < self.birth_date:
                errors["birth_date"] = (
                    f"The patient's file has a record dated {earliest:%Y-%m-%d}, before this "
                    "date of birth."
                )
        if self.birth_date and self.consent_date and self.consent_date < self.birth_date:
            errors.setdefault("consent_date", "The consent date cannot precede the birth.")
        if self.consent_by_relatives and not self.consent_date:
            errors["consent_date"] = "Record the date the relatives gave consent."
        if self.birth_date is None and self.age_years is None:
            errors["age_years"] = "Record the date of birth or the age in years."
        if errors:
            raise ValidationError(errors)

    def code_prefix_error(self) -> str:
        """Why the code does not fit the hospital's patient-code prefix, or "" (checked
        when a patient is registered: a later correction of the hospital keeps the code)."""
        prefix = self.hospital.patient_code_prefix
        if self.code.startswith(f"{prefix}-"):
            return ""
        return (
            f"Patient codes of {self.hospital.name} start with {prefix}- "
            f"(for example {prefix}-P01)."
        )

    def earliest_record_date(self) -> datetime.date | None:
        """The first date on the patient's file: weights, assessments, outcomes."""
        from django.db.models import Min

        dates = [
            self.weights.aggregate(d=Min("measured_on"))["d"],
            self.assessments.aggregate(d=Min("assessed_on"))["d"],
            self.outcomes.aggregate(d=Min("occurred_on"))["d"],
        ]
        dates = [d for d in dates if d is not None]
        return min(dates) if dates else None

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

    objects = PatientRecordQuerySet.as_manager()

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
        errors = moment_errors("measured_on", self.measured_on, what="The measurement date")
        errors = errors or born_before_errors(self, "measured_on", self.measured_on)
        if errors:
            raise ValidationError(errors)
