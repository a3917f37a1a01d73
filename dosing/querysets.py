"""Read paths over doses (no writes here): what a user may see, and the live doses.

A live dose is any dose not cancelled: it counts towards the course, holds its bags and
fixes the patient's batch. Everything that asks "the patient's doses" means live ones.
"""

from __future__ import annotations

from audit.audited import AuditedQuerySet

CANCELLED = "cancelled"  # Dose.Status.CANCELLED (models import this module, not the reverse)


class DoseQuerySet(AuditedQuerySet):
    def live(self) -> DoseQuerySet:
        return self.exclude(status=CANCELLED)

    def of_patient(self, patient) -> DoseQuerySet:
        """The patient's live doses in course order."""
        return self.filter(patient=patient).live().order_by("number")
