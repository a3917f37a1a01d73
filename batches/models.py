"""Donors, tissue procurement, GMP batches, release specifications and checks, and bags.

Every model here is a GMP record: it inherits AuditedModel, so each save and delete
writes an audit event in the same transaction. Foreign keys between audited records use
PROTECT: a cascade would delete rows without their audit events.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import CharField, Exists, OuterRef, Q
from django.db.models.functions import Cast

from audit.models import AuditedModel
from batches.exceptions import BatchError, SpecificationInUseError
from batches.isbt import DIN_RE, iso7064_mod37_2

MIN_BAG_CELLS = 50_000_000
MAX_BAG_CELLS = 75_000_000


class Facility(AuditedModel):
    """A GMP cell-production facility (the paper's three: Salamanca, Navarra, Marañón)."""

    fin = models.CharField(
        "facility identification number",
        max_length=5,
        unique=True,
        help_text="ISBT 128 FIN: 5 letters or digits, the start of every DIN issued here.",
    )
    name = models.CharField(max_length=200)
    authorisation_ref = models.CharField("GMP authorisation", max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "facilities"
        ordering = ["fin"]

    def __str__(self):
        return f"{self.fin} {self.name}"

    @property
    def audit_code(self):
        return self.fin


class Donor(AuditedModel):
    """A voluntary tissue donor, known only by a pseudonymous code."""

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"

    code = models.CharField(max_length=20, unique=True, help_text="Pseudonymous donor code.")
    age_at_donation = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(18), MaxValueValidator(120)]
    )
    sex = models.CharField(max_length=1, choices=Sex.choices)
    has_comorbidities = models.BooleanField(default=False)
    has_concomitant_treatments = models.BooleanField(default=False)
    consent_for_clinical_use = models.BooleanField(
        default=False, help_text="Specific informed consent to use the cells clinically."
    )
    consent_signed_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code

    @property
    def audit_code(self):
        return self.code

    def has_decided_batch(self) -> bool:
        """Whether a QP has released or rejected a batch from this donor (see
        `decided_batches`: a batch put back on hold after release still counts)."""
        return self.pk is not None and decided_batches(self.batches.all()).exists()

    def reason_required(self, stored: dict) -> bool:
        # Eligibility data behind a QP decision is not changed without saying why.
        return self.has_decided_batch()


class SerologyResult(AuditedModel):
    """One dated donor screening result (EU/Spanish donation legislation)."""

    class Test(models.TextChoices):
        HIV = "HIV", "HIV-1/2 (anti-HIV-1/2)"
        HBSAG = "HBSAG", "HBV (HBsAg)"
        ANTI_HBC = "ANTI_HBC", "HBV (anti-HBc)"
        HCV = "HCV", "HCV (anti-HCV)"
        SYPHILIS = "SYPHILIS", "Syphilis"
        HTLV = "HTLV", "HTLV-I/II (anti-HTLV)"

    class Result(models.TextChoices):
        NEGATIVE = "negative", "Negative"
        POSITIVE = "positive", "Positive"
        INDETERMINATE = "indeterminate", "Indeterminate"

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="serology")
    test = models.CharField(max_length=10, choices=Test.choices)
    result = models.CharField(max_length=14, choices=Result.choices)
    sampled_on = models.DateField()

    class Meta:
        ordering = ["donor", "test", "-sampled_on"]

    def __str__(self):
        return f"{self.donor} {self.get_test_display()} {self.result} ({self.sampled_on})"

    @property
    def audit_code(self):
        return f"{self.donor.code}/{self.test}/{self.sampled_on}"

    def reason_required(self, stored: dict) -> bool:
        return self.donor.has_decided_batch()

    def delete(self, *args, **kwargs):
        if self.donor.has_decided_batch():
            raise BatchError(
                f"Donor {self.donor.code} has a batch a QP has decided on: a serology result "
                "is corrected (with a reason), never deleted."
            )
        return super().delete(*args, **kwargs)


