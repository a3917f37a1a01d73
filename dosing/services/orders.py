"""Ordering a dose: the next dose of an eligible patient at the current weight."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from core.exceptions import validation_messages
from dosing.calculator import required_cells
from dosing.exceptions import OrderRefused
from dosing.models import Dose
from dosing.rules import live_doses, order_failures
from dosing.services.common import active_protocol, now_or, refuse
from patients.api import eligibility_record
from patients.eligibility import evaluate_eligibility
from patients.models import Patient


@transaction.atomic
def order_dose(
    patient: Patient,
    *,
    actor: AbstractBaseUser,
    planned_for: datetime.datetime | None = None,
    at: datetime.datetime | None = None,
) -> Dose:
    """Order the patient's next dose at the current weight and the active protocol.

    Refused (nothing written; every reason at once, see `dosing.rules.order_failures`): a
    patient not eligible (names the criteria not met or missing, including a recorded
    death, extubation or ICU discharge); no recorded weight; a dose still in progress;
    more doses than the protocol allows (or than the 1–3 dose numbers); a planned time
    outside the interval window after the previous dose's infusion (names the earliest
    and latest allowed times). The planned time is a plan: thaw, refresh and infusion
    check the window again against real times. Writes the dose with audit action `order`,
    with the eligibility as evaluated (`eligibility_at_order`: the verdict, each criterion
    and the assessment it was read from), so the order's grounds stay with the dose.
    """
    at = now_or(at)
    planned_for = planned_for or at
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    protocol = active_protocol()
    weight = patient.current_weight()
    doses = list(live_doses(patient).select_related("infusion"))
    day = timezone.localdate(at)
    assessment = patient.latest_assessment()
    eligibility = evaluate_eligibility(patient, assessment, on=day)
    refuse(
        OrderRefused,
        order_failures(
            patient,
            eligibility=eligibility,
            weight=weight,
            doses=doses,
            protocol=protocol,
            planned_for=planned_for,
        ),
    )
    number = len(doses) + 1
    dose = Dose(
        patient=patient,
        protocol=protocol,
        number=number,
        planned_for=planned_for,
        weight_kg=weight.weight_kg,
        weight_measured_on=weight.measured_on,
        required_cells=required_cells(weight.weight_kg, protocol.target_cells_per_kg),
        ordered_by=actor,
        ordered_at=at,
        eligibility_at_order=eligibility_record(eligibility, assessment, evaluated_on=day),
    )
    with audit_context(actor=actor, reason=f"dose {number} ordered"):
        try:
            dose.full_clean()
        except ValidationError as exc:
            raise OrderRefused(validation_messages(exc)) from None
        dose.save(audit_action="order")
    return dose
