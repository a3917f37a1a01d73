"""Explaining the first event that does not continue the chain."""

from __future__ import annotations

from audit.chain import GENESIS_HASH
from audit.verify.result import (
    CHANGED,
    CHECKPOINT_MISMATCH,
    DUPLICATE,
    MISSING,
    REORDERED,
    VerificationResult,
)
from audit.verify.rows import hash_of, one


def diagnose_content(row) -> tuple[str, str]:
    """The row does not hash to its stored hash: altered, or authentic but moved?"""
    seq, prev_hash, stored_hash = row[1], row[11], row[12]
    candidates = []
    before = one("SELECT seq FROM audit_auditevent WHERE hash = %s", [prev_hash])
    if before:
        candidates.append(before[0] + 1)
    after = one("SELECT seq FROM audit_auditevent WHERE prev_hash = %s", [stored_hash])
    if after:
        candidates.append(after[0] - 1)
    if prev_hash == GENESIS_HASH:
        candidates.append(1)
    for candidate in candidates:
        if candidate != seq and hash_of(row, seq=candidate) == stored_hash:
            return REORDERED, (
                f"the event stored at position {seq} was written at position {candidate}; "
                "events were swapped or moved"
            )
    return CHANGED, (
        f"the stored content of event {seq} does not hash to its recorded hash "
        f"{stored_hash[:12]}…: a field was altered after it was written"
    )


def checkpoint_mismatch(record, seq, id_, stored_hash, count) -> VerificationResult:
    return VerificationResult(
        intact=False,
        count=count,
        first_broken_seq=seq,
        first_broken_id=id_,
        reason=CHECKPOINT_MISMATCH,
        detail=(
            f"checkpoint of {record.recorded_at} ({record.source}) recorded hash "
            f"{record.event_hash[:12]}… for event {seq}, the trail now has "
            f"{stored_hash[:12]}…: the chain was rewritten at or before event {seq}"
        ),
    )


def diagnose(row, computed, expected, prev_hash, prev_id) -> VerificationResult | None:
    """Explain the first row that does not continue the chain; None if it does after all."""
    id_, seq, link, stored_hash = row[0], row[1], row[11], row[12]
    count = expected - 1

    def broken(reason, detail, at_seq=seq, at_id=id_):
        return VerificationResult(
            intact=False,
            count=min(count, at_seq - 1),
            first_broken_seq=at_seq,
            first_broken_id=at_id,
            reason=reason,
            detail=detail,
        )

    if seq > expected:
        missing = (
            f"event {expected} is" if seq == expected + 1 else f"events {expected}–{seq - 1} are"
        )
        return broken(
            MISSING,
            f"{missing} no longer in the trail: event {seq} follows event {expected - 1}",
            at_seq=expected,
            at_id=None,
        )
    if seq < expected:
        return broken(DUPLICATE, f"two events claim position {seq}")
    if computed != stored_hash:
        reason, detail = diagnose_content(row)
        return broken(reason, detail)
    if link != prev_hash:
        target = one("SELECT seq FROM audit_auditevent WHERE hash = %s", [link])
        if target:
            return broken(
                REORDERED,
                f"event {seq} was written after event {target[0]}, not after event {seq - 1}",
            )
        return broken(
            CHANGED,
            f"event {seq - 1} was altered and its hash recomputed: event {seq} still links "
            f"to its original hash {link[:12]}…, which no event has",
            at_seq=seq - 1,
            at_id=prev_id,
        )
    return None
