"""The verification: checkpoints loaded, the chain scanned, the verdict reported."""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Iterable

from audit.chain import FIELD_COUNT, GENESIS_HASH
from audit.checkpoints import CheckpointError, checkpoint_key, mac_is_valid, stored_checkpoints
from audit.verify import parallel
from audit.verify.diagnose import checkpoint_mismatch, diagnose
from audit.verify.result import CHECKPOINT_INVALID, MISSING, VerificationResult
from audit.verify.rows import (
    FETCH_SIZE,
    SEPARATOR_BYTE,
    content_cursor,
    full_row_at,
    hash_of,
    one,
)


def _load_checkpoints(extra: Iterable | None, notes: list[str]):
    records = stored_checkpoints() + list(extra or [])
    if not records:
        return {}, [], None
    try:
        key = checkpoint_key()
    except CheckpointError:
        key = None
        notes.append(
            "AUDIT_CHECKPOINT_KEY is not set: checkpoint signatures were not checked, only "
            "their positions and hashes."
        )
    invalid = [r for r in records if key is not None and not mac_is_valid(key, r)]
    by_seq: dict[int, list] = {}
    for record in records:
        by_seq.setdefault(record.seq, []).append(record)
    return by_seq, invalid, key


def verify_chain(
    *, checkpoints: bool = True, extra_checkpoints=None, workers: int | None = None
) -> VerificationResult:
    """Recompute the whole chain and report whether it is intact or where it first breaks.

    With `checkpoints`, also checks every stored checkpoint (and any `extra_checkpoints`,
    e.g. read from an inspector's exported file): its HMAC under AUDIT_CHECKPOINT_KEY, and
    that the event at its `seq` still has its hash.

    A chain of `PARALLEL_MIN_EVENTS` or more committed events is first checked in
    `workers` ranges at once (default: one per CPU, at most 4; 1 = serial only); any
    doubt and the serial scan decides, so the verdict never depends on it.
    """
    started = time.perf_counter()
    notes: list[str] = []
    by_seq, invalid, _ = (
        _load_checkpoints(extra_checkpoints, notes) if checkpoints else ({}, [], None)
    )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the scan keeps nothing alive; collections would only cost time
    try:
        workers = parallel.default_workers() if workers is None else workers
        scanned = None
        if workers > 1 and parallel.possible():
            scanned = parallel.scan(by_seq, workers)
        if scanned is None:
            scanned = _scan(by_seq)
        result, expected, prev_hash, count, checked = scanned
    finally:
        if gc_was_enabled:
            gc.enable()
    if result is None and by_seq:
        record = by_seq[min(by_seq)][0]
        result = VerificationResult(
            intact=False,
            count=count,
            first_broken_seq=expected,
            reason=MISSING,
            detail=(
                f"checkpoint of {record.recorded_at} ({record.source}) records event "
                f"{record.seq}, but the trail ends at event {expected - 1}: events were "
                "removed from its end"
            ),
        )
    if result is None and invalid:
        record = invalid[0]
        result = VerificationResult(
            intact=False,
            count=count,
            reason=CHECKPOINT_INVALID,
            detail=(
                f"the checkpoint for event {record.seq} of {record.recorded_at} "
                f"({record.source}) has a wrong HMAC: it was altered or made with another key"
            ),
        )
    if result is None:
        result = VerificationResult(intact=True, count=count)
    result.head_seq = expected - 1
    result.head_hash = prev_hash
    result.checkpoints_checked = checked
    result.notes = notes
    result.seconds = time.perf_counter() - started
    return result


def _diagnosed(seq: int, expected: int, prev_hash: str):
    """The verdict on the event at `seq`, which did not continue the chain on the fast
    path (None when the Python reference computation says it does after all)."""
    row = full_row_at(seq)
    before = one("SELECT id FROM audit_auditevent WHERE seq = %s", [expected - 1])
    return diagnose(row, hash_of(row), expected, prev_hash, before[0] if before else None)


def _scan(by_seq: dict):
    """Stream every event in `seq` order; stop at the first break (the hot loop).

    Per event only its position, content and hash are read; its link (`prev_hash`) is
    the content's last field, so the content must end with the separator and the hash
    before. The event's id is looked up only to report a break."""
    checked = 0
    result = None
    expected, prev_hash = 1, GENESIS_HASH
    sha256 = hashlib.sha256
    separator, separators = SEPARATOR_BYTE, FIELD_COUNT - 1
    link = separator + prev_hash.encode()
    with content_cursor() as cursor:
        fetchmany = cursor.fetchmany
        while result is None:
            rows = fetchmany(FETCH_SIZE)
            if not rows:
                break
            for seq, content, stored_hash in rows:
                if (
                    content is None
                    or seq != expected
                    or not content.endswith(link)
                    or sha256(content).hexdigest() != stored_hash
                    or content.count(separator) != separators
                ):
                    result = _diagnosed(seq, expected, prev_hash)
                    if result is not None:
                        break
                if seq in by_seq:
                    for record in by_seq.pop(seq):
                        checked += 1
                        if record.event_hash != stored_hash:
                            id_ = one("SELECT id FROM audit_auditevent WHERE seq = %s", [seq])
                            result = checkpoint_mismatch(
                                record, seq, id_[0], stored_hash, expected - 1
                            )
                            break
                    if result is not None:
                        break
                expected, prev_hash = seq + 1, stored_hash
                link = separator + stored_hash.encode()
    return result, expected, prev_hash, expected - 1, checked
