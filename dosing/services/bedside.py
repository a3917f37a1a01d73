"""At the bedside: the infusion record of a dispensed dose, and adverse events."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from batches.models import Bag
from core.exceptions import validation_messages
from dosing.exceptions import AdverseEventError, InfusionError
from dosing.models import AdverseEvent, BedsideScan, Dose, Infusion
from dosing.rules import (
    adverse_event_failures,
    bedside_check,
    infusion_failures,
    read_scan,
    scan_failure,
)
from dosing.services.common import lock_dose, move_live_bags, now_or, refuse
from patients.models import Patient

S = Dose.Status


@transaction.atomic
def record_infusion(
    dose: Dose,
    *,
    actor: AbstractBaseUser,
    started_at: datetime.datetime,
    ended_at: datetime.datetime,
    filter_confirmed: bool,
    vitals: dict,
    premedication_given: str = "",
    immediate_reactions: str = "",
    at: datetime.datetime | None = None,
) -> Infusion:
    """Record the bedside infusion of a dispensed dose; one record per dose.

    Refused (`dosing.rules.infusion_failures`): a dose that already has an infusion
    record; a dose not dispensed; the 200 µm filter not confirmed; a start or end in the
    future; a start past the product's limit (thawed: thaw limit; refreshed: 24 h from
    harvest) or before dispensing; a start outside the interval window after the previous
    dose's real infusion start (the gate: the order's planned time is only a plan); a
    missing premedication the protocol requires. Bags → infused; dose → infused.
    """
    at = now_or(at)
    dose = lock_dose(dose)
    refuse(
        InfusionError,
        infusion_failures(
            dose,
            started_at=started_at,
            ended_at=ended_at,
            filter_confirmed=filter_confirmed,
            premedication_given=premedication_given,
            now=at,
        ),
    )
    infusion = Infusion(
        dose=dose,
        started_at=started_at,
        ended_at=ended_at,
        filter_200um_confirmed=True,
        premedication_given=premedication_given.strip(),
        infused_by=actor,
        immediate_reactions=immediate_reactions.strip(),
        scanned_bag_codes=", ".join(sorted(bedside_check(dose).matched_codes)),
        recorded_at=at,
        **{name: vitals.get(name) for name in Infusion.VITAL_FIELDS},
    )
    try:
        infusion.full_clean(exclude=["dose"])
    except ValidationError as exc:
        raise InfusionError(validation_messages(exc)) from None
    with audit_context(actor=actor, reason=f"infusion of {dose.code} recorded"):
        infusion.save(audit_action="infuse")
        move_live_bags(
            dose, Bag.Status.INFUSED, actor=actor, note=f"infused as {dose.code}", at=started_at
        )
        dose.status = S.INFUSED
        dose.save(audit_action="infused")
    return infusion


@transaction.atomic
def record_bedside_scan(
    dose: Dose, *, actor: AbstractBaseUser, code: str, at: datetime.datetime | None = None
) -> BedsideScan:
    """Check one scan at the bedside: the patient's wristband first, then each bag's full
    code, typed or read from the bag label's DataMatrix message (`dosing.rules.read_scan`,
    `dosing.rules.scan_failure`; a bag no longer usable is refused by the one rule,
    `batches.rules.bag_unusable_reason`). Every scan is kept with its verdict, so each
    match and each refusal is on the audit trail; the caller shows `refusal` at once."""
    at = now_or(at)
    dose = lock_dose(dose)
    read = read_scan(code)
    code = read.code
    kind, refusal, bag = scan_failure(dose, code, at, read=read)
    scan = BedsideScan(
        dose=dose,
        kind=kind,
        scanned_code=code[:80],
        bag=bag if kind == BedsideScan.Kind.BAG else None,
        matched=not refusal,
        refusal=refusal,
        scanned_by=actor,
        scanned_at=at,
    )
    verdict = "refused: " + refusal if refusal else "matched"
    with audit_context(actor=actor, reason=f"bedside {kind} scan for {dose.code} {verdict}"):
        scan.save(audit_action="bedside_refused" if refusal else "bedside_match")
    return scan


@transaction.atomic
def report_adverse_event(
    patient: Patient,
    *,
    actor: AbstractBaseUser,
    onset_at: datetime.datetime,
    description: str,
    ctcae_grade: int,
    serious: bool,
    outcome: str,
    causality: str,
    dose: Dose | None = None,
    at: datetime.datetime | None = None,
) -> AdverseEvent:
    """Report an adverse event with CTCAE grade and WHO-UMC causality.

    Refused (`dosing.rules.adverse_event_failures`): a dose of another patient; an onset
    in the future; grade 5 (death) without a fatal outcome, serious, or a fatal outcome
    not graded 5; an empty description.
    """
    at = now_or(at)
    refuse(
        AdverseEventError,
        adverse_event_failures(
            patient,
            dose=dose,
            onset_at=onset_at,
            description=description,
            ctcae_grade=ctcae_grade,
            serious=serious,
            fatal=outcome == AdverseEvent.Outcome.FATAL,
            now=at,
        ),
    )
    event = AdverseEvent(
        patient=patient,
        dose=dose,
        onset_at=onset_at,
        description=description.strip(),
        ctcae_grade=ctcae_grade,
        serious=serious,
        outcome=outcome,
        causality=causality,
        reported_by=actor,
        reported_at=at,
    )
    try:
        event.full_clean(exclude=["patient", "dose"])
    except ValidationError as exc:
        raise AdverseEventError(validation_messages(exc)) from None
    with audit_context(actor=actor, reason=f"adverse event reported for {patient.code}"):
        event.save(audit_action="report_adverse_event")
    return event
