"""Pure rules of shipments: which bags may travel, in which state a shipment may take
each step, and that its moments are in order and not in the future.

Nothing here reads or writes the database: the services pass in what they locked, and a
page can show the same failures before anything is submitted. Each failure names the
form field it belongs to (None: the shipment as a whole).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from core.formatting import fmt_time

# Tolerance for a clock a little ahead of the server's (a moment typed to the minute).
FUTURE_TOLERANCE = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class Failure:
    message: str
    field: str | None = None


def bag_failures(bags, *, facility, open_codes: set[str], on_date: datetime.date) -> list[Failure]:
    """Why each of `bags` may not go into a new shipment from `facility`: a bag travels
    only when it is available, at a storage position of that facility, of a released
    batch unexpired on `on_date`, and in no other open shipment (`open_codes`)."""
    if not bags:
        return [Failure("Choose at least one bag to ship.", "bags")]
    failures = []
    for bag in bags:
        batch = bag.batch
        if bag.status != bag.Status.AVAILABLE:
            failures.append(
                Failure(
                    f"Bag {bag.code} is {bag.get_status_display().lower()}: only available "
                    "bags are shipped.",
                    "bags",
                )
            )
        elif bag.location_id is None or bag.location.facility_id != facility.pk:
            failures.append(
                Failure(f"Bag {bag.code} is not stored at facility {facility.fin}.", "bags")
            )
        if batch.status != batch.Status.RELEASED:
            failures.append(
                Failure(
                    f"Bag {bag.code}: batch {batch.code} is "
                    f"{batch.get_status_display().lower()}, not released.",
                    "bags",
                )
            )
        elif batch.expires_on is None or batch.expires_on < on_date:
            failures.append(Failure(f"Bag {bag.code}: batch {batch.code} has expired.", "bags"))
        if bag.code in open_codes:
            failures.append(
                Failure(f"Bag {bag.code} is already in another open shipment.", "bags")
            )
    return failures


def state_failures(shipment, expected: str, step: str) -> list[Failure]:
    """The shipment must be in `expected` status to take `step`."""
    if shipment.status != expected:
        return [
            Failure(
                f"Shipment {shipment.code} is {shipment.get_status_display().lower()}: only a "
                f"{shipment.Status(expected).label.lower()} shipment can be {step}."
            )
        ]
    return []


def time_failures(
    at: datetime.datetime,
    *,
    after: datetime.datetime | None,
    after_what: str,
    now: datetime.datetime,
    field: str = "at",
) -> list[Failure]:
    """`at` is not in the future and not before `after` (the shipment's previous step)."""
    failures = []
    if at > now + FUTURE_TOLERANCE:
        failures.append(Failure(f"{fmt_time(at)} is in the future.", field))
    if after is not None and at < after:
        failures.append(
            Failure(
                f"{fmt_time(at)} is before the shipment was {after_what} ({fmt_time(after)}).",
                field,
            )
        )
    return failures


def receipt_failures(shipment, *, logger_result: str) -> list[Failure]:
    """A receipt names the logger's result: in range or an excursion."""
    if logger_result not in shipment.LoggerResult.values:
        return [
            Failure(
                "Read the temperature logger: in range, or a temperature excursion.",
                "logger_result",
            )
        ]
    return []


def decision_failures(shipment, *, outcome: str, reason: str) -> list[Failure]:
    """The QP decides only on an undecided shipment received with an excursion; a
    discard needs a written reason."""
    failures = []
    if not shipment.awaiting_decision:
        failures.append(
            Failure(
                f"Shipment {shipment.code} has no temperature excursion awaiting the QP's "
                "decision."
            )
        )
    if outcome not in shipment.Decision.values:
        failures.append(Failure("Choose to release or to discard the bags.", "outcome"))
    if outcome == shipment.Decision.DISCARDED and not reason.strip():
        failures.append(Failure("Give the reason for discarding the bags.", "reason"))
    return failures


def request_answer_failures(request, *, shipment=None, reason: str = "") -> list[Failure]:
    """A request is answered once: shipped by a shipment of the same facility and
    hospital, or declined with a reason."""
    failures = []
    if request.status != request.Status.REQUESTED:
        failures.append(
            Failure(
                f"Request {request.audit_code} was already {request.get_status_display().lower()}."
            )
        )
    if shipment is not None and (
        shipment.facility_id != request.facility_id or shipment.hospital_id != request.hospital_id
    ):
        failures.append(
            Failure(
                f"Shipment {shipment.code} does not go from the requested facility to the "
                "requesting hospital.",
                "shipment",
            )
        )
    if shipment is None and not reason.strip():
        failures.append(Failure("Give the reason for declining the request.", "reason"))
    return failures
