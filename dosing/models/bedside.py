"""The bedside record of an infusion, and adverse events."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from audit.audited import AuditedModel
from dosing.models.doses import Dose
from dosing.querysets import AdverseEventQuerySet, DoseRecordQuerySet


class Infusion(AuditedModel):
    """The bedside record of one dose's infusion."""

    objects = DoseRecordQuerySet.as_manager()

    class Route(models.TextChoices):
        IV = "iv", "Intravenous"

    # The vital signs taken before and after, in the order the ward records them: the
    # service, the bedside form and the API name them from here.
    VITAL_FIELDS = (
        "heart_rate_before",
        "systolic_bp_before",
        "diastolic_bp_before",
        "spo2_pct_before",
        "temperature_c_before",
        "heart_rate_after",
        "systolic_bp_after",
        "diastolic_bp_after",
        "spo2_pct_after",
        "temperature_c_after",
    )

    dose = models.OneToOneField(Dose, on_delete=models.PROTECT, related_name="infusion")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    route = models.CharField(max_length=4, choices=Route.choices, default=Route.IV)
    filter_200um_confirmed = models.BooleanField(default=False)
    premedication_given = models.CharField(max_length=200, blank=True)
    infused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    heart_rate_before = models.PositiveSmallIntegerField(validators=[MaxValueValidator(300)])
    systolic_bp_before = models.PositiveSmallIntegerField(validators=[MaxValueValidator(300)])
    diastolic_bp_before = models.PositiveSmallIntegerField(validators=[MaxValueValidator(200)])
    spo2_pct_before = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    temperature_c_before = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("30")), MaxValueValidator(Decimal("45"))],
    )
    heart_rate_after = models.PositiveSmallIntegerField(validators=[MaxValueValidator(300)])
    systolic_bp_after = models.PositiveSmallIntegerField(validators=[MaxValueValidator(300)])
    diastolic_bp_after = models.PositiveSmallIntegerField(validators=[MaxValueValidator(200)])
    spo2_pct_after = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    temperature_c_after = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("30")), MaxValueValidator(Decimal("45"))],
    )
    immediate_reactions = models.TextField(blank=True)
    scanned_bag_codes = models.TextField(
        blank=True, help_text="The full codes of the bags matched at the bedside scan."
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at"]
        # The recent infusions, whose next dose's window may still be open (worklists).
        indexes = [models.Index(fields=["started_at"], name="infusion_started_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(filter_200um_confirmed=True), name="infusion_filter_confirmed"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__gte=models.F("started_at")), name="infusion_ends_after_start"
            ),
        ]

    def __str__(self):
        return f"infusion of {self.dose}"

    @property
    def audit_code(self) -> str:
        return f"{self.dose.code}/infusion"

    def reason_required(self, stored: dict) -> bool:
        return True


class AdverseEvent(AuditedModel):
    """An adverse event after AT-MSC, graded (CTCAE) and judged for causality (WHO-UMC)."""

    objects = AdverseEventQuerySet.as_manager()

    class Causality(models.TextChoices):
        CERTAIN = "certain", "Certain"
        PROBABLE = "probable", "Probable / likely"
        POSSIBLE = "possible", "Possible"
        UNLIKELY = "unlikely", "Unlikely"
        CONDITIONAL = "conditional", "Conditional / unclassified"
        UNASSESSABLE = "unassessable", "Unassessable / unclassifiable"

    class Outcome(models.TextChoices):
        RECOVERED = "recovered", "Recovered / resolved"
        RECOVERING = "recovering", "Recovering / resolving"
        NOT_RECOVERED = "not_recovered", "Not recovered / not resolved"
        SEQUELAE = "sequelae", "Recovered with sequelae"
        FATAL = "fatal", "Fatal"
        UNKNOWN = "unknown", "Unknown"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="adverse_events"
    )
    dose = models.ForeignKey(
        Dose, on_delete=models.PROTECT, null=True, blank=True, related_name="adverse_events"
    )
    onset_at = models.DateTimeField()
    description = models.TextField()
    ctcae_grade = models.PositiveSmallIntegerField(
        "CTCAE grade", validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    serious = models.BooleanField()
    outcome = models.CharField(max_length=14, choices=Outcome.choices)
    causality = models.CharField("causality (WHO-UMC)", max_length=12, choices=Causality.choices)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["patient", "onset_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ctcae_grade__gte=1) & Q(ctcae_grade__lte=5),
                name="adverse_event_grade_1_to_5",
            ),
        ]

    def __str__(self):
        return f"{self.patient} AE grade {self.ctcae_grade} ({self.onset_at:%Y-%m-%d})"

    @property
    def audit_code(self) -> str:
        return f"{self.patient.code}/AE/{self.onset_at:%Y%m%d%H%M}"

    def reason_required(self, stored: dict) -> bool:
        return True


class BedsideScan(AuditedModel):
    """One scan at the bedside before an infusion: the wristband, then each bag. Matches
    and refusals alike are kept (and so on the trail)."""

    objects = DoseRecordQuerySet.as_manager()

    class Kind(models.TextChoices):
        WRISTBAND = "wristband", "Wristband"
        BAG = "bag", "Bag"

    dose = models.ForeignKey(Dose, on_delete=models.PROTECT, related_name="scans")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    scanned_code = models.CharField(max_length=80)
    bag = models.ForeignKey(
        "batches.Bag", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    matched = models.BooleanField()
    refusal = models.TextField(blank=True)
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scanned_at = models.DateTimeField()

    class Meta:
        ordering = ["scanned_at", "pk"]

    def __str__(self):
        verdict = "match" if self.matched else "refused"
        return f"{self.get_kind_display()} scan {self.scanned_code} for {self.dose} ({verdict})"

    @property
    def audit_code(self) -> str:
        return f"{self.dose.code}/scan"
