"""The published figures a programme compares its cohort report with.

Entered once (a data migration for the source paper), never computed: each row is one
figure of one publication for one protocol, keyed by the report's JSON path
(`cells_per_kg_per_dose.median`, `outcomes.improved`, `lab_day5.crp.as_expected`).
"""

from django.db import models

from audit.audited import AuditedModel


class PublishedFigure(AuditedModel):
    """One figure as a publication gives it, beside which the report shows its own."""

    # Entered by the data migration 0002 (no events then); reconciliation accepts such rows
    # (audit.verify.reconcile) and audits every later change.
    audit_seeded_by_migration = True

    protocol_code = models.CharField(
        max_length=40, help_text="The dosing protocol the publication followed."
    )
    source = models.CharField(max_length=200, help_text="Citation, with its DOI.")
    figure = models.CharField(max_length=80, help_text="The report's JSON path of the figure.")
    value = models.DecimalField(max_digits=14, decimal_places=4)
    as_published = models.CharField(
        max_length=80, blank=True, help_text="The figure as printed, e.g. '0.98 × 10⁶/kg'."
    )

    class Meta:
        ordering = ["protocol_code", "figure"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol_code", "source", "figure"], name="published_figure_once"
            )
        ]

    def __str__(self):
        return f"{self.protocol_code} {self.figure} = {self.value}"

    @property
    def audit_code(self) -> str:
        return f"{self.protocol_code} {self.figure}"

    def reason_required(self, stored: dict) -> bool:
        """A figure is the publication's: a stored one changes only as a correction."""
        return True
