"""Donors and what is recorded about them: dated serology and tissue procurement."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from audit.audited import AuditedModel
from batches.models.guards import RefusesDeletion
from batches.querysets import DonorQuerySet, DonorRecordQuerySet
from core.plausibility import moment_errors


class Donor(AuditedModel):
    """A voluntary tissue donor, known only by a pseudonymous code."""

    objects = DonorQuerySet.as_manager()

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"

    code = models.CharField(max_length=20, unique=True, help_text="Pseudonymous donor code.")
    facility = models.ForeignKey(
        "sites.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donors",
        help_text="The GMP facility that registered the donor (its staff see the donor).",
    )
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

    # What production records about a donor: the admin's form, the service, the API.
    RECORD_FIELDS = (
        "code",
        "facility",
        "age_at_donation",
        "sex",
        "has_comorbidities",
        "has_concomitant_treatments",
        "consent_for_clinical_use",
        "consent_signed_on",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code

    @property
    def audit_code(self):
        return self.code

    def has_decided_batch(self) -> bool:
        """Whether a QP has released or rejected a batch from this donor (see
        `BatchQuerySet.decided`: a batch put back on hold after release still counts)."""
        return self.pk is not None and self.batches.decided().exists()

    def reason_required(self, stored: dict) -> bool:
        # Eligibility data behind a QP decision is not changed without saying why.
        return self.has_decided_batch()


class DonorRecord(RefusesDeletion, AuditedModel):
    """What is recorded about a donor (serology, procurement). Once a QP has decided on a
    batch from the donor, a record is corrected with a written reason, never deleted."""

    objects = DonorRecordQuerySet.as_manager()

    record_name = "a record"  # how the refusal names it

    class Meta:
        abstract = True

    def reason_required(self, stored: dict) -> bool:
        return self.donor.has_decided_batch()

    def deletion_refusal(self) -> str | None:
        if self.donor.has_decided_batch():
            return (
                f"Donor {self.donor.code} has a batch a QP has decided on: "
                f"{self.record_name} is corrected (with a reason), never deleted."
            )
        return None


class SerologyResult(DonorRecord):
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

    record_name = "a serology result"

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="serology")
    test = models.CharField(max_length=10, choices=Test.choices)
    result = models.CharField(max_length=14, choices=Result.choices)
    sampled_on = models.DateField()

    RECORD_FIELDS = ("test", "result", "sampled_on")

    class Meta:
        ordering = ["donor", "test", "-sampled_on"]

    def clean(self):
        super().clean()
        errors = moment_errors("sampled_on", self.sampled_on, what="The sampling date")
        if errors:
            raise ValidationError(errors)

    def __str__(self):
        return f"{self.donor} {self.get_test_display()} {self.result} ({self.sampled_on})"

    @property
    def audit_code(self):
        return f"{self.donor.code}/{self.test}/{self.sampled_on}"


class Procurement(DonorRecord):
    """Liposuction by plastic surgery: about 100 ml lipoaspirate, about 50 g of fat."""

    record_name = "a procurement record"

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

    RECORD_FIELDS = (
        "procured_on",
        "site",
        "lipoaspirate_volume_ml",
        "fat_weight_g",
        "performed_by",
    )

    class Meta:
        ordering = ["-procured_on"]

    def clean(self):
        super().clean()
        errors = moment_errors("procured_on", self.procured_on, what="The procurement date")
        if errors:
            raise ValidationError(errors)

    def __str__(self):
        return f"{self.donor} {self.procured_on}"

    @property
    def audit_code(self):
        return f"{self.donor.code}/{self.procured_on}"
