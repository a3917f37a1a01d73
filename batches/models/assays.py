"""Assay methods: the instrument or method a result comes from, and its reportable range."""

from django.core.exceptions import ValidationError
from django.db import models

from audit.audited import AuditedModel
from batches.querysets import SpecificationQuerySet
from core.formatting import plain_decimal


class AssayMethod(AuditedModel):
    """A method or instrument (e.g. "FACSCanto II", "LAL kinetic chromogenic") and the
    range within which it reports a value. An imported result names its method; a value
    outside the method's range is refused (the method cannot measure it)."""

    objects = SpecificationQuerySet.as_manager()  # the network's, like specifications

    name = models.CharField(max_length=80, unique=True, help_text="As the results file names it.")
    unit = models.CharField(
        max_length=20, blank=True, help_text="The unit it reports in; empty for a text result."
    )
    reportable_min = models.DecimalField(
        "lowest reportable value", max_digits=12, decimal_places=3, null=True, blank=True
    )
    reportable_max = models.DecimalField(
        "highest reportable value", max_digits=12, decimal_places=3, null=True, blank=True
    )
    notes = models.TextField(blank=True)

    RECORD_FIELDS = ("name", "unit", "reportable_min", "reportable_max", "notes")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def audit_code(self):
        return self.name

    def clean(self):
        super().clean()
        low, high = self.reportable_min, self.reportable_max
        if low is not None and high is not None and low > high:
            raise ValidationError(
                {"reportable_max": "The highest reportable value is below the lowest."}
            )

    @property
    def reportable_range(self) -> str:
        low, high = self.reportable_min, self.reportable_max
        if low is None and high is None:
            return "any value"
        unit = f" {self.unit}" if self.unit else ""
        if high is None:
            return f"≥ {plain_decimal(low)}{unit}"
        if low is None:
            return f"≤ {plain_decimal(high)}{unit}"
        return f"{plain_decimal(low)}–{plain_decimal(high)}{unit}"

    def out_of_range(self, value) -> bool:
        if value is None:
            return False
        low, high = self.reportable_min, self.reportable_max
        return (low is not None and value < low) or (high is not None and value > high)
