"""What the pharmacy and ward pages share: the permissions they need, the dose lookup."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone

from dosing.models import Dose

VIEW = "dosing.view_dose"
ALLOCATE = "dosing.allocate_dose"
DISPENSE = "dosing.dispense_dose"
INFUSE = "dosing.record_infusion"
ASSESS = "patients.add_clinicalassessment"

PHARMACY = "the pharmacy"
WARD = "the ward"


def dose_or_404(request, pk) -> Dose:
    """The dose, if the user may see it (else 404: its existence is not disclosed)."""
    doses = Dose.objects.for_user(request.user).select_related("patient", "protocol", "batch")
    return get_object_or_404(doses, pk=pk)


def local_input(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M") if moment else None
