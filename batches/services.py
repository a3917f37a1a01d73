"""Every state change of a production record: the only writer of batches and bags.

Each function runs in one transaction, locks the rows it changes, opens an
`audit_context` naming the actor (and the reason, where one is needed), and raises a
`BatchError` subclass with a message the user can act on.
"""

from __future__ import annotations

import dataclasses
import datetime
import string
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from audit.models import Signature
from audit.signatures import SignatureError, sign, signature_matches
from batches.exceptions import BagCreationError, BagTransitionError, BatchError, ReleaseError
from batches.models import (
    Bag,
    BagEvent,
    Batch,
    Donor,
    Procurement,
    ReleaseCheck,
    SerologyResult,
    SpecificationItem,
    StorageLocation,
)
from batches.rules import release_failures

S = Bag.Status

# The chain of custody of a bag: which status may follow which.
BAG_TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUARANTINE: frozenset({S.AVAILABLE, S.DISCARDED}),
    # available → quarantine: the batch was put on hold after its release (see `hold`).
    S.AVAILABLE: frozenset({S.RESERVED, S.DISCARDED, S.EXPIRED, S.QUARANTINE}),
    S.RESERVED: frozenset({S.AVAILABLE, S.THAWED, S.IN_REFRESH, S.DISCARDED}),
    S.THAWED: frozenset({S.DISPENSED, S.DISCARDED}),
    S.IN_REFRESH: frozenset({S.DISPENSED, S.DISCARDED}),
    S.DISPENSED: frozenset({S.INFUSED, S.DISCARDED}),
    S.INFUSED: frozenset(),
    S.DISCARDED: frozenset(),
    S.EXPIRED: frozenset(),
}

# The demo ISBT 128 product code: S + an invented 4-digit description code + V
# (volunteer allogeneic) + 00 (no division in the product code itself).
DEFAULT_PRODUCT_CODE = "S0412V00"

# Leaving the liquid-nitrogen tank frees the storage position.
LEAVES_STORAGE = frozenset({S.THAWED, S.IN_REFRESH, S.DISCARDED})


def _label(status: str) -> str:
    return str(S(status).label).lower()


@transaction.atomic
def move_bag(
    bag: Bag,
    to_status: str,
    *,
    actor: AbstractBaseUser | None,
    note: str = "",
    reason: str = "",
    at: datetime.datetime | None = None,
) -> Bag:
    """Move one bag along its chain of custody and record the custody event.

    Guarantees: the bag row is locked; the transition is one of `BAG_TRANSITIONS`;
    a discard carries a written reason (stored in `discard_reason`); a bag leaving the
    tank (thawed, in refresh culture, discarded) frees its storage position; the bag is
    saved with the audit action `bag_<status>` and a `BagEvent` records from, to, when,
    who, where (the position before the move) and the note. Returns the updated bag.

    The audit reason is `reason`, else `note`, else the transition itself: a custody step
    made through this service is the documented path, so a bag already dispensed may be
    marked infused without a separate correction reason.
    """
    try:
        to_status = S(to_status)
    except ValueError:
        raise BagTransitionError(f"'{to_status}' is not a bag status.") from None
    locked = Bag.objects.select_for_update(of=("self",)).select_related("location").get(pk=bag.pk)
    from_status = S(locked.status)
    if to_status not in BAG_TRANSITIONS[from_status]:
        allowed = ", ".join(sorted(_label(s) for s in BAG_TRANSITIONS[from_status])) or "none"
        raise BagTransitionError(
            f"Bag {locked.code} is {_label(from_status)}: it cannot become "
            f"{_label(to_status)} (allowed next: {allowed})."
        )
    if to_status == S.DISCARDED:
        if not reason.strip():
            raise BagTransitionError(f"Bag {locked.code}: give the reason for discarding it.")
        locked.discard_reason = reason.strip()
    where = str(locked.location) if locked.location_id else ""
    locked.status = to_status
    if to_status in LEAVES_STORAGE:
        locked.location = None
    audit_reason = reason.strip() or note.strip() or f"bag {from_status} → {to_status}"
    with audit_context(actor=actor, reason=audit_reason):
        locked.full_clean()
        locked.save(audit_action=f"bag_{to_status}")
        record_custody_event(
            locked, from_status, to_status, actor=actor, location=where, note=note, at=at
        )
    return locked


