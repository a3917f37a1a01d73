"""After a shipment is received, and before one is made: the QP's decision on an
excursion, the pharmacy's request for bags and production's answer; and what every
shipment step shares (who may do it, the shipment locked).

- `decide_excursion` (the QP of the facility, signed): the quarantined bags released or
  discarded;
- `request_shipment`, `answer_request` (the pharmacy asks, production ships or declines).

Each is one transaction on the audit trail; times are in order and never in the future.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from audit.models import Signature
from audit.signatures import sign
from batches.exceptions import ShipmentError
from batches.models import Bag, Shipment, ShipmentRequest
from batches.services.base import save_validated
from batches.services.custody import move_bag
from batches.shipment_rules import decision_failures, request_answer_failures, time_failures
from sites.scope import site_scope


def _refuse(failures) -> None:
    if failures:
        raise ShipmentError([f.message for f in failures], fields=[f.field for f in failures])


def _require(actor, perm: str, *, facility=None, hospital=None, what: str) -> None:
    """`actor` holds `perm` and works at the site (a command's actor None is the system)."""
    if actor is None:
        return
    scope = site_scope(actor)
    at_site = scope.network_wide or (
        facility.pk in scope.facility_ids
        if facility is not None
        else hospital.pk in scope.hospital_ids
    )
    if not actor.is_active or not actor.has_perm(perm) or not at_site:
        site = facility.fin if facility is not None else hospital.code
        raise ShipmentError(f"Only the {what} of {site} may do this.")


def _lock_shipment(shipment: Shipment) -> Shipment:
    return (
        Shipment.objects.select_for_update(of=("self",))
        .select_related("facility", "hospital")
        .get(pk=shipment.pk)
    )


def decision_content(shipment: Shipment) -> dict:
    """What the QP's signature on an excursion binds: the shipment and its bags."""
    return {
        "shipment": shipment.code,
        "facility": shipment.facility.fin,
        "hospital": shipment.hospital.code,
        "logger_id": shipment.logger_id,
        "logger_result": shipment.logger_result,
        "received_at": shipment.received_at,
        "bags": sorted(shipment.items.values_list("bag__code", flat=True)),
    }


@transaction.atomic
def decide_excursion(
    shipment: Shipment,
    *,
    actor: AbstractBaseUser,
    password: str,
    outcome: str,
    reason: str = "",
    at: datetime.datetime | None = None,
) -> Shipment:
    """The QP of the facility decides on the bags an excursion quarantined, signed (the
    meaning "released" or "rejected", bound to `decision_content`): released → available
    at the hospital (while their batch is released), discarded → discarded with the
    reason. Each bag gets its custody event."""
    now = timezone.now()
    at = at or now
    shipment = _lock_shipment(shipment)
    _require(actor, "batches.release_batch", facility=shipment.facility, what="QP")
    failures = decision_failures(shipment, outcome=outcome, reason=reason)
    failures += time_failures(at, after=shipment.received_at, after_what="received", now=now)
    _refuse(failures)
    released = outcome == Shipment.Decision.RELEASED
    words = "released" if released else "discarded"
    trail = f"temperature excursion of shipment {shipment.code}: bags {words} by the QP"
    if reason.strip():
        trail += f" ({reason.strip()})"
    with audit_context(actor=actor, reason=trail):
        sign(
            signer=actor,
            password=password,
            meaning=Signature.Meaning.RELEASED if released else Signature.Meaning.REJECTED,
            object_type=shipment._meta.label_lower,
            object_id=shipment.pk,
            object_repr=shipment.code,
            content=decision_content(shipment),
            comment=reason.strip() or trail,
        )
        for item in shipment.items.select_related("bag__batch").order_by("bag__code"):
            bag = item.bag
            if bag.status != Bag.Status.QUARANTINE:
                continue
            if released and bag.batch.status == bag.batch.Status.RELEASED:
                move_bag(bag, Bag.Status.AVAILABLE, actor=actor, note=trail, at=at)
            elif not released:
                move_bag(bag, Bag.Status.DISCARDED, actor=actor, reason=trail, at=at)
        shipment.decision = outcome
        shipment.decided_at = at
        shipment.decided_by = actor
        shipment.decision_reason = reason.strip()
        shipment.save(audit_action=f"excursion_{words}")
    return shipment


# Requests ---------------------------------------------------------------------------


@transaction.atomic
def request_shipment(
    *,
    hospital,
    facility,
    actor: AbstractBaseUser | None,
    bags_wanted: int = 1,
    note: str = "",
    at: datetime.datetime | None = None,
) -> ShipmentRequest:
    """The hospital's pharmacy asks `facility` for bags; it appears on the facility's
    production list (`batches.querysets.open_shipment_requests`)."""
    now = timezone.now()
    at = at or now
    _require(actor, "batches.request_shipment", hospital=hospital, what="pharmacy")
    _refuse(time_failures(at, after=None, after_what="", now=now))
    if bags_wanted < 1:
        raise ShipmentError("Ask for at least one bag.", field="bags_wanted")
    request = ShipmentRequest(
        hospital=hospital,
        facility=facility,
        bags_wanted=bags_wanted,
        note=note.strip(),
        requested_at=at,
        requested_by=actor,
    )
    return save_validated(
        request,
        actor=actor,
        reason=f"{hospital.code} asks {facility.fin} for {bags_wanted} bags",
        error=ShipmentError,
    )


@transaction.atomic
def answer_request(
    request: ShipmentRequest,
    *,
    actor: AbstractBaseUser | None,
    shipment: Shipment | None = None,
    reason: str = "",
    at: datetime.datetime | None = None,
) -> ShipmentRequest:
    """Production answers a request: shipped (by `shipment`) or declined (`reason`)."""
    now = timezone.now()
    at = at or now
    request = (
        ShipmentRequest.objects.select_for_update().select_related("facility").get(pk=request.pk)
    )
    _require(
        actor, "batches.change_shipmentrequest", facility=request.facility, what="production staff"
    )
    failures = request_answer_failures(request, shipment=shipment, reason=reason)
    failures += time_failures(at, after=request.requested_at, after_what="requested", now=now)
    _refuse(failures)
    request.answered_at = at
    request.answered_by = actor
    if shipment is not None:
        request.status = ShipmentRequest.Status.SHIPPED
        request.shipment = shipment
        words = f"shipped in {shipment.code}"
    else:
        request.status = ShipmentRequest.Status.DECLINED
        request.decline_reason = reason.strip()
        words = f"declined: {reason.strip()}"
    return save_validated(
        request, actor=actor, reason=f"request {request.audit_code} {words}", error=ShipmentError
    )
