"""Shipments of released bags from a GMP facility to a hospital, and the pharmacy's
requests for one.

A bag is usable at a hospital only after it was received there in good condition: a
shipment is created by the facility's production staff (its bags chosen), dispatched
(each bag leaves its position, `in_transit`, with its custody event), and received by
the hospital's pharmacy (who, when, the temperature logger's result, a storage position
at the hospital for each bag). An excursion puts the bags in quarantine for the QP of
the facility, who releases or discards them with a signature. Written only by
`batches.services.shipments` and `batches.services.shipment_decisions`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from audit.audited import AuditedModel
from batches.models.bags import Bag, StorageLocation
from batches.querysets import ShipmentBagQuerySet, ShipmentQuerySet, ShipmentRequestQuerySet


class Shipment(AuditedModel):
    """A dry shipper of bags travelling from one facility to one hospital."""

    # The record as the admin shows it (read-only) and the API serves it, in that order.
    RECORD_FIELDS = (
        "code",
        "facility",
        "hospital",
        "status",
        "shipper_id",
        "logger_id",
        "created_at",
        "created_by",
        "dispatched_at",
        "dispatched_by",
        "received_at",
        "received_by",
        "logger_result",
        "receipt_note",
        "recorded_before_shipments",
        "decision",
        "decided_at",
        "decided_by",
        "decision_reason",
    )

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        DISPATCHED = "dispatched", "Dispatched"
        RECEIVED = "received", "Received"

    class LoggerResult(models.TextChoices):
        IN_RANGE = "in_range", "In range"
        EXCURSION = "excursion", "Temperature excursion"

    class Decision(models.TextChoices):
        RELEASED = "released", "Released by the QP"
        DISCARDED = "discarded", "Discarded by the QP"

    code = models.CharField(max_length=40, unique=True)
    facility = models.ForeignKey(
        "sites.Facility", on_delete=models.PROTECT, related_name="shipments"
    )
    hospital = models.ForeignKey(
        "sites.Hospital", on_delete=models.PROTECT, related_name="shipments"
    )
    shipper_id = models.CharField(
        "dry shipper", max_length=40, blank=True, help_text="The dry shipper's identifier."
    )
    logger_id = models.CharField(
        "temperature logger",
        max_length=40,
        blank=True,
        help_text="The identifier of the temperature logger travelling with it.",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATED)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    logger_result = models.CharField(
        max_length=12, choices=LoggerResult.choices, blank=True, help_text="Read at receipt."
    )
    receipt_note = models.TextField(blank=True)
    # The migration that introduced shipments gave bags already on their way to a patient
    # a receipt: no shipper, logger or people are known for it.
    recorded_before_shipments = models.BooleanField(default=False)
    decision = models.CharField("QP decision", max_length=12, choices=Decision.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)

    objects = ShipmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dispatched_at__isnull=True)
                | Q(dispatched_at__gte=models.F("created_at")),
                name="shipment_dispatched_after_created",
                violation_error_message="A shipment is dispatched after it was created.",
            ),
            models.CheckConstraint(
                condition=Q(received_at__isnull=True)
                | Q(dispatched_at__isnull=False, received_at__gte=models.F("dispatched_at")),
                name="shipment_received_after_dispatch",
                violation_error_message="A shipment is received after it was dispatched.",
            ),
            models.CheckConstraint(
                condition=~Q(status="received") | ~Q(logger_result=""),
                name="received_shipment_has_logger_result",
                violation_error_message="A received shipment has its logger result.",
            ),
        ]
        permissions = [
            ("receive_shipment", "Can receive a shipment at the hospital pharmacy"),
            ("request_shipment", "Can request a shipment from a facility"),
        ]

    def __str__(self):
        return self.code

    @property
    def audit_code(self):
        return self.code

    @property
    def excursion(self) -> bool:
        return self.logger_result == self.LoggerResult.EXCURSION

    @property
    def awaiting_decision(self) -> bool:
        """Received with an excursion and not yet decided by the QP."""
        return self.excursion and not self.decision

    def reason_required(self, stored: dict) -> bool:
        return stored.get("status") == self.Status.RECEIVED


class ShipmentBag(AuditedModel):
    """One bag in one shipment; `open` until the shipment is received (a bag is in one
    open shipment at a time)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="items")
    bag = models.ForeignKey(Bag, on_delete=models.PROTECT, related_name="shipment_items")
    open = models.BooleanField(default=True)
    from_location = models.CharField(
        max_length=100, blank=True, help_text="The facility position the bag left."
    )
    received_location = models.ForeignKey(
        StorageLocation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The hospital position the bag was put in at receipt.",
    )

    objects = ShipmentBagQuerySet.as_manager()

    class Meta:
        ordering = ["shipment", "bag__code"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "bag"], name="shipment_bag_unique"),
            models.UniqueConstraint(
                fields=["bag"], condition=Q(open=True), name="bag_in_one_open_shipment"
            ),
        ]

    def __str__(self):
        return f"{self.shipment_id}:{self.bag_id}"

    @property
    def audit_code(self):
        return f"{self.shipment.code}/{self.bag.code}"


class ShipmentRequest(AuditedModel):
    """A hospital pharmacy asks a facility for stock: requested → shipped (with the
    shipment that answered it) or declined (with why), each with who and when."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SHIPPED = "shipped", "Shipped"
        DECLINED = "declined", "Declined"

    hospital = models.ForeignKey(
        "sites.Hospital", on_delete=models.PROTECT, related_name="shipment_requests"
    )
    facility = models.ForeignKey(
        "sites.Facility", on_delete=models.PROTECT, related_name="shipment_requests"
    )
    bags_wanted = models.PositiveSmallIntegerField(default=1)
    note = models.TextField(
        blank=True, help_text="What is needed and by when (patient codes only, no names)."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    shipment = models.ForeignKey(
        Shipment, on_delete=models.PROTECT, null=True, blank=True, related_name="requests"
    )
    decline_reason = models.TextField(blank=True)

    objects = ShipmentRequestQuerySet.as_manager()

    class Meta:
        ordering = ["requested_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="shipped") | Q(shipment__isnull=False),
                name="shipped_request_has_shipment",
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""),
                name="declined_request_has_reason",
            ),
        ]

    def __str__(self):
        return f"request {self.pk} {self.hospital_id}→{self.facility_id}"

    @property
    def audit_code(self):
        return f"REQ-{self.pk}"
