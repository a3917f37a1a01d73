"""Read paths over doses (no writes here): what a user may see, and the live doses.

A live dose is any dose neither cancelled nor stopped (by a recall of its batch): it
counts towards the course, holds its bags and fixes the patient's batch. Everything that
asks "the patient's doses" means live ones.
"""

from __future__ import annotations

from sites.querysets import SiteScopedQuerySet
from sites.scope import SiteScope

CANCELLED = "cancelled"  # Dose.Status.CANCELLED (models import this module, not the reverse)
STOPPED = "stopped"  # Dose.Status.STOPPED: its batch was recalled before it was infused
ENDED = (CANCELLED, STOPPED)


class DoseQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> DoseQuerySet:
        """The doses of the user's hospitals' patients."""
        return self.filter(patient__hospital_id__in=scope.hospital_ids)

    def live(self) -> DoseQuerySet:
        return self.exclude(status__in=ENDED)

    def of_patient(self, patient) -> DoseQuerySet:
        """The patient's live doses in course order."""
        return self.filter(patient=patient).live().order_by("number")


class DoseRecordQuerySet(SiteScopedQuerySet):
    """Dose bags, preparations, infusions, bedside scans: those of the doses seen."""

    def within(self, scope: SiteScope) -> DoseRecordQuerySet:
        return self.filter(dose__patient__hospital_id__in=scope.hospital_ids)


class AdverseEventQuerySet(SiteScopedQuerySet):
    def within(self, scope: SiteScope) -> AdverseEventQuerySet:
        return self.filter(patient__hospital_id__in=scope.hospital_ids)


class ProtocolQuerySet(SiteScopedQuerySet):
    """The dosing protocol is the network's: every site reads it (the default `within`)."""


def bags_of_hospital_doses(hospital_ids):
    """The ids of the bags in the doses of these hospitals' patients: registered with
    `batches.querysets.register_hospital_bags`, so a pharmacy keeps seeing a bag it gave."""
    from dosing.models import DoseBag

    return DoseBag._base_manager.filter(dose__patient__hospital_id__in=hospital_ids).values(
        "bag_id"
    )
