"""A batch's way through the QP: submission, the signed release or rejection, and the
hold that sends a released batch back for review (after a correction, see `records`)."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from audit.models import Signature
from audit.signatures import SignatureError, hash_matches, sign
from batches.exceptions import BatchError, ReleaseError
from batches.models import Bag, Batch
from batches.rules import release_failures
from batches.services.base import lock_batch
from batches.services.custody import S, move_bag, status_label
from batches.services.signed_record import keep_record_hash
from core.plausibility import moment_problem, programme_start
from sites.scope import site_scope


@transaction.atomic
def submit_for_release(batch: Batch, *, actor: AbstractBaseUser | None) -> Batch:
    """Production hands a batch to the QP: in production → quarantine."""
    batch = lock_batch(batch)
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
            f"Batch {batch.code}: only a Qualified Person may release, reject or recall a batch."
        )


def _sign_decision(
    batch: Batch,
    *,
    actor,
    password: str,
    meaning: str,
    decided: tuple,
    comment: str,
    reason: str,
    at=None,
) -> Batch:
    """The QP's signed decision on a locked batch, release or rejection alike: the
    signature (`meaning`, bound to `batch.signature_content()`), then `decided` —
    (new status, audit action) — saved, both under `reason`, and the record's hash kept
    (`keep_record_hash`). A wrong password refuses before anything is written."""
    status, audit_action = decided
    content = batch.signature_content()
    with audit_context(actor=actor, reason=reason):
        sign(
            signer=actor,
            password=password,
            meaning=meaning,
            object_type=batch._meta.label_lower,
            object_id=batch.pk,
            object_repr=batch.code,
            content=content,
            comment=comment,
            signed_at=at,
        )
        batch.status = status
        batch.status_changed_at = at or timezone.now()
        batch.save(audit_action=audit_action)
    # From the decision on, the batch keeps the hash of its record (here: what was signed).
    keep_record_hash(batch, actor=actor, reason=reason, content=content)
    return batch


@transaction.atomic
def release_batch(
    batch: Batch,
    *,
    actor: AbstractBaseUser,
    password: str,
    comment: str = "",
    at: datetime.datetime | None = None,
) -> Batch:
    """The QP's release: every rule checked, then an electronic signature, then release.

    Refuses with every failing rule at once (ReleaseError, see `release_failures`), and
    refuses a wrong password (SignatureError); either way nothing changes. On success the
    signature (meaning "released") is bound to `batch.signature_content()`, the batch is
    released and each quarantined bag becomes available with its custody event.
    `at` (default now) places the release in time (the demo's 2020 series); it cannot be
    in the future nor before the batch was cryopreserved.
    """
    _require_qp(actor, batch)
    batch = lock_batch(batch)
    failures = release_failures(batch, on_date=timezone.localdate(at) if at else None)
    if at is not None:
        problem = moment_problem(
            at, what="The release", floor=batch.cryopreserved_on or programme_start()
        )
        if problem:
            failures.append(
                f"{problem} (the batch was cryopreserved on {batch.cryopreserved_on})."
            )
    if failures:
        raise ReleaseError(failures)
    _sign_decision(
        batch,
        actor=actor,
        password=password,
        meaning=Signature.Meaning.RELEASED,
        decided=(Batch.Status.RELEASED, "release"),
        comment=comment,
        reason=comment.strip() or "QP release",
        at=at,
    )
    for bag in batch.bags.filter(status=Bag.Status.QUARANTINE).order_by("code"):
        move_bag(
            bag, Bag.Status.AVAILABLE, actor=actor, note=f"batch {batch.code} released", at=at
        )
    return batch


@transaction.atomic
def reject_batch(
    batch: Batch,
    *,
    actor: AbstractBaseUser,
    password: str,
    reason: str,
    at: datetime.datetime | None = None,
) -> Batch:
    """The QP's rejection, signed like a release; every bag not yet discarded is discarded.

    Needs a written reason (kept on the signature, the audit events and each bag). `at`
    (default now) places it in time as for `release_batch`.
    """
    _require_qp(actor, batch)
    batch = lock_batch(batch)
    if not reason.strip():
        raise ReleaseError(f"Batch {batch.code}: give the reason for rejecting it.")
    if batch.status not in (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE):
        raise ReleaseError(
            f"Batch {batch.code} is {batch.get_status_display().lower()}: only a batch in "
            "production or quarantine can be rejected."
        )
    if at is not None:
        problem = moment_problem(
            at, what="The rejection", floor=batch.cryopreserved_on or programme_start()
        )
        if problem:
            raise ReleaseError(
                f"{problem} (the batch was cryopreserved on {batch.cryopreserved_on})."
            )
    reason = reason.strip()
    _sign_decision(
        batch,
        actor=actor,
        password=password,
        meaning=Signature.Meaning.REJECTED,
        decided=(Batch.Status.REJECTED, "reject"),
        comment=reason,
        reason=reason,
        at=at,
    )
    for bag in batch.bags.exclude(status=Bag.Status.DISCARDED).order_by("code"):
        move_bag(
            bag,
            Bag.Status.DISCARDED,
            actor=actor,
            reason=f"batch {batch.code} rejected: {reason}",
            at=at,
        )
    return batch


def _require_facility_qp(actor, batch: Batch, what: str) -> None:
    """A QP decides on the batches of their own facility only."""
    scope = site_scope(actor)
    if not (scope.network_wide or batch.facility_id in scope.facility_ids):
        raise SignatureError(
            f"Batch {batch.code}: only a Qualified Person of its facility "
            f"({batch.facility.fin}) may {what} it."
        )


# Batches a QP may recall: released once (a recall withdraws product already given out).
RECALLABLE = (Batch.Status.RELEASED, Batch.Status.QUARANTINE, Batch.Status.EXPIRED)


@transaction.atomic
def recall_batch(batch: Batch, *, actor: AbstractBaseUser, password: str, reason: str) -> Batch:
    """The QP's recall of a batch already released, signed (meaning "recalled").

    Only a QP of the batch's facility may recall it. Needs a written reason (on the
    signature and the audit event). Refuses a batch never
    released, or already recalled or rejected. The bags stay where they are: the batch's
    status blocks every one of them at every step (`batches.rules.batch_problem`), and
    their whereabouts are the lookback's. The recall record, the stopped doses and the
    notices are the vigilance app's (`vigilance.services.recall_batch` calls this).
    """
    _require_qp(actor, batch)
    batch = lock_batch(batch)
    _require_facility_qp(actor, batch, "recall")
    reason = reason.strip()
    if not reason:
        raise ReleaseError(f"Batch {batch.code}: give the reason for the recall.")
    released_once = batch.signatures().filter(meaning=Signature.Meaning.RELEASED).exists()
    if batch.status not in RECALLABLE or not released_once:
        raise ReleaseError(
            f"Batch {batch.code} is {batch.get_status_display().lower()}: only a batch that "
            "was released can be recalled."
        )
    _sign_decision(
        batch,
        actor=actor,
        password=password,
        meaning=Signature.Meaning.RECALLED,
        decided=(Batch.Status.RECALLED, "recall"),
        comment=reason,
        reason=f"recalled: {reason}",
    )
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
                f"{n} bag{'s' if n != 1 else ''} {status_label(status)}"
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


def review_released(batches, *, actor, cause: str, why: str = "") -> list[Hold]:
    """Re-check each released batch after a change to its data; hold those that fail.

    Runs in the caller's transaction. Each batch is locked and re-read, and the hash of
    its record kept (`keep_record_hash`, whatever its status, once a QP decided on it);
    a released one is then judged by `release_failures(review=True)` (every release rule
    except those about the release step itself). Returns the holds made (empty when every
    batch still passes).
    """
    holds = []
    kept_reason = f"{cause}: {why.strip()}" if why.strip() else cause
    for candidate in batches:
        batch = lock_batch(candidate)
        digest = keep_record_hash(batch, actor=actor, reason=kept_reason)
        if candidate is not batch:
            candidate.record_hash = batch.record_hash
        if batch.status != Batch.Status.RELEASED:
            continue
        failures = release_failures(batch, review=True)
        signature = batch.decision_signature()
        if signature is not None and not hash_matches(signature, digest):
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
