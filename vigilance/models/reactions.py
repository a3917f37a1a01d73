"""Serious adverse reaction notifications (Directive 2006/86/EC, Annex II): part A, the
notification, then part B, the confirmation; each signed."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.audited import AuditedModel
from audit.models import Signature
from vigilance.imputability import Imputability
from vigilance.querysets import ReactionReportQuerySet


class ReactionReport(AuditedModel):
    """One serious adverse reaction notification about one adverse event.

    Part A holds what was notified, as submitted (pre-filled from the record, then signed);
    part B the confirmation that follows. The products are the bags given in the dose,
    each with its donation identification number and product code.
    """

    class ClinicalOutcome(models.TextChoices):
        # Directive 2006/86/EC, Annex II part B.
        COMPLETE_RECOVERY = "complete_recovery", "Complete recovery"
        MINOR_SEQUELAE = "minor_sequelae", "Minor sequelae"
        SERIOUS_SEQUELAE = "serious_sequelae", "Serious sequelae"
        DEATH = "death", "Death"
        UNKNOWN = "unknown", "Not known"

    adverse_event = models.OneToOneField(
        "dosing.AdverseEvent", on_delete=models.PROTECT, related_name="reaction_report"
    )
    # Part A
    establishment = models.CharField(max_length=200, help_text="Reporting establishment.")
    reporting_date = models.DateField()
    application_date = models.DateField(
        null=True, blank=True, help_text="Date of application (the infusion)."
    )
    products = models.JSONField(
        default=list,
        help_text="Each bag given: donation identification number, product code, bag code.",
    )
    reaction_date = models.DateField()
    reaction_type = models.TextField()
    causality = models.CharField("causality (WHO-UMC)", max_length=12)
    imputability = models.CharField(max_length=2, choices=Imputability.choices)
    part_a_signature = models.OneToOneField(
        Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    part_a_submitted_at = models.DateTimeField(null=True, blank=True)
    part_a_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # Part B
    confirmed = models.BooleanField(
        null=True, blank=True, help_text="Serious adverse reaction confirmed (part B)."
    )
    clinical_outcome = models.CharField(max_length=20, choices=ClinicalOutcome.choices, blank=True)
    corrective_measures = models.TextField(blank=True)
    part_b_signature = models.OneToOneField(
        Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    part_b_submitted_at = models.DateTimeField(null=True, blank=True)
    part_b_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ReactionReportQuerySet.as_manager()

    class Meta:
        ordering = ["-reporting_date", "-pk"]
        permissions = [("report_reaction", "Can submit and sign reaction notifications")]

    def __str__(self):
        return self.code

    @property
    def code(self) -> str:
        """The report id of part A: SAR-<year>-<number>."""
        year = self.reporting_date.year if self.reporting_date else 0
        return f"SAR-{year}-{self.pk or 0:05d}"

    @property
    def audit_code(self) -> str:
        return self.code

    @property
    def part_b_submitted(self) -> bool:
        return self.part_b_signature_id is not None

    def reason_required(self, stored: dict) -> bool:
        return stored.get("part_a_signature") is not None