def record_custody_event(
    bag: Bag,
    from_status: str,
    to_status: str,
    *,
    actor: AbstractBaseUser | None,
    location: str = "",
    note: str = "",
    at: datetime.datetime | None = None,
) -> BagEvent:
    """Write the custody event of a transition the caller has already made on `bag`.

    `move_bag` calls it; so does allocation, which changes many bags' status in one
    conditional UPDATE (so that two pharmacists can never take the same bag) and then
    records each bag's step here. Runs inside the caller's transaction and audit context.
    """
    return BagEvent.objects.create(
        bag=bag,
        from_status=from_status,
        to_status=to_status,
        occurred_at=at or timezone.now(),
        actor=actor,
        location=location,
        note=note,
    )


def _validation_messages(error: ValidationError) -> list[str]:
    if hasattr(error, "message_dict"):
        return [f"{field}: {msg}" for field, msgs in error.message_dict.items() for msg in msgs]
    return list(error.messages)


def _lock_batch(batch: Batch) -> Batch:
    return (
        Batch.objects.select_for_update()
        .select_related("donor", "procurement", "facility", "specification")
        .get(pk=batch.pk)
    )


@transaction.atomic
def record_check(
    batch: Batch,
    item: SpecificationItem,
    *,
    actor: AbstractBaseUser | None,
    tested_on: datetime.date,
    value: Decimal | int | str | None = None,
    text: str = "",
    reason: str = "",
) -> ReleaseCheck:
    """Record (or re-record) the result of one specification item for a batch.

    Pass/fail is computed by the check itself from the specification. A batch that the
    QP has released or rejected (or put back on hold) takes a result only as a
    correction with a written reason, which the audit event carries. If the batch is
    released and the result makes it fail a release rule, it is put on hold in the same
    transaction (see `hold`); the returned check's `holds` lists what was held.
    """
    batch = _lock_batch(batch)
    if batch.reason_required({"status": batch.status}) and not reason.strip():
        raise BatchError(
            f"Batch {batch.code} has a QP decision (now {batch.get_status_display().lower()}"
            "): a result is a correction and needs a written reason."
        )
    check = ReleaseCheck.objects.filter(batch=batch, item=item).select_for_update().first()
    if check is None:
        check = ReleaseCheck(batch=batch, item=item)
    check.result_value = Decimal(str(value)) if value not in (None, "") else None
    check.result_text = text or ""
    check.tested_on = tested_on
    try:
        check.full_clean(exclude=["passed"], validate_unique=False)
    except ValidationError as error:
        raise BatchError(_validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        check.save()
    check.holds = _review([batch], actor=actor, cause=f"{item.parameter} re-recorded", why=reason)
    return check


# ISBT 128 division codes: first level A–Z, second level 0 then a–z.
DIVISIONS = [
    first + second for second in "0" + string.ascii_lowercase for first in string.ascii_uppercase
]
BOX_POSITIONS = 25


def _free_positions(tank: str, rack: str, box: str, count: int) -> list[StorageLocation]:
    """`count` free positions of one box, numbered 1..BOX_POSITIONS, created as needed."""
    existing = {
        loc.position: loc
        for loc in StorageLocation.objects.filter(
            tank=tank, rack=rack, box=box
        ).select_for_update()
    }
    occupied = set(
        Bag.objects.filter(location__in=list(existing.values())).values_list(
            "location__position", flat=True
        )
    )
    chosen, to_create = [], []
    for number in range(1, BOX_POSITIONS + 1):
        position = str(number)
        if position in occupied:
            continue
        if position in existing:
            chosen.append(existing[position])
        else:
            new = StorageLocation(tank=tank, rack=rack, box=box, position=position)
            chosen.append(new)
            to_create.append(new)
        if len(chosen) == count:
            break
    if len(chosen) < count:
        raise BagCreationError(
            f"Box {tank}/{rack}/{box} has only {len(chosen)} free positions for {count} "
            "bags: choose another box."
        )
    StorageLocation.objects.bulk_create(to_create)
    return chosen


@transaction.atomic
def create_bags(
    batch: Batch,
    *,
    actor: AbstractBaseUser | None,
    count: int,
    nominal_cells: int,
    volume_ml: Decimal,
    product_code: str,
    tank: str,
    rack: str,
    box: str,
) -> list[Bag]:
    """Create `count` quarantined bags of a batch in free positions of one storage box.

    Divisions continue after the batch's existing bags of that product code (A0, B0, …).
    Each bag is validated (50–75 ×10⁶ cells, volume), inserted in one statement with one
    audit event per bag, and gets its first custody event ("created in quarantine").
    """
    batch = _lock_batch(batch)
    if batch.status not in (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE):
        raise BagCreationError(
            f"Batch {batch.code} is {batch.get_status_display().lower()}: bags are created "
            "only while the batch is in production or quarantine."
        )
    if not 1 <= count <= BOX_POSITIONS:
        raise BagCreationError(f"Create between 1 and {BOX_POSITIONS} bags at a time.")
    product_code = product_code.strip().upper()
    used = set(
        Bag.objects.filter(batch=batch, product_code=product_code).values_list(
            "division", flat=True
        )
    )
    divisions = [d for d in DIVISIONS if d not in used][:count]
    if len(divisions) < count:
        raise BagCreationError(f"Batch {batch.code} has no division codes left.")
    with audit_context(actor=actor, reason=f"{count} bags created for batch {batch.code}"):
        positions = _free_positions(tank.strip(), rack.strip(), box.strip(), count)
        bags = []
        for division, location in zip(divisions, positions, strict=True):
            bag = Bag(
                batch=batch,
                product_code=product_code,
                division=division,
                nominal_cells=nominal_cells,
                volume_ml=Decimal(str(volume_ml)),
                location=location,
                status=Bag.Status.QUARANTINE,
            )
            bag.code = f"{batch.code}-{product_code}-{division}"
            try:
                bag.full_clean(
                    exclude=["location"], validate_unique=False, validate_constraints=False
                )
            except ValidationError as error:
                raise BagCreationError(_validation_messages(error)) from None
            bags.append(bag)
        bags = Bag.objects.bulk_create(bags)
        now = timezone.now()
        BagEvent.objects.bulk_create(
            [
                BagEvent(
                    bag=bag,
                    from_status="",
                    to_status=Bag.Status.QUARANTINE,
                    occurred_at=now,
                    actor=actor,
                    location=str(bag.location),
                    note="created in quarantine",
                )
                for bag in bags
            ]
        )
    return bags


@transaction.atomic
def submit_for_release(batch: Batch, *, actor: AbstractBaseUser | None) -> Batch:
    """Production hands a batch to the QP: in production → quarantine."""
    batch = _lock_batch(batch)
    if batch.status != Batch.Status.IN_PRODUCTION:
        raise BatchError(
            f"Batch {batch.code} is {batch.get_status_display().lower()}: only a batch in "
            "production can be submitted for release."
        )
    batch.status = Batch.Status.QUARANTINE
    batch.status_changed_at = timezone.now()
    with audit_context(actor=actor, reason="submitted for QP release"):
        batch.save(audit_action="submit_for_release")
    return batch


def _require_qp(actor, batch: Batch) -> None:
    if actor is None or not actor.is_active or not actor.has_perm("batches.release_batch"):
        raise SignatureError(
            f"Batch {batch.code}: only a Qualified Person may release or reject a batch."
        )


@transaction.atomic
def release_batch(
    batch: Batch, *, actor: AbstractBaseUser, password: str, comment: str = ""
) -> Batch:
    """The QP's release: every rule checked, then an electronic signature, then release.

    Refuses with every failing rule at once (ReleaseError, see `release_failures`), and
    refuses a wrong password (SignatureError); either way nothing changes. On success the
    signature (meaning "released") is bound to `batch.signature_content()`, the batch is
    released and each quarantined bag becomes available with its custody event.
    """
    _require_qp(actor, batch)
    batch = _lock_batch(batch)
    failures = release_failures(batch)
    if failures:
        raise ReleaseError(failures)
    with audit_context(actor=actor, reason=comment.strip() or "QP release"):
        sign(
            signer=actor,
            password=password,
            meaning=Signature.Meaning.RELEASED,
            object_type=batch._meta.label_lower,
            object_id=batch.pk,
            object_repr=batch.code,
            content=batch.signature_content(),
            comment=comment,
        )
        batch.status = Batch.Status.RELEASED
        batch.status_changed_at = timezone.now()
        batch.save(audit_action="release")
    for bag in batch.bags.filter(status=Bag.Status.QUARANTINE).order_by("code"):
        move_bag(bag, Bag.Status.AVAILABLE, actor=actor, note=f"batch {batch.code} released")
    return batch


@transaction.atomic
def reject_batch(batch: Batch, *, actor: AbstractBaseUser, password: str, reason: str) -> Batch:
    """The QP's rejection, signed like a release; every bag not yet discarded is discarded.

    Needs a written reason (kept on the signature, the audit events and each bag).
    """
    _require_qp(actor, batch)
    batch = _lock_batch(batch)
    if not reason.strip():
        raise ReleaseError(f"Batch {batch.code}: give the reason for rejecting it.")
    if batch.status not in (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE):
        raise ReleaseError(
            f"Batch {batch.code} is {batch.get_status_display().lower()}: only a batch in "
            "production or quarantine can be rejected."
        )
    reason = reason.strip()
    with audit_context(actor=actor, reason=reason):
        sign(
            signer=actor,
            password=password,
            meaning=Signature.Meaning.REJECTED,
            object_type=batch._meta.label_lower,
            object_id=batch.pk,
            object_repr=batch.code,
            content=batch.signature_content(),
            comment=reason,
        )
        batch.status = Batch.Status.REJECTED
        batch.status_changed_at = timezone.now()
        batch.save(audit_action="reject")
    for bag in batch.bags.exclude(status=Bag.Status.DISCARDED).order_by("code"):
        move_bag(
            bag,
            Bag.Status.DISCARDED,
            actor=actor,
            reason=f"batch {batch.code} rejected: {reason}",
        )
    return batch


@transaction.atomic
def correct_batch(batch: Batch, *, actor: AbstractBaseUser, reason: str, **changes) -> Batch:
    """Correct the GMP data of a batch; a batch a QP has decided on needs a reason.

    Only `Batch.CORRECTABLE_FIELDS` may change. The audit event carries the reason, and
    the QP signature of a released batch stops matching once its content differs. If a
    released batch no longer meets its release rules after the correction, it is put on
    hold in the same transaction (see `hold`); the returned batch's `holds` says so.
    """
    batch = _lock_batch(batch)
    unknown = set(changes) - set(Batch.CORRECTABLE_FIELDS)
    if unknown:
        raise BatchError(f"These fields cannot be corrected: {', '.join(sorted(unknown))}.")
    if batch.reason_required({"status": batch.status}) and not reason.strip():
        raise BatchError(
            f"Batch {batch.code} has a QP decision (now {batch.get_status_display().lower()}"
            "): a correction needs a written reason."
        )
    for field, value in changes.items():
        setattr(batch, field, value)
    try:
        batch.full_clean(validate_unique=False)
    except ValidationError as error:
        raise BatchError(_validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        batch.save(audit_action="correct" if batch.is_locked else "update")
    fields = ", ".join(sorted(changes)) or "nothing"
    batch.holds = _review([batch], actor=actor, cause=f"correction of {fields}", why=reason)
    return batch


# Holding a released batch whose data no longer meets the release rules ----------------


@dataclass
class Hold:
    """A released batch put back on hold: why, and what happened to its bags."""

    batch: Batch
    failures: list[str]
    bags_quarantined: int = 0
    bags_out: dict[str, int] = dataclasses.field(
        default_factory=dict
    )  # reserved, thawed, … → count

    @property
    def message(self) -> str:
        """What the admin tells the user, in plain words."""
        parts = [
            f"Batch {self.batch.code} was released but no longer meets its release rules: "
            "it is back in quarantine, on hold until a QP reviews it (release it again "
            "with a new signature once the failure is resolved, or reject it).",
            f"{self.bags_quarantined} available bag{'s' if self.bags_quarantined != 1 else ''}"
            " moved back to quarantine and can no longer be allocated.",
        ]
        if self.bags_out:
            out = ", ".join(
                f"{n} bag{'s' if n != 1 else ''} {_label(status)}"
                for status, n in sorted(self.bags_out.items())
            )
            parts.append(f"Already issued from this batch: {out} — review them now.")
        parts.append("Failing: " + " ".join(self.failures))
        return " ".join(parts)


def hold(batch: Batch, failures: list[str], *, actor, cause: str, why: str = "") -> Hold:
    """Put a released batch on hold: back to `quarantine`, pending the QP's review.

    Why quarantine and not `recalled`: the batch has not been shown to be bad, only no
    longer shown to be good; quarantine is the status from which a QP decides, so the QP
    can `release_batch` it again (a new signature, once the failure is resolved) or
    `reject_batch` it, with no new status or transition. The batch keeps its release
    signature, so it still counts as decided (`Batch.reason_required`,
    `ReleaseSpecification.is_in_use`): further changes still need a written reason.

    Runs inside the caller's transaction on a locked batch: the status change (audit
    action `hold`, whose reason names the cause and every failing rule), then each
    `available` bag moves back to `quarantine` with its custody event. Bags already
    reserved or further along are left where they are and counted in the Hold: the
    batch is no longer released, so nothing more can be allocated from it.
    """
    reason = f"On hold for QP review after {cause}"
    if why.strip():
        reason += f" ({why.strip()})"
    reason += ": the released batch needs the QP's review — " + " ".join(failures)
    with audit_context(actor=actor, reason=reason):
        batch.status = Batch.Status.QUARANTINE
        batch.status_changed_at = timezone.now()
        batch.save(audit_action="hold")
    result = Hold(batch=batch, failures=list(failures))
    for bag in batch.bags.order_by("code"):
        if bag.status == Bag.Status.AVAILABLE:
            move_bag(
                bag,
                Bag.Status.QUARANTINE,
                actor=actor,
                note=f"batch {batch.code} on hold for QP review",
                reason=reason,
            )
            result.bags_quarantined += 1
        elif bag.status in (S.RESERVED, S.THAWED, S.IN_REFRESH, S.DISPENSED):
            result.bags_out[bag.status] = result.bags_out.get(bag.status, 0) + 1
    return result


def _review(batches, *, actor, cause: str, why: str = "") -> list[Hold]:
    """Re-check each released batch after a change to its data; hold those that fail.

    Runs in the caller's transaction. Each batch is locked and re-read, then judged by
    `release_failures(review=True)` (every release rule except those about the release
    step itself). Returns the holds made (empty when every batch still passes).
    """
    holds = []
    for candidate in batches:
        batch = _lock_batch(candidate)
        if batch.status != Batch.Status.RELEASED:
            continue
        failures = release_failures(batch, review=True)
        signature = batch.decision_signature()
        if signature is not None and not signature_matches(signature, batch.signature_content()):
            # Even a correction that passes every rule changes what the QP certified:
            # dosing refuses a batch whose signature no longer matches, so it goes back
            # to the QP rather than stranding released stock nobody may use.
            failures.append(
                "The batch record changed after the QP signed it: the QP must review it "
                "and sign again."
            )
        if failures:
            holds.append(hold(batch, failures, actor=actor, cause=cause, why=why))
            if candidate is not batch:
                candidate.status = batch.status
                candidate.status_changed_at = batch.status_changed_at
    return holds


def _review_donor(donor: Donor, *, actor, cause: str, why: str) -> list[Hold]:
    released = donor.batches.filter(status=Batch.Status.RELEASED).order_by("pk")
    return _review(list(released), actor=actor, cause=cause, why=why)


def _require_donor_reason(donor: Donor, reason: str, what: str) -> None:
    if donor.has_decided_batch() and not reason.strip():
        raise BatchError(
            f"Donor {donor.code} has a batch a QP has decided on: {what} is a correction "
            "and needs a written reason."
        )


def _save_validated(obj, *, actor, reason: str, exclude=None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=True)
    except ValidationError as error:
        raise BatchError(_validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        obj.save()


DONOR_FIELDS = (
    "code",
    "age_at_donation",
    "sex",
    "has_comorbidities",
    "has_concomitant_treatments",
    "consent_for_clinical_use",
    "consent_signed_on",
)


@transaction.atomic
def update_donor(donor: Donor, *, actor: AbstractBaseUser | None, reason: str = "", **changes):
    """Change a donor's data (`DONOR_FIELDS`); re-check the donor's released batches.

    A donor with a batch a QP has decided on changes only with a written reason. If the
    donor is no longer eligible, each released batch from the donor is put on hold in
    the same transaction (see `hold`); the returned donor's `holds` lists them.
    """
    unknown = set(changes) - set(DONOR_FIELDS)
    if unknown:
        raise BatchError(f"These donor fields cannot be changed: {', '.join(sorted(unknown))}.")
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a change to the donor")
    for name, value in changes.items():
        setattr(donor, name, value)
    _save_validated(donor, actor=actor, reason=reason)
    fields = ", ".join(sorted(changes)) or "nothing"
    donor.holds = _review_donor(donor, actor=actor, cause=f"donor change ({fields})", why=reason)
    return donor


@transaction.atomic
def record_serology(
    donor: Donor,
    *,
    actor: AbstractBaseUser | None,
    test: str,
    result: str,
    sampled_on: datetime.date,
    reason: str = "",
    correcting: SerologyResult | None = None,
) -> SerologyResult:
    """Record a donor screening result, or correct one (`correcting`).

    Once a QP has decided on a batch from the donor, any new or corrected result needs
    a written reason (a look-back). If the donor is no longer eligible, each released
    batch from the donor is put on hold in the same transaction (see `hold`); the
    returned result's `holds` lists them.
    """
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a serology result")
    if correcting is not None:
        serology = SerologyResult.objects.select_for_update().filter(pk=correcting.pk).first()
        if serology is None or serology.donor_id != donor.pk:
            raise BatchError(f"This serology result is not one of donor {donor.code}'s.")
    else:
        serology = SerologyResult(donor=donor)
    serology.test, serology.result, serology.sampled_on = test, result, sampled_on
    _save_validated(serology, actor=actor, reason=reason)
    serology.holds = _review_donor(
        donor, actor=actor, cause=f"serology {test} {result} recorded", why=reason
    )
    return serology


@transaction.atomic
def record_procurement(
    donor: Donor,
    *,
    actor: AbstractBaseUser | None,
    procured_on: datetime.date,
    site: str,
    lipoaspirate_volume_ml: Decimal,
    fat_weight_g: Decimal,
    performed_by: str,
    reason: str = "",
    correcting: Procurement | None = None,
) -> Procurement:
    """Record a tissue procurement, or correct one (`correcting`).

    The procurement date anchors the donor's serology window, so a correction can make
    the donor ineligible for a batch: each released batch from the donor is re-checked
    and put on hold if it now fails (see `hold`); the result's `holds` lists them.
    """
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a procurement record")
    if correcting is not None:
        procurement = Procurement.objects.select_for_update().filter(pk=correcting.pk).first()
        if procurement is None or procurement.donor_id != donor.pk:
            raise BatchError(f"This procurement is not one of donor {donor.code}'s.")
    else:
        procurement = Procurement(donor=donor)
    procurement.procured_on = procured_on
    procurement.site = site
    procurement.lipoaspirate_volume_ml = Decimal(str(lipoaspirate_volume_ml))
    procurement.fat_weight_g = Decimal(str(fat_weight_g))
    procurement.performed_by = performed_by
    _save_validated(procurement, actor=actor, reason=reason)
    procurement.holds = _review_donor(
        donor, actor=actor, cause="procurement record changed", why=reason
    )
    return procurement
