"""The sites of the network, as records an administrator adds without a deploy.

`sites` sits below every domain app: it imports nothing from batches, patients or dosing
(only audit, core and Django), and they refer to its records.
"""

from django.db import models

from audit.audited import AuditedModel
from sites.querysets import FacilityQuerySet

# Facilities were `batches.facility` until migration sites 0001. The audit trail is
# append-only and hash-chained, so the events written before the move keep that object
# type; a facility's history reads both names (see `sites.admin.FacilityAdmin`).
FACILITY_FORMER_OBJECT_TYPES = ("batches.facility",)


class Facility(AuditedModel):
    """A GMP cell-production facility (the paper's three: Salamanca, Navarra, Marañón)."""

    fin = models.CharField(
        "facility identification number",
        max_length=5,
        unique=True,
        help_text="ISBT 128 FIN: 5 letters or digits, the start of every DIN issued here.",
    )
    name = models.CharField(max_length=200)
    authorisation_ref = models.CharField("GMP authorisation", max_length=100, blank=True)

    objects = FacilityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "facilities"
        ordering = ["fin"]

    def __str__(self):
        return f"{self.fin} {self.name}"

    @property
    def audit_code(self):
        return self.fin
