"""What every dosing operation shares: the clock, the dose lock, the refusal."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.utils import timezone

from batches.models import Bag, Batch
from batches.services import move_bag
from dosing.exceptions import DosingError
from dosing.models import Dose, Protocol
from dosing.rules import Failure, live_doses
from patients.models import Patient


def now_or(at: datetime.datetime | None) -> datetime.datetime:
    return at or timezone.now()


def lock_dose(dose: Dose) -> Dose:
    return (
        Dose.objects.select_for_update(of=("self",))
        .select_related("patient", "protocol", "batch")
        .get(pk=dose.pk)
    )


def refuse(error: type[DosingError], failures: Sequence[Failure]) -> None:
    """Raise every failure at once (each beside its field), or nothing when there is none."""
    if failures:
        raise error([f.message for f in failures], fields=[f.field for f in failures])


def active_protocol() -> Protocol:
    protocol = Protocol.objects.filter(active=True).order_by("-version", "-pk").first()
    if protocol is None:
        raise DosingError("No active treatment protocol: ask the pharmacy lead to activate one.")
    return protocol


def patient_batch(patient: Patient, *, exclude: Dose | None = None, doses=None) -> Batch | None:
    """The batch of the patient's doses: fixed by the first dose that reserved bags — or,
    after a recall, by the latest (a dose allocated from another batch with a physician's
    override fixes that batch for the rest of the course). `doses`: the patient's live
    doses in course order (`live_doses`, with their batch), when already read."""
    if doses is not None:
        fixed = [dose for dose in doses if dose.batch_id is not None and dose != exclude]
        return fixed[-1].batch if fixed else None
    doses = live_doses(patient).filter(batch__isnull=False)
    if exclude is not None:
        doses = doses.exclude(pk=exclude.pk)
    latest = doses.select_related("batch").last()
    return latest.batch if latest else None


def live_bags(dose: Dose) -> list[Bag]:
    return [link.bag for link in dose.dose_bags.filter(live=True).select_related("bag")]


def move_live_bags(dose: Dose, status: str, *, actor, note: str, at) -> None:
    """Every bag the dose holds to `status`, each with its custody event."""
    for bag in live_bags(dose):
        move_bag(bag, status, actor=actor, note=note, at=at)
