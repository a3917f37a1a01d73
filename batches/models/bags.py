"""Bags, their storage positions and their chain of custody."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from audit.audited import AuditedModel
from batches.models.batches import Batch
from batches.querysets import BagEventQuerySet, BagQuerySet, StorageLocationQuerySet

MIN_BAG_CELLS = 50_000_000
MAX_BAG_CELLS = 75_000_000


class StorageLocation(AuditedModel):
    """A position in a liquid-nitrogen tank (tank / rack / box / position) at one site:
    a GMP facility's store or a hospital pharmacy's, so two sites can both have 1/1/1/1."""

    objects = StorageLocationQuerySet.as_manager()

    facility = models.ForeignKey(
        "sites.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="storage_locations",
    )
    hospital = models.ForeignKey(
        "sites.Hospital",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="storage_locations",
    )
    tank = models.CharField(max_length=20)
    rack = models.CharField(max_length=20)
    box = models.CharField(max_length=20)
    position = models.CharField(max_length=20)

    class Meta:
        ordering = ["facility_id", "hospital_id", "tank", "rack", "box", "position"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(facility__isnull=False, hospital__isnull=True)
                | models.Q(facility__isnull=True, hospital__isnull=False),
                name="storage_location_one_site",
                violation_error_message="A storage position belongs to one facility or hospital.",
            ),
            models.UniqueConstraint(
                fields=["facility", "tank", "rack", "box", "position"],
                name="storage_location_unique_at_facility",
            ),
            models.UniqueConstraint(
                fields=["hospital", "tank", "rack", "box", "position"],
                name="storage_location_unique_at_hospital",
            ),
        ]

    def __str__(self):
        return f"{self.tank}/{self.rack}/{self.box}/{self.position}"

    @property
    def site(self):
        return self.facility or self.hospital

    @property
    def audit_code(self):
        site = self.facility.fin if self.facility_id else self.hospital.code
        return f"{site}:{self}"


class Bag(AuditedModel):
    """A cryopreserved bag of 50–75 ×10⁶ MSC: ISBT 128 DIN + product code + division."""

    class Status(models.TextChoices):
        QUARANTINE = "quarantine", "Quarantine"
        AVAILABLE = "available", "Available"
        IN_TRANSIT = "in_transit", "In transit"
        RESERVED = "reserved", "Reserved"
        THAWED = "thawed", "Thawed"
        IN_REFRESH = "in_refresh", "In refresh culture"
        DISPENSED = "dispensed", "Dispensed"
        INFUSED = "infused", "Infused"
        DISCARDED = "discarded", "Discarded"
        EXPIRED = "expired", "Expired"

    code = models.CharField(max_length=40, unique=True, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="bags")
    product_code = models.CharField(
        max_length=8,
        help_text="ISBT 128 product code: 'S' + 4-digit description code + collection "
        "type 'V' (volunteer allogeneic).",
    )
    division = models.CharField(max_length=2, help_text="Division code, e.g. 'A0', 'B0'.")
    nominal_cells = models.BigIntegerField(
        validators=[MinValueValidator(MIN_BAG_CELLS), MaxValueValidator(MAX_BAG_CELLS)],
        help_text="Cells in the bag at cryopreservation (cells, not millions).",
    )
    volume_ml = models.DecimalField(
        "volume (ml)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    location = models.ForeignKey(
        StorageLocation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bags",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUARANTINE)
    discard_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    held_at_hospital = models.ForeignKey(
        "sites.Hospital",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        help_text="The hospital whose storage position holds the bag (its position's "
        "hospital; blank at a facility or out of storage). Derived from `location` by "
        "`Bag.keep_held_at` on every save and bulk insert, checked by the database "
        "(`batches.triggers`), so a hospital's stock is found without joining its "
        "positions.",
    )

    objects = BagQuerySet.as_manager()

    # Derived from `location`, which is on the trail.
    audit_exclude = ("held_at_hospital",)

    class Meta:
        ordering = ["batch", "division"]
        indexes = [
            # A hospital's stock by status: the calculator's and the allocation's query.
            models.Index(fields=["held_at_hospital", "status"], name="bag_held_at_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "product_code", "division"], name="bag_division_unique"
            ),
            models.UniqueConstraint(
                fields=["location"],
                condition=Q(location__isnull=False),
                name="one_bag_per_storage_position",
            ),
            models.CheckConstraint(
                condition=Q(nominal_cells__gte=MIN_BAG_CELLS)
                & Q(nominal_cells__lte=MAX_BAG_CELLS),
                name="bag_nominal_cells_50_to_75_million",
            ),
            models.CheckConstraint(
                condition=~Q(status="discarded") | ~Q(discard_reason=""),
                name="discarded_bag_has_reason",
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def audit_code(self):
        return self.code

    def save(self, *args, **kwargs):
        if not self.code:
            self.code = f"{self.batch.code}-{self.product_code}-{self.division}"
        self.keep_held_at([self])
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "location" in update_fields:
            kwargs["update_fields"] = {*update_fields, "held_at_hospital"}
        super().save(*args, **kwargs)

    @classmethod
    def keep_held_at(cls, bags) -> None:
        """Set each bag's `held_at_hospital` from its storage position: the position's
        hospital, or none (at a facility, out of storage). A position given as an instance is
        read from it; positions given by id only (a bag not moved since it was loaded
        keeps its value) are read in one query. `save` and
        `Bag.objects.bulk_create` call this, so no write path can forget it; the database
        refuses a row where the two disagree (`batches.triggers`)."""
        field = cls._meta.get_field("location")
        by_position: dict[int, list] = {}
        for bag in bags:
            position = field.get_cached_value(bag, default=None)
            if (
                position is not None
                and position.pk is not None
                and bag.location_id
                in (
                    None,
                    position.pk,
                )
            ):
                bag.held_at_hospital_id = position.hospital_id
            elif bag.location_id is None:
                bag.held_at_hospital_id = None
            elif not cls._moved_since_loaded(bag):
                continue  # as loaded: the database keeps the stored pair true
            else:
                by_position.setdefault(bag.location_id, []).append(bag)
        if by_position:
            hospitals = dict(
                StorageLocation._base_manager.filter(pk__in=list(by_position)).values_list(
                    "pk", "hospital_id"
                )
            )
            for pk, held in by_position.items():
                for bag in held:
                    bag.held_at_hospital_id = hospitals.get(pk)

    @staticmethod
    def _moved_since_loaded(bag) -> bool:
        """Whether the bag is new, or its position is not the one it was loaded with (or
        where it is held was not loaded): only then is the position read again. The
        snapshot read here is the one its audited save takes anyway."""
        if bag._state.adding or "held_at_hospital_id" not in bag.__dict__:
            return True
        stored = bag._audit_loaded
        return stored is None or stored.get("location_id") != bag.location_id

    def reason_required(self, stored: dict) -> bool:
        return stored.get("status") in {
            self.Status.DISPENSED,
            self.Status.INFUSED,
            self.Status.DISCARDED,
            self.Status.EXPIRED,
        }


class BagEvent(AuditedModel):
    """One step in a bag's chain of custody: a status transition with who and when."""

    objects = BagEventQuerySet.as_manager()

    bag = models.ForeignKey(Bag, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=12, choices=Bag.Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Bag.Status.choices)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    location = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["bag", "occurred_at", "id"]

    def __str__(self):
        return f"{self.bag} {self.from_status or '∅'} → {self.to_status}"

    @property
    def audit_code(self):
        return f"{self.bag.code}/{self.to_status}"
