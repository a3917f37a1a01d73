"""A batch's recall by its QP, and the notices sent to the sites concerned."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from audit.audited import AuditedModel
from audit.models import Signature
from batches.rules import recall_code
from vigilance.querysets import RecallNoticeQuerySet, RecallQuerySet


class Recall(AuditedModel):
    """The QP's signed recall of one batch: who, when, why, and the signature."""

    batch = models.OneToOneField("batches.Batch", on_delete=models.PROTECT, related_name="recall")
    reason = models.TextField()
    recalled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recalled_at = models.DateTimeField()
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+")
    stopped_doses = models.PositiveIntegerField(
        default=0, help_text="Doses not yet infused that the recall stopped."
    )

    objects = RecallQuerySet.as_manager()

    class Meta:
        ordering = ["-recalled_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="recall_has_reason")
        ]

    def __str__(self):
        return self.code

    @property
    def code(self) -> str:
        """RC-<batch code>: the name every refusal gives the recall."""
        return recall_code(self.batch)

    @property
    def audit_code(self) -> str:
        return self.code

    def reason_required(self, stored: dict) -> bool:
        return True


class RecallNotice(AuditedModel):
    """One hospital told of a recall: the address written to, when the mail went, and
    when the hospital's pharmacy acknowledged it on its worklist."""

    recall = models.ForeignKey(Recall, on_delete=models.PROTECT, related_name="notices")
    hospital = models.ForeignKey(
        "sites.Hospital", on_delete=models.PROTECT, related_name="recall_notices"
    )
    address = models.EmailField(
        blank=True,
        help_text="The hospital's notification address when the recall was signed "
        "(none: the notice is on the worklist only).",
    )
    held_bags = models.PositiveIntegerField(default=0)
    exposed_patients = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = RecallNoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-recall__recalled_at", "hospital__code"]
        constraints = [
            models.UniqueConstraint(fields=["recall", "hospital"], name="one_notice_per_hospital")
        ]

    def __str__(self):
        return f"{self.recall.code} → {self.hospital.code}"

    @property
    def audit_code(self) -> str:
        return f"{self.recall.code}/{self.hospital.code}"
