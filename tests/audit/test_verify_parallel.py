"""Parallel verification (ranges checked on separate connections) reports exactly what
the serial scan reports: it only ever clears a chain, and any doubt hands over to it."""

import pytest
from django.db import connection

from audit.checkpoints import record_checkpoint
from audit.verify import CHECKPOINT_MISMATCH, MISSING, verify_chain
from audit.verify import parallel as ranges
from audit.writer import write_event
from tests.audit import tampering

KEY = "test-checkpoint-key-not-a-secret"


@pytest.fixture
def parallel(monkeypatch):
    """Split even a short chain. verify_chain splits only on PostgreSQL; on SQLite the
    same code is exercised anyway (the test database lives in memory, shared between the
    connections of this process, so the others read what transactional tests commit)."""
    monkeypatch.setattr(ranges, "PARALLEL_MIN_EVENTS", 2)
    if connection.vendor == "sqlite":
        monkeypatch.setattr(ranges, "possible", lambda: True)
    used = []
    real = ranges.scan

    def spy(by_seq, workers):
        outcome = real(by_seq, workers)
        used.append(outcome is not None)
        return outcome

    monkeypatch.setattr(ranges, "scan", spy)
    return used


@pytest.fixture
def committed_events(transactional_db, system_context, settings):
    """Twelve committed events, seq 1 to 12."""
    settings.AUDIT_CHECKPOINT_KEY = KEY
    tampering.execute("DELETE FROM audit_auditevent")
    for n in range(1, 13):
        write_event(
            action="update",
            object_type="batches.bag",
            object_id=str(n),
            object_repr=f"BAG-{n}",
            changes={"status": ["quarantine", "available"], "n": n},
            reason=f"step {n} — ünïcode",
        )


def both():
    """(parallel result, serial result), without their timings."""
    results = []
    for workers in (3, 1):
        result = verify_chain(workers=workers).as_dict()
        result.pop("seconds")
        results.append(result)
    return results


def test_an_intact_chain_is_cleared_in_parallel(committed_events, parallel):
    fast, slow = both()
    assert fast == slow
    assert fast["intact"] and fast["count"] == 12 and fast["head_seq"] == 12
    assert parallel == [True]


def test_checkpoints_are_checked_in_parallel(committed_events, parallel):
    record_checkpoint()
    write_event(action="update", object_type="batches.bag", object_id="13")
    fast, slow = both()
    assert fast == slow
    assert fast["intact"] and fast["checkpoints_checked"] == 1
    assert parallel == [True]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda: tampering.alter_reason(5),
        lambda: tampering.alter_reason(9),  # in another range than 5
        lambda: tampering.delete_event(8),
        lambda: tampering.delete_event(1),
        lambda: tampering.swap_positions(4, 5),  # across a range border
        lambda: tampering.swap_positions(2, 11),
        lambda: tampering.rehash_one(6),
        lambda: tampering.rehash_one(4),  # the last of a range: only the border shows it
    ],
    ids=[
        "altered",
        "altered-late",
        "deleted",
        "first-deleted",
        "swapped",
        "far-swap",
        "rehash",
        "rehash-at-border",
    ],
)
def test_each_break_is_reported_as_the_serial_scan_reports_it(committed_events, parallel, tamper):
    tamper()
    fast, slow = both()
    assert fast == slow
    assert not fast["intact"] and fast["first_broken_seq"]
    assert parallel == [False]  # the parallel pass handed over


def test_a_rewrite_after_a_checkpoint_is_reported_as_serially(committed_events, parallel):
    record_checkpoint()
    tampering.rewrite_chain_from(7)
    fast, slow = both()
    assert fast == slow
    assert fast["reason"] == CHECKPOINT_MISMATCH


def test_events_removed_from_the_end_are_reported_as_serially(committed_events, parallel):
    record_checkpoint()
    tampering.delete_event(12)
    fast, slow = both()
    assert fast == slow
    assert fast["reason"] == MISSING


def test_no_parallel_pass_inside_a_transaction(db, system_context):
    """Other connections cannot see this transaction's own events: verify serially."""
    write_event(action="update", object_type="batches.bag", object_id="1")
    assert not ranges.possible()
    assert verify_chain().intact
