"""GMP batches and their release checks.

Foreign keys to donors and specifications name their model ("batches.Donor"), so this
module imports neither. Which batches a QP has decided on is `Batch.objects.decided()`
(`batches.querysets`).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from audit.audited import AuditedModel
from audit.models import Signature
from audit.signatures import hash_matches
from batches.isbt import DIN_RE, iso7064_mod37_2
from batches.models.guards import RefusesDeletion
from batches.querysets import DECISION_MEANINGS, BatchQuerySet, ReleaseCheckQuerySet
from batches.rules import evaluate_check
from core.formatting import plain_decimal
from core.plausibility import moment_errors
from sites.models import Facility


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
    donor = models.ForeignKey("batches.Donor", on_delete=models.PROTECT, related_name="batches")
    procurement = models.ForeignKey(
        "batches.Procurement", on_delete=models.PROTECT, related_name="batches"
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="batches")
    impd_reference = models.CharField("IMPD reference", max_length=40)
    specification = models.ForeignKey(
        "batches.ReleaseSpecification", on_delete=models.PROTECT, related_name="batches"
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
    record_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="SHA-256 of the batch record as it is now (`signature_content`), kept "
        "by the batch services from the QP's first decision on (blank before): compared "
        "with the decision signature's hash, it says in bulk whether that signature still "
        "matches.",
    )

    objects = BatchQuerySet.as_manager()

    # The kept hash is derived from records that are each on the trail (the batch's
    # fields, its checks, its bags, its donor): not a fact of its own, so not copied into
    # the trail nor reconciled (`batches.services.signed_record`).
    audit_exclude = ("record_hash",)

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

    # What the batch is: fixed once it has left production (`services.correct_batch`).
    IDENTITY_FIELDS = ("din", "donor", "procurement", "facility", "specification")
    # What manufacturing measured, in the order the admin's form and the API show it.
    MANUFACTURING_FIELDS = (
        "population_doublings",
        "passages",
        "cryopreserved_on",
        "expires_on",
    )
    # Read from the batch's release checks, never typed on the batch: viability before
    # cryopreservation is entered once, as its check (`services.checks.record_check`).
    FROM_CHECKS = {"viability_pct": "viability"}
    # The GMP data a correction may change (never the identity, donor or status).
    CORRECTABLE_FIELDS = ("impd_reference", *MANUFACTURING_FIELDS)
    # Every field production records, in the admin form's order.
    RECORD_FIELDS = (
        "din",
        "donor",
        "procurement",
        "facility",
        "impd_reference",
        "specification",
        *MANUFACTURING_FIELDS,
    )

    def save(self, *args, **kwargs):
        self.din_check = iso7064_mod37_2(self.din)
        if not self._state.adding and kwargs.get("update_fields") is None:
            # The kept record hash is written only by `keep_record_hash` (naming it): a
            # copy of the batch loaded before the hash changed must not put back an old one.
            kwargs["update_fields"] = self._saved_fields()
        super().save(*args, **kwargs)

    @classmethod
    def _saved_fields(cls) -> tuple[str, ...]:
        return tuple(
            f.name
            for f in cls._meta.concrete_fields
            if not f.primary_key and f.name != "record_hash"
        )

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
        self._clean_dates()

    def _clean_dates(self):
        """Procurement → cryopreservation → expiry, in that order, none in the future
        but the expiry (a batch is made after its tissue was procured)."""
        errors = moment_errors("cryopreserved_on", self.cryopreserved_on, what="Cryopreservation")
        procured = self.procurement.procured_on if self.procurement_id else None
        if not errors and procured and self.cryopreserved_on and self.cryopreserved_on < procured:
            errors["cryopreserved_on"] = (
                f"Cryopreservation cannot precede the procurement ({procured:%Y-%m-%d})."
            )
        start = self.cryopreserved_on or procured
        if self.expires_on and start and self.expires_on <= start:
            errors["expires_on"] = f"The expiry must follow {start:%Y-%m-%d}."
        if errors:
            raise ValidationError(errors)

    def reason_required(self, stored: dict) -> bool:
        """A change needs a written reason once a QP has decided on the batch: while it
        is released, rejected, recalled or expired, and also while it is back in
        quarantine on hold after a release (it still carries the QP's signature)."""
        return stored.get("status") in self.LOCKED_STATUSES or self.has_decision_signature()

    def has_decision_signature(self) -> bool:
        known = getattr(self, "signed_decision", None)  # annotated by a list's queryset
        if known is not None:
            return known
        return (
            self.pk is not None
            and self.signatures().filter(meaning__in=DECISION_MEANINGS).exists()
        )

    @property
    def is_locked(self) -> bool:
        return self.status in self.LOCKED_STATUSES

    def signature_content(self, checks=None, bags=None) -> dict:
        """The batch record a QP signs: GMP fields, every check and result, the donor
        code and the bags made. Status is not part of it: the signature's meaning is.

        `checks` (release checks with their items) and `bags` (`(code, nominal_cells,
        volume_ml)` tuples): the batch's own, when the caller loaded them in this same
        request or transaction (the API's batch page prefetches the checks); otherwise
        they are read afresh, as a signing must."""
        if checks is None:
            checks = self.checks.select_related("item")
        if bags is None:
            # Tuples: a batch of 50 bags builds no Bag (nor its audit snapshot).
            bags = self.bags.values_list("code", "nominal_cells", "volume_ml")

        def fmt(value):
            if value is None:
                return None
            if isinstance(value, Decimal):
                return plain_decimal(value)
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
                    for c in checks
                ),
                key=lambda c: c["parameter"],
            ),
            # Sorted here, not by the database, whose collation may order codes otherwise.
            "bags": sorted(
                (
                    {"code": code, "nominal_cells": cells, "volume_ml": fmt(volume_ml)}
                    for code, cells, volume_ml in bags
                ),
                key=lambda b: b["code"],
            ),
        }

    def signatures(self):
        return Signature.objects.filter(
            object_type=self._meta.label_lower, object_id=str(self.pk)
        ).order_by("signed_at", "pk")

    def decision_signature(self):
        """The latest release or rejection signature, or None (read once for a list of
        batches by `batches.querysets.attach_decision_signatures`)."""
        if hasattr(self, "_decision_signature"):
            return self._decision_signature
        return self.signatures().filter(meaning__in=DECISION_MEANINGS).last()

    def kept_hash_matches(self, signature) -> bool:
        """Whether the record hash the batch services keep (`record_hash`) is what
        `signature` signed: the bulk comparison, without rebuilding the record."""
        return hash_matches(signature, self.record_hash)


