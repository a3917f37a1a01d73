"""Which hospitals a recall concerns, and where each one's notice goes: the hospital's
own `notification_email` (`sites.Hospital`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from batches.models import Bag, Batch
from dosing.models import Dose, DoseBag
from sites.models import Hospital

# A bag in one of these is no longer anywhere a patient could get it from.
_GONE = (Bag.Status.INFUSED, Bag.Status.DISCARDED, Bag.Status.EXPIRED)


@dataclass(frozen=True)
class Site:
    """A hospital a recall concerns: it gave bags of the batch or holds some."""

    hospital: Hospital
    held_bags: int
    exposed_patients: int

    @property
    def code(self) -> str:
        return self.hospital.code

    @property
    def address(self) -> str:
        return self.hospital.notification_email


def concerned_sites(batch: Batch) -> list[Site]:
    """Every hospital that gave bags of `batch` (to a dose of one of its patients) or
    holds some (stored at it, or reserved for a dose there and not infused), in code
    order, with how many bags it still holds and how many of its patients were infused
    from it. Three queries whatever the batch's size."""
    links = (
        DoseBag.objects.filter(bag__batch=batch)
        .select_related("bag", "dose__patient")
        .order_by("pk")
    )
    held: dict[int, set[int]] = {}
    exposed: dict[int, set[int]] = {}
    for link in links:
        hospital_id = link.dose.patient.hospital_id
        held.setdefault(hospital_id, set())
        if link.bag.status == Bag.Status.INFUSED or link.dose.status == Dose.Status.INFUSED:
            exposed.setdefault(hospital_id, set()).add(link.dose.patient_id)
        elif link.bag.status not in _GONE:
            held[hospital_id].add(link.bag_id)
    stored = Bag.objects.filter(
        Q(batch=batch, held_at_hospital__isnull=False) & ~Q(status__in=_GONE)
    ).values_list("held_at_hospital_id", "pk")
    for hospital_id, bag_id in stored:
        held.setdefault(hospital_id, set()).add(bag_id)
    hospitals = Hospital.objects.filter(pk__in=held).order_by("code")
    return [
        Site(
            hospital=hospital,
            held_bags=len(held.get(hospital.pk, ())),
            exposed_patients=len(exposed.get(hospital.pk, ())),
        )
        for hospital in hospitals
    ]
