"""The next step for a patient, on the worklists and on the patient pages."""

from __future__ import annotations

from django.urls import reverse

from dosing.models import Dose
from dosing.views.common import ALLOCATE, ASSESS, DISPENSE, INFUSE, PHARMACY, WARD
from dosing.worklists import ENDING_OUTCOMES
from patients.models import ClinicalOutcome, Patient
from patients.next_steps import NextStep

_ENDED = {
    ClinicalOutcome.Kind.DEATH: "Died",
    ClinicalOutcome.Kind.EXTUBATION: "Extubated",
    ClinicalOutcome.Kind.ICU_DISCHARGE: "Discharged from the ICU",
}


def _ending_outcome(patient: Patient) -> ClinicalOutcome | None:
    """The outcome after which the patient is followed up only (a death before any
    other), from the prefetched outcomes where the worklist loaded them."""
    ending = [o for o in patient.outcomes.all() if o.kind in ENDING_OUTCOMES]
    deaths = [o for o in ending if o.kind == ClinicalOutcome.Kind.DEATH]
    return (deaths or ending or [None])[0]


def next_step(patient: Patient, doses: list[Dose], eligible: bool, protocol, user) -> dict:
    """What the pharmacy (or ward) does next for this patient, for the worklist.

    The step is a link only for a user who may take it (else it would lead to a 403);
    for anyone else it is shown as text with who takes it.
    """
    live = [d for d in doses if d.is_live]
    last = live[-1] if live else None
    ended = _ending_outcome(patient)
    course = last.protocol if last is not None else protocol
    dead = ended is not None and ended.kind == ClinicalOutcome.Kind.DEATH
    if last is not None and last.status != Dose.Status.INFUSED and dead:
        # No step of a dose may be taken for a patient who died: the dose is cancelled.
        label, perm, by = (
            f"Dose {last.number}: Cancel (died {ended.occurred_on})",
            ALLOCATE,
            PHARMACY,
        )
        href = reverse("dosing:dose-cancel", args=[last.pk])
    elif last is not None and last.status != Dose.Status.INFUSED:
        steps = {
            Dose.Status.ORDERED: ("Allocate bags", "dosing:dose-allocate", ALLOCATE, PHARMACY),
            Dose.Status.ALLOCATED: ("Thaw or refresh", "dosing:dose-prepare", ALLOCATE, PHARMACY),
            Dose.Status.PREPARED: ("Dispense", "dosing:dose-dispense", DISPENSE, PHARMACY),
            Dose.Status.DISPENSED: (
                "Record the infusion",
                "clinic:infusion-record",
                INFUSE,
                WARD,
            ),
        }
        label, name, perm, by = steps[last.status]
        label = f"Dose {last.number}: {label}"
        href = reverse(name, args=[last.pk])
    elif ended is not None:
        label = f"{_ENDED[ended.kind]} on {ended.occurred_on}: follow-up only, no further dose"
        return {"label": label, "href": None, "by": None}
    elif course is not None and len(live) >= course.max_doses:
        return {"label": "All doses given", "href": None, "by": None}
    elif not eligible:
        label, perm, by = "Complete eligibility", ASSESS, PHARMACY
        href = reverse("patients:patient-eligibility", args=[patient.code])
    else:
        label, perm, by = f"Order dose {len(live) + 1}", ALLOCATE, PHARMACY
        href = reverse("dosing:dose-order", args=[patient.code])
    if not user.has_perm(perm):
        return {"label": label, "href": None, "by": by}
    return {"label": label, "href": href, "by": by}


def offer_first_dose(patient: Patient, *, user, eligibility) -> NextStep | None:
    """ "Order dose 1" on the patient's pages once eligible and without a live dose (a
    cancelled dose is no dose), for a user who may order it."""
    if not eligibility.is_eligible or not user.has_perm(ALLOCATE):
        return None
    if patient.doses.live().exists():
        return None
    return NextStep("Order dose 1", reverse("dosing:dose-order", args=[patient.code]))
