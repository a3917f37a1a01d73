"""Treatment protocol, doses, their bags, preparation, infusion and adverse events.

Every model is a clinical record: it inherits AuditedModel, so each save writes an audit
event in the same transaction. Foreign keys to audited records use PROTECT. State changes
go through `dosing.services` only.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from audit.models import AuditedModel


class Protocol(AuditedModel):
    """A versioned set of dose and preparation settings (the paper's protocol is v1)."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    active = models.BooleanField(default=True, help_text="New doses use the newest active one.")
    effective_from = models.DateField(null=True, blank=True)
    target_cells_per_kg = models.BigIntegerField(default=1_000_000)
    min_cells_per_kg = models.BigIntegerField(default=700_000)
    max_cells_per_kg = models.BigIntegerField(default=1_300_000)
    max_doses = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        help_text="At most 3: a patient's doses are numbered 1–3.",
    )
    min_interval_hours = models.PositiveSmallIntegerField(default=48)
    max_interval_hours = models.PositiveSmallIntegerField(default=96)
    refresh_max_culture_hours = models.PositiveSmallIntegerField(
        default=72, help_text="A refreshed product is cultured for less than this."
    )
    harvest_to_infusion_max_hours = models.PositiveSmallIntegerField(
        default=24, help_text="A refreshed product is infused within this of harvest."
    )
    thaw_to_infusion_max_minutes = models.PositiveSmallIntegerField(
        default=60, help_text="GMP practice: a thawed product starts infusion within this."
    )
    premedication_required_for_thawed = models.BooleanField(default=True)
    premedication = models.CharField(
        max_length=200, blank=True, default="Steroids and dexchlorpheniramine"
    )
    filter_microns = models.PositiveSmallIntegerField(default=200)
    overrides_allowed = models.BooleanField(
        default=True,
        help_text="A dose outside the range may be given on a named physician's written reason.",
    )

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="protocol_code_version"),
            models.CheckConstraint(
                condition=Q(min_cells_per_kg__lte=models.F("target_cells_per_kg"))
                & Q(target_cells_per_kg__lte=models.F("max_cells_per_kg")),
                name="protocol_target_within_range",
            ),
            models.CheckConstraint(
                condition=Q(min_interval_hours__lte=models.F("max_interval_hours")),
                name="protocol_interval_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.code} v{self.version}"

    # Settings a dose was given under: fixed once a dose uses the version.
    SETTINGS = (
        "code",
        "version",
        "effective_from",
        "target_cells_per_kg",
        "min_cells_per_kg",
        "max_cells_per_kg",
        "max_doses",
        "min_interval_hours",
        "max_interval_hours",
        "refresh_max_culture_hours",
        "harvest_to_infusion_max_hours",
        "thaw_to_infusion_max_minutes",
        "premedication_required_for_thawed",
        "premedication",
        "filter_microns",
        "overrides_allowed",
    )

    @property
    def in_use(self) -> bool:
        return self.pk is not None and self.doses.exists()

    def clean(self):
        """A version used by doses keeps its settings (only `active` may change): a
        change is a new version, so every dose keeps the rules it was given under."""
        super().clean()
        if not self.in_use:
            return
        stored = type(self).objects.filter(pk=self.pk).values(*self.SETTINGS).first() or {}
        changed = [name for name in self.SETTINGS if stored.get(name) != getattr(self, name)]
        if changed:
            raise ValidationError(
                f"{self} is used by doses: its settings ({', '.join(changed)}) cannot change. "
                "Create a new version of the protocol instead."
            )

    @property
    def audit_code(self) -> str:
        return str(self)


class Dose(AuditedModel):
    """One dose for one patient: ordered → allocated → prepared → dispensed → infused."""

    class Status(models.TextChoices):
        ORDERED = "ordered", "Ordered"
        ALLOCATED = "allocated", "Allocated"
        PREPARED = "prepared", "Prepared"
        DISPENSED = "dispensed", "Dispensed"
        INFUSED = "infused", "Infused"
        CANCELLED = "cancelled", "Cancelled"

    LIVE_STATUSES = ("ordered", "allocated", "prepared", "dispensed", "infused")
    CLOSED_STATUSES = frozenset({"dispensed", "infused", "cancelled"})

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="doses")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="doses")
    number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    batch = models.ForeignKey(
        "batches.Batch", on_delete=models.PROTECT, null=True, blank=True, related_name="doses"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ORDERED)
    planned_for = models.DateTimeField(help_text="When the dose is to be given.")
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    weight_measured_on = models.DateField()
    required_cells = models.BigIntegerField()
    planned_cells = models.BigIntegerField(null=True, blank=True)
    planned_volume_ml = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    delivered_cells = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Bag total (thawed) or post-harvest viable count (refreshed).",
    )
    override_physician = models.CharField(max_length=200, blank=True)
    override_reason = models.TextField(blank=True)
    override_cells = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The total (cells) the override approved; another total needs a new one.",
    )
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ordered_at = models.DateTimeField()
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    allocated_at = models.DateTimeField(null=True, blank=True)
    dispensed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dispensed_at = models.DateTimeField(null=True, blank=True)
    use_before = models.DateTimeField(
        null=True, blank=True, help_text="Latest start of infusion (thaw or harvest limit)."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["patient", "number", "pk"]
        permissions = [
            ("allocate_dose", "Can order, allocate and prepare doses"),
            ("dispense_dose", "Can dispense doses to the ward"),
            ("record_infusion", "Can record infusions and adverse events"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "number"],
                condition=~Q(status="cancelled"),
                name="dose_number_once_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=3), name="dose_number_1_to_3"
            ),
            models.CheckConstraint(
                condition=Q(override_physician="") | ~Q(override_reason=""),
                name="dose_override_has_reason",
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def code(self) -> str:
        patient_code = self.patient.code if self.patient_id else "?"
        return f"{patient_code}/D{self.number}"

    @property
    def audit_code(self) -> str:
        return self.code

    def reason_required(self, stored: dict) -> bool:
        return stored.get("status") in self.CLOSED_STATUSES

    @property
    def has_override(self) -> bool:
        return bool(self.override_physician)

    @property
    def delivered_cells_per_kg(self) -> int | None:
        if self.delivered_cells is None or not self.weight_kg:
            return None
        return int((Decimal(self.delivered_cells) / self.weight_kg).to_integral_value())

    @property
    def next_step(self) -> str:
        return {
            self.Status.ORDERED: "allocate",
            self.Status.ALLOCATED: "prepare",
            self.Status.PREPARED: "dispense",
            self.Status.DISPENSED: "infuse",
        }.get(self.status, "")


class DoseBag(AuditedModel):
    """A bag reserved for a dose. A bag has at most one live reservation, by constraint."""

    dose = models.ForeignKey(Dose, on_delete=models.PROTECT, related_name="dose_bags")
    bag = models.ForeignKey("batches.Bag", on_delete=models.PROTECT, related_name="dose_links")
    cells = models.BigIntegerField(help_text="The bag's nominal cells when reserved.")
    volume_ml = models.DecimalField(max_digits=6, decimal_places=1)
    live = models.BooleanField(default=True, help_text="False once released by a cancellation.")
    reserved_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dose", "bag"]
        constraints = [
            models.UniqueConstraint(
                fields=["bag"], condition=Q(live=True), name="bag_one_live_reservation"
            ),
        ]

    def __str__(self):
        return f"{self.dose_id} ← {self.bag_id}"

    @property
    def audit_code(self) -> str:
        return f"{self.dose.code}/{self.bag.code}"


class Preparation(AuditedModel):
    """How a dose was made ready: thawed (infused in freezing medium) or refreshed."""

    class Method(models.TextChoices):
        THAWED = "thawed", "Thawed (infused in the freezing medium)"
        REFRESHED = "refreshed", "Refreshed (re-seeded < 72 h, harvested)"

    dose = models.OneToOneField(Dose, on_delete=models.PROTECT, related_name="preparation")
    method = models.CharField(max_length=10, choices=Method.choices)
    thawed_at = models.DateTimeField()
    medium = models.CharField(max_length=100)
    premedication = models.CharField(
        max_length=200,
        blank=True,
        help_text="Premedication the protocol requires before infusion.",
    )
    seeded_at = models.DateTimeField(null=True, blank=True)
    harvested_at = models.DateTimeField(null=True, blank=True)
    viable_cells = models.BigIntegerField(
        null=True, blank=True, help_text="Post-harvest viable cell count (cells)."
    )
    viability_pct = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    volume_ml = models.DecimalField(
        "resuspension volume (ml)", max_digits=6, decimal_places=1, null=True, blank=True
    )
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["dose"]
        constraints = [
            models.CheckConstraint(
                condition=Q(method="thawed")
                | (
                    Q(seeded_at__isnull=False)
                    & Q(harvested_at__isnull=False)
                    & Q(viable_cells__isnull=False)
                ),
                name="refreshed_has_culture_record",
            ),
        ]

    def __str__(self):
        return f"{self.dose} {self.method}"

    @property
    def audit_code(self) -> str:
        return f"{self.dose.code}/{self.method}"

    def reason_required(self, stored: dict) -> bool:
        return True


class Infusion(AuditedModel):
    """The bedside record of one dose's infusion."""

    class Route(models.TextChoices):
        IV = "iv", "Intravenous"

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
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at"]
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
