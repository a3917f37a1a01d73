"""A dose's page and a bag's page: what was given, the vital signs before and after, and
the chain of custody of every bag in time order (who, when, where)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from batches.models import Bag, BagEvent
from core.views import requires
from dosing.forms import VITAL_SIGNS
from dosing.models import Dose, DoseBag
from dosing.views.common import VIEW, dose_picks

VIEW_CUSTODY = "batches.view_bagevent"


def vital_rows(infusion) -> list[dict]:
    """The vital signs of an infusion, one row per sign: before and after."""
    if infusion is None:
        return []
    return [
        {
            "label": label,
            "before": getattr(infusion, f"{stem}_before"),
            "after": getattr(infusion, f"{stem}_after"),
        }
        for label, stem in VITAL_SIGNS
    ]


def custody_events(user, bag_ids):
    """Every custody event of these bags the user may see, in time order."""
    return list(
        BagEvent.objects.for_user(user)
        .filter(bag_id__in=bag_ids)
        .select_related("bag", "actor")
        .order_by("occurred_at", "pk")
    )


@requires(VIEW, VIEW_CUSTODY)
def dose_detail(request, pk: int):
    doses = Dose.objects.for_user(request.user).select_related(
        "patient", "protocol", "batch", "preparation", "infusion", "infusion__infused_by"
    )
    dose = get_object_or_404(doses, pk=pk)
    links = list(
        DoseBag.objects.filter(dose=dose).select_related("bag", "bag__location").order_by("pk")
    )
    infusion = getattr(dose, "infusion", None)
    return render(
        request,
        "dosing/dose_detail.html",
        {
            "dose": dose,
            "preparation": getattr(dose, "preparation", None),
            "infusion": infusion,
            "vitals": vital_rows(infusion),
            "links": links,
            "picks": dose_picks(dose),
            "events": custody_events(request.user, [link.bag_id for link in links]),
            "scans": dose.scans.select_related("scanned_by").order_by("scanned_at", "pk"),
        },
    )


@requires(VIEW_CUSTODY)
def bag_timeline(request, code: str):
    bags = Bag.objects.for_user(request.user).select_related("batch", "location")
    bag = get_object_or_404(bags, code=code)
    visible = Dose.objects.for_user(request.user)
    links = DoseBag.objects.filter(bag=bag, dose__in=visible).select_related("dose__patient")
    return render(
        request,
        "dosing/bag_timeline.html",
        {
            "bag": bag,
            "events": custody_events(request.user, [bag.pk]),
            "links": links.order_by("pk"),
        },
    )
