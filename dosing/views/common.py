"""What the pharmacy and ward pages share: the permissions they need, the dose lookup."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone

from batches.models import BagEvent
from batches.picking import pick_list
from core.widgets import DATETIME_INPUT
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


def dose_picks(dose: Dose) -> list:
    """The pick list of a dose's live bags: each with its storage position, in the order
    to take them out (`batches.picking`)."""
    bags = [
        link.bag
        for link in dose.dose_bags.filter(live=True).select_related("bag", "bag__location")
    ]
    out = [b.pk for b in bags if b.location_id is None]
    taken_from = {}
    if out:  # the position each left storage from: its custody event's, latest last
        events = BagEvent.objects.filter(bag_id__in=out).exclude(location="")
        for bag_id, where in events.order_by("occurred_at", "pk").values_list(
            "bag_id", "location"
        ):
            taken_from[bag_id] = where
    return pick_list(bags, taken_from)


def local_input(moment):
    return timezone.localtime(moment).strftime(DATETIME_INPUT) if moment else None
