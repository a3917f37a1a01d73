"""A dose, the bags reserved for it, and its preparation (thawed or refreshed)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from audit.audited import AuditedModel
from dosing.models.protocol import MAX_DOSE_NUMBER, Protocol
from dosing.querysets import CANCELLED, ENDED, STOPPED, DoseQuerySet, DoseRecordQuerySet


class Dose(AuditedModel):
    """One dose for one patient: ordered → allocated → prepared → dispensed → infused."""

    class Status(models.TextChoices):
        ORDERED = "ordered", "Ordered"
        ALLOCATED = "allocated", "Allocated"
        PREPARED = "prepared", "Prepared"
        DISPENSED = "dispensed", "Dispensed"
        INFUSED = "infused", "Infused"
        CANCELLED = CANCELLED, "Cancelled"
        STOPPED = STOPPED, "Stopped (batch recalled)"

    MAX_NUMBER = MAX_DOSE_NUMBER
    CLOSED_STATUSES = frozenset({"dispensed", "infused", "cancelled", "stopped"})
    # What a recall stops: a dose holding bags of the batch, not yet infused.
    STOPPABLE_STATUSES = ("allocated", "prepared", "dispensed")

    objects = DoseQuerySet.as_manager()

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="doses")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="doses")
    number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_DOSE_NUMBER)]
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
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.TextField(blank=True)
    batch_override_physician = models.CharField(
        max_length=200,
        blank=True,
        help_text="Physician who ordered this dose from another batch after a recall.",
    )
    batch_override_reason = models.TextField(blank=True)
    eligibility_at_order = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="The eligibility as evaluated when the dose was ordered: the verdict, each "
        "criterion and the assessment it came from (`patients.api.eligibility_record`). "
        "Null for a dose ordered before it was kept.",
    )

    class Meta:
        ordering = ["patient", "number", "pk"]
        permissions = [
            ("allocate_dose", "Can order, allocate and prepare doses"),
            ("dispense_dose", "Can dispense doses to the ward"),
            ("record_infusion", "Can record infusions and adverse events"),
        ]
        indexes = [
            # The open doses (to do) by patient: the worklists find the few patients with
            # one without a pass over every dose (`dosing.worklists.open_doses`).
            models.Index(
                fields=["patient", "number"],
                condition=~Q(status__in=[CANCELLED, "infused"]),
                name="dose_open_by_patient",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "number"],
                condition=~Q(status__in=ENDED),
                name="dose_number_once_per_live_dose",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=MAX_DOSE_NUMBER),
                name="dose_number_1_to_3",
            ),
            models.CheckConstraint(
                condition=Q(override_physician="") | ~Q(override_reason=""),
                name="dose_override_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(batch_override_physician="") | ~Q(batch_override_reason=""),
                name="dose_batch_override_has_reason",
            ),
        ]

    @property
    def is_live(self) -> bool:
        """Neither cancelled nor stopped: counts towards the course (`dosing.querysets`)."""
        return self.status not in ENDED

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

    objects = DoseRecordQuerySet.as_manager()

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

    objects = DoseRecordQuerySet.as_manager()

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
