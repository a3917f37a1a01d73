"""Release specifications: versioned limits, frozen once a QP decision used them."""

from django.db import models
from django.db.models import Q

from audit.audited import AuditedModel
from batches.exceptions import SpecificationInUseError
from batches.models.guards import RefusesDeletion
from batches.querysets import SpecificationQuerySet
from core.formatting import plain_decimal


class ReleaseSpecification(AuditedModel):
    """A versioned set of release limits. Limits are data, never constants in code."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    effective_from = models.DateField()
    is_active = models.BooleanField(
        default=True, help_text="New batches take the newest active version."
    )
    notes = models.TextField(blank=True)

    objects = SpecificationQuerySet.as_manager()

    # What production records about a version (the admin's form and the service).
    RECORD_FIELDS = ("code", "version", "effective_from", "is_active", "notes")

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
        return self.pk is not None and self.batches.decided().exists()

    def reason_required(self, stored: dict) -> bool:
        return self.is_in_use()


class SpecificationItem(RefusesDeletion, AuditedModel):
    """One required check of a specification and its acceptance criterion."""

    objects = SpecificationQuerySet.as_manager()

    deletion_error = SpecificationInUseError

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

    # An item's criterion, in the order the specification's inline and the API show it.
    RECORD_FIELDS = (
        "category",
        "parameter",
        "kind",
        "lower_limit",
        "upper_limit",
        "expected_result",
        "unit",
        "required",
    )

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
            return f"≥ {plain_decimal(self.lower_limit)} {self.unit}".strip()
        if self.kind == self.Kind.MAXIMUM:
            return f"≤ {plain_decimal(self.upper_limit)} {self.unit}".strip()
        return f"= {self.expected_result}"

    @property
    def audit_code(self):
        return f"{self.specification}/{self.parameter}"

    def reason_required(self, stored: dict) -> bool:
        return self.specification.is_in_use()

    # The fields a result is judged against: a change re-evaluates every stored result
    # (`services.correct_specification_item`).
    LIMIT_FIELDS = ("kind", "lower_limit", "upper_limit", "expected_result")

    @staticmethod
    def in_use_refusal(spec_id, refused: str) -> str | None:
        """Why version `spec_id` takes no such change ("<refused>"), or None if unused."""
        if spec_id is None:
            return None
        spec = ReleaseSpecification.objects.get(pk=spec_id)
        if not spec.is_in_use():
            return None
        return (
            f"Specification {spec} has been used for a QP release or rejection: "
            f"{refused}. To change a limit, create a new version of the "
            "specification and use it for new batches."
        )

    @classmethod
    def refuse_if_in_use(cls, spec_id, refused: str) -> None:
        refusal = cls.in_use_refusal(spec_id, refused)
        if refusal:
            raise SpecificationInUseError(refusal)

    def deletion_refusal(self) -> str | None:
        stored = type(self)._base_manager.filter(pk=self.pk).first()
        spec_id = stored.specification_id if stored else None
        return self.in_use_refusal(spec_id, "its items cannot be deleted")

    def save(self, *args, **kwargs):
        """Save, refusing any change to a version in use.

        A version a QP has decided against is frozen, whoever writes: an item of it
        cannot be changed, deleted or moved to another version, nor an item moved into it
        (`SpecificationInUseError`, telling the user to make a new version). Adding an
        item to it is refused by `services.add_specification_item`; the pass/fail of
        stored results is recomputed by the service that changes a limit
        (`services.correct_specification_item`).
        """
        stored = None
        if self.pk is not None:
            stored = type(self)._base_manager.filter(pk=self.pk).first()
        if stored is not None:
            self.refuse_if_in_use(stored.specification_id, "its items cannot be changed")
            if stored.specification_id != self.specification_id:
                self.refuse_if_in_use(self.specification_id, "its items cannot be moved into it")
        super().save(*args, **kwargs)