class Procurement(AuditedModel):
    """Liposuction by plastic surgery: about 100 ml lipoaspirate, about 50 g of fat."""

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="procurements")
    procured_on = models.DateField()
    site = models.CharField(max_length=200, help_text="Hospital and department.")
    lipoaspirate_volume_ml = models.DecimalField(
        "lipoaspirate volume (ml)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    fat_weight_g = models.DecimalField(
        "fat weight (g)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("0.1"))],
    )
    performed_by = models.CharField(max_length=200, help_text="Surgeon (staff name or code).")

    class Meta:
        ordering = ["-procured_on"]

    def __str__(self):
        return f"{self.donor} {self.procured_on}"

    @property
    def audit_code(self):
        return f"{self.donor.code}/{self.procured_on}"

    def reason_required(self, stored: dict) -> bool:
        return self.donor.has_decided_batch()


class ReleaseSpecification(AuditedModel):
    """A versioned set of release limits. Limits are data, never constants in code."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    effective_from = models.DateField()
    is_active = models.BooleanField(
        default=True, help_text="New batches take the newest active version."
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="spec_code_version_unique")
        ]

    def __str__(self):
        return f"{self.code} v{self.version}"

    @property
    def audit_code(self):
        return str(self)

    def is_in_use(self) -> bool:
        """Whether a batch has been decided against this version (then it is frozen)."""
        return self.pk is not None and decided_batches(self.batches.all()).exists()

    def reason_required(self, stored: dict) -> bool:
        return self.is_in_use()


class SpecificationItem(AuditedModel):
    """One required check of a specification and its acceptance criterion."""

    class Category(models.TextChoices):
        MORPHOLOGY = "morphology", "ISCT: morphology"
        IMMUNOPHENOTYPE = "immunophenotype", "ISCT: immunophenotype"
        DIFFERENTIATION = "differentiation", "ISCT: tri-lineage differentiation"
        GENOMIC = "genomic", "Genomic stability (CGH array)"
        POTENCY = "potency", "Potency"
        VIABILITY = "viability", "Viability before cryopreservation"
        STERILITY = "sterility", "Sterility"
        MYCOPLASMA = "mycoplasma", "Mycoplasma"
        ENDOTOXIN = "endotoxin", "Endotoxin"

    class Kind(models.TextChoices):
        MINIMUM = "min", "At least the lower limit"
        MAXIMUM = "max", "At most the upper limit"
        EXPECTED = "expected", "Equals the expected result"

    specification = models.ForeignKey(
        ReleaseSpecification, on_delete=models.PROTECT, related_name="items"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    parameter = models.CharField(max_length=60, help_text="e.g. CD73, HLA-DR, osteogenic.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    lower_limit = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    upper_limit = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    expected_result = models.CharField(max_length=60, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    required = models.BooleanField(default=True)

    class Meta:
        ordering = ["specification", "category", "parameter"]
        constraints = [
            models.UniqueConstraint(
                fields=["specification", "parameter"], name="spec_item_parameter_unique"
            ),
            models.CheckConstraint(
                condition=(Q(kind="min", lower_limit__isnull=False))
                | (Q(kind="max", upper_limit__isnull=False))
                | (Q(kind="expected") & ~Q(expected_result="")),
                name="spec_item_has_its_limit",
            ),
        ]

    def __str__(self):
        return f"{self.parameter} {self.criterion}"

    @property
    def criterion(self) -> str:
        """The acceptance criterion as people read it: "≥ 70 %", never "≥ 7E+1 %".

        It is shown on the QP's signing page, in release failure messages and in the
        signed content, so its format is part of every signature's hash.
        """
        if self.kind == self.Kind.MINIMUM:
            return f"≥ {_plain(self.lower_limit)} {self.unit}".strip()
        if self.kind == self.Kind.MAXIMUM:
            return f"≤ {_plain(self.upper_limit)} {self.unit}".strip()
        return f"= {self.expected_result}"

    @property
    def audit_code(self):
        return f"{self.specification}/{self.parameter}"

    def reason_required(self, stored: dict) -> bool:
        return self.specification.is_in_use()

    # The fields a result is judged against: a change re-evaluates every stored result.
    LIMIT_FIELDS = ("kind", "lower_limit", "upper_limit", "expected_result")

    def _refuse_if_in_use(self, spec_id, verb: str) -> None:
        if spec_id is None:
            return
        spec = ReleaseSpecification.objects.get(pk=spec_id)
        if spec.is_in_use():
            raise SpecificationInUseError(
                f"Specification {spec} has been used for a QP release or rejection: its "
                f"items cannot be {verb}. To change a limit, create a new version of the "
                "specification and use it for new batches."
            )

    def save(self, *args, **kwargs):
        """Save, refusing any change to a version in use; recompute stored results.

        A version a QP has decided against is frozen, in the model as well as the admin:
        an item of it cannot be changed, deleted or moved to another version, and no
        item can be moved into it (`SpecificationInUseError`, telling the user to make a
        new version). Adding a new item to a used version is refused by the admin (both
        the specification's inline and the item page offer only unused versions).

        When the limit of an item of an unused version changes, each stored result whose
        pass/fail it changes is saved again (audit action `recompute`) in the same
        transaction, so the pass/fail shown always matches the limit.
        """
        from audit.context import audit_context, current_context
        from batches.rules import evaluate_check

        stored = None
        if self.pk is not None:
            stored = type(self)._base_manager.filter(pk=self.pk).first()
        if stored is not None:
            self._refuse_if_in_use(stored.specification_id, "changed")
            if stored.specification_id != self.specification_id:
                self._refuse_if_in_use(self.specification_id, "moved into it")
        limit_changed = stored is not None and any(
            getattr(stored, f) != getattr(self, f) for f in self.LIMIT_FIELDS
        )
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
            if limit_changed:
                ctx = current_context()
                note = (
                    f"{self.specification} {self.parameter}: criterion changed from "
                    f"{stored.criterion} to {self.criterion}; pass/fail recomputed"
                )
                if ctx is not None and ctx.reason.strip():
                    note = f"{note} ({ctx.reason.strip()})"
                with audit_context(actor=ctx.actor if ctx else None, reason=note):
                    for check in self.results.select_related("batch").select_for_update(
                        of=("self",)
                    ):
                        check.item = self
                        if check.passed != evaluate_check(
                            self, check.result_value, check.result_text
                        ):
                            check.save(audit_action="recompute")

    def delete(self, *args, **kwargs):
        stored = type(self)._base_manager.filter(pk=self.pk).first()
        self._refuse_if_in_use(stored.specification_id if stored else None, "deleted")
        return super().delete(*args, **kwargs)


class Batch(AuditedModel):
    """A GMP lot of AT-MSC from one donor, identified by its ISBT 128 DIN."""

    class Status(models.TextChoices):
        IN_PRODUCTION = "in_production", "In production"
        QUARANTINE = "quarantine", "Quarantine"
        RELEASED = "released", "Released"
        REJECTED = "rejected", "Rejected"
        RECALLED = "recalled", "Recalled"
        EXPIRED = "expired", "Expired"

    din = models.CharField(
        "DIN", max_length=13, unique=True, help_text="Donation Identification Number."
    )
    din_check = models.CharField("DIN check character", max_length=1, editable=False)
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="batches")
    procurement = models.ForeignKey(Procurement, on_delete=models.PROTECT, related_name="batches")
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="batches")
    impd_reference = models.CharField("IMPD reference", max_length=40)
    specification = models.ForeignKey(
        ReleaseSpecification, on_delete=models.PROTECT, related_name="batches"
    )
    population_doublings = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True
    )
    passages = models.PositiveSmallIntegerField(null=True, blank=True)
    cryopreserved_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    viability_pct = models.DecimalField(
        "viability before cryopreservation (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PRODUCTION)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-created_at"]
        permissions = [("release_batch", "Can release or reject a batch (QP)")]

    def __str__(self):
        return self.code

    @property
    def code(self) -> str:
        return f"{self.din}{self.din_check}"

    @property
    def audit_code(self):
        return self.code

    # Statuses after the QP's decision: the record is closed, a change is a correction.
    LOCKED_STATUSES = frozenset({"released", "rejected", "recalled", "expired"})

    # The GMP data a correction may change (never the identity, donor or status).
    CORRECTABLE_FIELDS = (
        "impd_reference",
        "population_doublings",
        "passages",
        "cryopreserved_on",
        "expires_on",
        "viability_pct",
    )

    def save(self, *args, **kwargs):
        self.din_check = iso7064_mod37_2(self.din)
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        if self.din and not DIN_RE.match(self.din):
            raise ValidationError(
                {"din": "A DIN is 5 letters/digits (facility), 2-digit year, 6-digit sequence."}
            )
        if self.procurement_id and self.donor_id and self.procurement.donor_id != self.donor_id:
            raise ValidationError({"procurement": "This procurement is from another donor."})
        if self.facility_id and self.din and not self.din.startswith(self.facility.fin):
            raise ValidationError(
                {"din": f"A DIN issued at {self.facility} starts with {self.facility.fin}."}
            )

    def reason_required(self, stored: dict) -> bool:
        """A change needs a written reason once a QP has decided on the batch: while it
        is released, rejected, recalled or expired, and also while it is back in
        quarantine on hold after a release (it still carries the QP's signature)."""
        return stored.get("status") in self.LOCKED_STATUSES or self.has_decision_signature()

    def has_decision_signature(self) -> bool:
        return (
            self.pk is not None
            and self.signatures().filter(meaning__in=DECISION_MEANINGS).exists()
        )

    @property
    def is_locked(self) -> bool:
        return self.status in self.LOCKED_STATUSES

    def signature_content(self) -> dict:
        """The batch record a QP signs: GMP fields, every check and result, the donor
        code and the bags made. Status is not part of it: the signature's meaning is."""

        from batches.rules import evaluate_check

        def fmt(value):
            if value is None:
                return None
            if isinstance(value, Decimal):
                return format(value.normalize(), "f")
            if hasattr(value, "isoformat"):
                return value.isoformat()
            return value

        return {
            "batch": self.code,
            "donor": self.donor.code,
            "procurement": {
                "procured_on": fmt(self.procurement.procured_on),
                "lipoaspirate_volume_ml": fmt(self.procurement.lipoaspirate_volume_ml),
                "fat_weight_g": fmt(self.procurement.fat_weight_g),
            },
            "facility": self.facility.fin,
            "impd_reference": self.impd_reference,
            "specification": str(self.specification),
            "population_doublings": fmt(self.population_doublings),
            "passages": self.passages,
            "cryopreserved_on": fmt(self.cryopreserved_on),
            "expires_on": fmt(self.expires_on),
            "viability_pct": fmt(self.viability_pct),
            "checks": sorted(
                (
                    {
                        "parameter": c.item.parameter,
                        "criterion": c.item.criterion,
                        "value": fmt(c.result_value),
                        "text": c.result_text,
                        "tested_on": fmt(c.tested_on),
                        "passed": evaluate_check(c.item, c.result_value, c.result_text),
                    }
                    for c in self.checks.select_related("item")
                ),
                key=lambda c: c["parameter"],
            ),
            "bags": sorted(
                (
                    {
                        "code": b.code,
                        "nominal_cells": b.nominal_cells,
                        "volume_ml": fmt(b.volume_ml),
                    }
                    for b in self.bags.all()
                ),
                key=lambda b: b["code"],
            ),
        }

    def signatures(self):
        from audit.models import Signature

        return Signature.objects.filter(
            object_type=self._meta.label_lower, object_id=str(self.pk)
        ).order_by("signed_at", "pk")

    def decision_signature(self):
        """The latest release or rejection signature, or None."""
        return self.signatures().filter(meaning__in=DECISION_MEANINGS).last()


# The meanings of a QP's signature on a batch that decide it.
DECISION_MEANINGS = ("released", "rejected")


def decided_batches(queryset):
    """The batches of `queryset` a QP has decided on: a closed status (released,
    rejected, recalled, expired) or a release/rejection signature, so that a batch put
    back in quarantine on hold after its release still counts as decided."""
    from audit.models import Signature

    signed = Signature.objects.filter(
        object_type=Batch._meta.label_lower,
        object_id=Cast(OuterRef("pk"), output_field=CharField()),
        meaning__in=DECISION_MEANINGS,
    )
    return queryset.filter(Q(status__in=Batch.LOCKED_STATUSES) | Q(Exists(signed)))


def _plain(value: Decimal | None) -> str:
    """A limit as a plain decimal: 70, 0.5, 1000 (never 7E+1)."""
    return "" if value is None else format(value.normalize(), "f")


class ReleaseCheck(AuditedModel):
    """A recorded result against a specification item. Pass/fail is computed, never typed."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="checks")
    item = models.ForeignKey(SpecificationItem, on_delete=models.PROTECT, related_name="results")
    result_value = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    result_text = models.CharField(max_length=60, blank=True)
    tested_on = models.DateField()
    passed = models.BooleanField(editable=False)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "item"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "item"], name="check_once_per_item")
        ]

    def __str__(self):
        return f"{self.batch} {self.item.parameter}: {'pass' if self.passed else 'fail'}"

    @property
    def audit_code(self):
        return f"{self.batch.code}/{self.item.parameter}"

    def clean(self):
        super().clean()
        if not (self.item_id and self.batch_id):
            return
        if self.item.specification_id != self.batch.specification_id:
            raise ValidationError(
                {"item": f"This item is not part of {self.batch.specification}."}
            )
        if self.item.kind == SpecificationItem.Kind.EXPECTED:
            if not self.result_text.strip():
                raise ValidationError({"result_text": "Enter the observed result."})
        elif self.result_value is None:
            raise ValidationError(
                {"result_value": f"Enter the measured value ({self.item.unit})."}
            )

    def save(self, *args, **kwargs):
        from batches.rules import evaluate_check

        # Pass/fail is computed from the result and the specification, never typed.
        self.passed = evaluate_check(self.item, self.result_value, self.result_text)
        super().save(*args, **kwargs)

    def reason_required(self, stored: dict) -> bool:
        return self.batch.reason_required({"status": self.batch.status})


class StorageLocation(AuditedModel):
    """A position in a liquid-nitrogen tank: tank / rack / box / position."""

    tank = models.CharField(max_length=20)
    rack = models.CharField(max_length=20)
    box = models.CharField(max_length=20)
    position = models.CharField(max_length=20)

    class Meta:
        ordering = ["tank", "rack", "box", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["tank", "rack", "box", "position"], name="storage_location_unique"
            )
        ]

    def __str__(self):
        return f"{self.tank}/{self.rack}/{self.box}/{self.position}"

    @property
    def audit_code(self):
        return str(self)


class Bag(AuditedModel):
    """A cryopreserved bag of 50–75 ×10⁶ MSC: ISBT 128 DIN + product code + division."""

    class Status(models.TextChoices):
        QUARANTINE = "quarantine", "Quarantine"
        AVAILABLE = "available", "Available"
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

    class Meta:
        ordering = ["batch", "division"]
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
        super().save(*args, **kwargs)

    def reason_required(self, stored: dict) -> bool:
        return stored.get("status") in {
            self.Status.DISPENSED,
            self.Status.INFUSED,
            self.Status.DISCARDED,
            self.Status.EXPIRED,
        }


class BagEvent(AuditedModel):
    """One step in a bag's chain of custody: a status transition with who and when."""

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
