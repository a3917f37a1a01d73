"""Release specifications: versioned limits, frozen once a QP decision used them."""

from django.db import models, transaction
from django.db.models import Q

from audit.audited import AuditedModel
from audit.context import audit_context, current_context
from batches.exceptions import SpecificationInUseError
from batches.models.batches import decided_batches
from batches.rules import evaluate_check
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
            return f"≥ {plain_decimal(self.lower_limit)} {self.unit}".strip()
        if self.kind == self.Kind.MAXIMUM:
            return f"≤ {plain_decimal(self.upper_limit)} {self.unit}".strip()
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
