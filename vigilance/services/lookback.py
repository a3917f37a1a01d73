"""The lookback of a recall: every patient exposed to the batch with their doses,
infusion dates and adverse events; every bag's whereabouts; the donor's other batches.

Reads only, through `for_user`: a reader sees the patients, doses and bags of their own
sites (a hospital's pharmacy its patients; an auditor of the network all), in a constant
number of queries whatever the batch's size (the API and the page guard it)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from batches.models import Bag, Batch
from core.formatting import fmt_time
from dosing.models import AdverseEvent, Dose, DoseBag
from patients.models import Patient
from vigilance.models import Recall

S = Dose.Status

# The lookback joins patients, their doses and events to the bags: reading it needs the
# view permission of each, besides the recall's (the QP sees the recall, not patients).
LOOKBACK_PERMISSIONS = (
    "vigilance.view_recall",
    "patients.view_patient",
    "dosing.view_dose",
    "dosing.view_adverseevent",
    "batches.view_bag",
)


def exposed_patients(recall: Recall, user) -> QuerySet:
    """The patients infused from the recalled batch (a dose of it `infused`), by code,
    with their doses of the batch (infusion, bags) and their adverse events prefetched."""
    batch_id = recall.batch_id
    doses = (
        Dose.objects.filter(batch_id=batch_id)
        .select_related("infusion")
        .prefetch_related(
            Prefetch("dose_bags", queryset=DoseBag.objects.select_related("bag").order_by("pk"))
        )
        .order_by("number")
    )
    return (
        Patient.objects.for_user(user)
        .filter(doses__batch_id=batch_id, doses__status=S.INFUSED)
        .distinct()
        .select_related("hospital")
        .order_by("code")
        .prefetch_related(
            Prefetch("doses", queryset=doses, to_attr="batch_doses"),
            Prefetch(
                "adverse_events",
                queryset=AdverseEvent.objects.select_related("dose__patient").order_by("onset_at"),
                to_attr="events",
            ),
        )
    )


def dose_row(dose: Dose) -> dict:
    infusion = getattr(dose, "infusion", None)
    return {
        "code": dose.code,
        "number": dose.number,
        "status": dose.status,
        "infused_at": infusion.started_at if infusion else None,
        "bags": [link.bag.code for link in dose.dose_bags.all()],
    }


def event_row(event: AdverseEvent) -> dict:
    return {
        "id": event.pk,
        "dose": event.dose.code if event.dose_id else None,
        "onset_at": event.onset_at,
        "ctcae_grade": event.ctcae_grade,
        "serious": event.serious,
        "outcome": event.outcome,
        "causality": event.causality,
    }


def patient_row(patient: Patient) -> dict:
    for dose in patient.batch_doses:
        dose.patient = patient  # the prefetch leaves the way back unloaded
    doses = [dose_row(d) for d in patient.batch_doses]
    infused = [d["infused_at"] for d in doses if d["infused_at"]]
    return {
        "patient": patient.code,
        "hospital": patient.hospital.code,
        "first_infusion": min(infused) if infused else None,
        "doses": doses,
        "adverse_events": [event_row(e) for e in patient.events],
    }


def bag_whereabouts(batch: Batch, user) -> list[dict]:
    """Each bag of the batch the reader sees (`Bag.objects.for_user`): status, storage
    position, and the dose (patient, hospital) holding it or that it went to — shown only
    when the dose is of the reader's hospitals."""
    links = (
        DoseBag.objects.scoped_to(user)
        .select_related("dose__patient__hospital")
        .order_by("-live", "-pk")
    )
    bags = (
        Bag.objects.for_user(user)
        .filter(batch=batch)
        .select_related("location__facility", "location__hospital")
        .prefetch_related(Prefetch("dose_links", queryset=links, to_attr="links"))
        .order_by("code")
    )
    rows = []
    for bag in bags:
        link = bag.links[0] if bag.links else None
        dose = link.dose if link else None
        rows.append(
            {
                "bag": bag.code,
                "status": bag.status,
                "location": bag.location.audit_code if bag.location_id else "",
                "dose": dose.code if dose else None,
                "dose_status": dose.status if dose else None,
                "patient": dose.patient.code if dose else None,
                # the dose's hospital, else the hospital storing the bag
                "hospital": dose.patient.hospital.code
                if dose
                else (
                    bag.location.hospital.code if bag.location and bag.location.hospital else None
                ),
            }
        )
    return rows


def lookback(recall: Recall, user) -> dict:
    """The whole lookback of `recall`, as the page and `/api/v1/recalls/<id>/lookback/`
    show it."""
    batch = recall.batch
    stopped = (
        Dose.objects.for_user(user)
        .filter(batch=batch, status=S.STOPPED)
        .select_related("patient__hospital")
        .order_by("patient__code", "number")
    )
    others = (
        Batch.objects.for_user(user)
        .filter(donor_id=batch.donor_id)
        .exclude(pk=batch.pk)
        .order_by("din")
    )
    return {
        "recall": recall_row(recall),
        "exposed_patients": [patient_row(p) for p in exposed_patients(recall, user)],
        "stopped_doses": [
            {
                "dose": d.code,
                "patient": d.patient.code,
                "hospital": d.patient.hospital.code,
                "stopped_at": d.stopped_at,
            }
            for d in stopped
        ],
        "bags": bag_whereabouts(batch, user),
        "donor": batch.donor.code,
        "donor_other_batches": [
            {"batch": b.code, "status": b.status, "expires_on": b.expires_on} for b in others
        ],
    }


def recall_row(recall: Recall) -> dict:
    return {
        "id": recall.pk,
        "code": recall.code,
        "batch": recall.batch.code,
        "reason": recall.reason,
        "recalled_at": recall.recalled_at,
        "recalled_at_text": fmt_time(recall.recalled_at),
        "recalled_by": recall.signature.printed_name,
        "stopped_doses": recall.stopped_doses,
    }