class ReleaseCheck(RefusesDeletion, AuditedModel):
    """A recorded result against a specification item. Pass/fail is computed, never typed."""

    objects = ReleaseCheckQuerySet.as_manager()

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="checks")
    item = models.ForeignKey(
        "batches.SpecificationItem", on_delete=models.PROTECT, related_name="results"
    )
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
        errors = moment_errors("tested_on", self.tested_on, what="The test date")
        if errors:
            raise ValidationError(errors)
        if self.item.specification_id != self.batch.specification_id:
            raise ValidationError(
                {"item": f"This item is not part of {self.batch.specification}."}
            )
        if self.item.kind == self.item.Kind.EXPECTED:
            if not self.result_text.strip():
                raise ValidationError({"result_text": "Enter the observed result."})
        elif self.result_value is None:
            raise ValidationError(
                {"result_value": f"Enter the measured value ({self.item.unit})."}
            )

    def save(self, *args, **kwargs):
        # Pass/fail is computed from the result and the specification, never typed.
        self.passed = evaluate_check(self.item, self.result_value, self.result_text)
        super().save(*args, **kwargs)

    def reason_required(self, stored: dict) -> bool:
        return self.batch.reason_required({"status": self.batch.status})

    def deletion_refusal(self) -> str | None:
        """A result is deleted only while its batch is in production; after that it is
        corrected (with a reason once a QP has decided on the batch)."""
        if self.batch.status != Batch.Status.IN_PRODUCTION:
            return (
                f"Batch {self.batch.code} is {self.batch.get_status_display().lower()}: a "
                "release check is deleted only while the batch is in production; correct "
                "the result instead."
            )
        return None
