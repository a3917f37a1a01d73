"""verify_chain and `verify_audit`: an intact trail passes; each kind of tampering is caught
at the exact first broken event, with the reason."""

import json

import pytest
from django.core.management import CommandError, call_command

from audit.checkpoints import CheckpointError, load_checkpoint_file, record_checkpoint
from audit.models import AuditCheckpoint, AuditEvent
from audit.verify import (
    CHANGED,
    CHECKPOINT_INVALID,
    CHECKPOINT_MISMATCH,
    MISSING,
    REORDERED,
    verify_chain,
)
from audit.writer import write_event
from tests.audit import tampering
from tests.factories import BagFactory

KEY = "test-checkpoint-key-not-a-secret"


@pytest.fixture
def checkpoint_key(settings):
    settings.AUDIT_CHECKPOINT_KEY = KEY
    return KEY


@pytest.fixture
def six_events(db, system_context):
    """A trail of exactly six events, seq 1 to 6 (the test database's set-up events,
    such as the role groups made by migrate, are cleared first)."""
    tampering.execute("DELETE FROM audit_auditevent")
    for n in range(1, 7):
        write_event(
            action="update",
            object_type="tests.synthetic",
            object_id=str(n),
            object_repr=f"BAG-{n}",
            changes={"status": ["quarantine", "available"], "volume_ml": ["20.0", "19.5"]},
            reason=f"step {n} — ünïcode",
        )
    assert AuditEvent.objects.count() == 6


def test_an_untouched_trail_is_intact_with_its_count(six_events):
    result = verify_chain()
    assert result.intact
    assert result.count == 6
    assert result.head_seq == 6
    assert result.head_hash == AuditEvent.objects.get(seq=6).hash
    assert result.as_dict()["first_broken_seq"] is None


def test_events_of_real_records_verify(db, system_context):
    BagFactory.create_batch(3)  # donor, procurement, facility, batch, bags ...
    result = verify_chain()
    assert result.intact
    assert result.count == AuditEvent.objects.count() > 3


def test_altered_content_is_reported_at_that_event(six_events):
    tampering.alter_reason(4)
    result = verify_chain()
    assert not result.intact
    assert (result.first_broken_seq, result.reason) == (4, CHANGED)
    assert result.first_broken_id == tampering.event_id(4)
    assert result.count == 3


def test_altered_changes_json_is_reported_at_that_event(six_events):
    tampering.execute(
        "UPDATE audit_auditevent SET changes = %s WHERE seq = 2",
        ['{"status": ["quarantine", "released"], "volume_ml": ["20.0", "19.5"]}'],
    )
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (2, CHANGED)


def test_an_event_edited_and_rehashed_is_reported_at_that_event(six_events):
    tampering.rehash_one(3)
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (3, CHANGED)
    assert result.first_broken_id == tampering.event_id(3)


def test_a_deleted_event_is_reported_missing_at_its_position(six_events):
    tampering.delete_event(3)
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (3, MISSING)
    assert "event 4 follows event 2" in result.detail


def test_deleting_the_first_event_is_reported(six_events):
    tampering.delete_event(1)
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (1, MISSING)


def test_two_swapped_events_are_reported_reordered_at_the_first(six_events):
    moved = tampering.event_id(5)
    tampering.swap_positions(2, 5)
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (2, REORDERED)
    assert result.first_broken_id == moved
    assert "written at position 5" in result.detail


def test_two_adjacent_swapped_events_are_reported_reordered(six_events):
    tampering.swap_positions(3, 4)
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (3, REORDERED)


def test_a_chain_rewritten_from_scratch_passes_without_checkpoints(six_events):
    """Why checkpoints exist: a recomputed chain is self-consistent."""
    tampering.rewrite_chain_from(2)
    assert verify_chain(checkpoints=False).intact


def test_a_chain_rewritten_after_a_checkpoint_is_caught(six_events, checkpoint_key):
    record_checkpoint()
    tampering.rewrite_chain_from(2)
    result = verify_chain()
    assert not result.intact
    assert (result.first_broken_seq, result.reason) == (6, CHECKPOINT_MISMATCH)
    assert result.checkpoints_checked == 1


def test_an_earlier_checkpoint_narrows_the_rewrite(six_events, checkpoint_key, system_context):
    first = record_checkpoint()
    write_event(action="update", object_type="batches.bag", object_id="9")
    record_checkpoint()
    tampering.rewrite_chain_from(7)
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (7, CHECKPOINT_MISMATCH)
    assert first.seq == 6 and result.count == 6


def test_events_removed_from_the_end_are_caught_by_a_checkpoint(six_events, checkpoint_key):
    record_checkpoint()
    tampering.delete_event(6)
    assert verify_chain(checkpoints=False).intact
    result = verify_chain()
    assert (result.first_broken_seq, result.reason) == (6, MISSING)


def test_a_forged_checkpoint_is_reported_invalid(six_events, checkpoint_key):
    checkpoint = record_checkpoint()
    tampering.execute(
        "UPDATE audit_auditcheckpoint SET mac = %s WHERE id = %s", ["0" * 64, checkpoint.id]
    )
    result = verify_chain()
    assert (result.intact, result.reason) == (False, CHECKPOINT_INVALID)


def test_a_checkpoint_checked_with_another_key_is_reported_invalid(six_events, settings):
    settings.AUDIT_CHECKPOINT_KEY = "key-one"
    record_checkpoint()
    settings.AUDIT_CHECKPOINT_KEY = "key-two"
    assert verify_chain().reason == CHECKPOINT_INVALID


def test_checkpoints_refused_without_a_key(six_events, settings):
    settings.AUDIT_CHECKPOINT_KEY = ""
    with pytest.raises(CheckpointError, match="AUDIT_CHECKPOINT_KEY is not set"):
        record_checkpoint()
    assert not AuditCheckpoint.objects.exists()


def test_exported_checkpoints_catch_a_rewrite_even_when_the_table_is_emptied(
    six_events, checkpoint_key, tmp_path
):
    export = tmp_path / "checkpoints.json"
    call_command("verify_audit", "--checkpoint", "--export", str(export))
    assert json.loads(export.read_text())["checkpoints"][0]["seq"] == 6
    tampering.execute("DELETE FROM audit_auditcheckpoint")
    tampering.rewrite_chain_from(1)
    assert verify_chain().intact  # the database alone no longer tells
    result = verify_chain(extra_checkpoints=load_checkpoint_file(export))
    assert (result.first_broken_seq, result.reason) == (6, CHECKPOINT_MISMATCH)
    with pytest.raises(CommandError):
        call_command("verify_audit", "--checkpoint-file", str(export))


# --- the command ------------------------------------------------------------------


def test_verify_audit_prints_intact_with_the_count(six_events, capsys):
    call_command("verify_audit")
    assert "intact: 6 events" in capsys.readouterr().out


def test_verify_audit_exits_non_zero_naming_the_broken_event(six_events, capsys):
    tampering.alter_reason(5)
    with pytest.raises(CommandError, match="changed content"):
        call_command("verify_audit")
    assert "event #5" in capsys.readouterr().out


def test_verify_audit_exit_status_is_non_zero_from_the_shell(six_events):
    from django.core.management import ManagementUtility

    tampering.delete_event(2)
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "verify_audit"]).execute()
    assert exit_info.value.code != 0


def test_verify_audit_checkpoint_refuses_clearly_without_a_key(six_events, settings):
    settings.AUDIT_CHECKPOINT_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_CHECKPOINT_KEY is not set"):
        call_command("verify_audit", "--checkpoint")


def test_verify_audit_json_output(six_events, capsys):
    call_command("verify_audit", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["intact"] is True and data["count"] == 6


def test_a_malformed_checkpoint_file_is_refused(six_events, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(CommandError, match="not a CellTrack checkpoint export"):
        call_command("verify_audit", "--checkpoint-file", str(bad))


# --- exported checkpoints in a directory ------------------------------------------------------


def test_checkpoint_export_dir_writes_a_dated_file_per_run(six_events, checkpoint_key, tmp_path):
    directory = tmp_path / "exports"
    call_command("verify_audit", "--no-reconcile", "--checkpoint", "--export-dir", str(directory))
    call_command("verify_audit", "--no-reconcile", "--checkpoint", "--export-dir", str(directory))

    files = sorted(directory.glob("checkpoints-*.json"))
    assert len(files) == 2
    assert [len(load_checkpoint_file(f)) for f in files] == [1, 2]


def test_a_rewritten_chain_with_its_checkpoint_rows_deleted_is_caught_by_the_exports(
    six_events, checkpoint_key, tmp_path, capsys
):
    directory = tmp_path / "exports"
    call_command("verify_audit", "--no-reconcile", "--checkpoint", "--export-dir", str(directory))

    tampering.rewrite_chain_from(3)
    tampering.execute("DELETE FROM audit_auditcheckpoint")
    call_command("verify_audit", "--no-reconcile")  # the database alone is fooled

    with pytest.raises(CommandError, match=CHECKPOINT_MISMATCH):
        call_command("verify_audit", "--no-reconcile", "--checkpoint-dir", str(directory))


def test_checkpoint_dir_warns_when_the_newest_export_is_too_old(
    six_events, checkpoint_key, tmp_path, settings, capsys
):
    directory = tmp_path / "exports"
    call_command("verify_audit", "--no-reconcile", "--checkpoint", "--export-dir", str(directory))
    capsys.readouterr()

    call_command("verify_audit", "--no-reconcile", "--checkpoint-dir", str(directory))
    assert "WARNING" not in capsys.readouterr().err

    settings.AUDIT_CHECKPOINT_MAX_AGE_HOURS = 0
    call_command("verify_audit", "--no-reconcile", "--checkpoint-dir", str(directory))
    err = capsys.readouterr().err
    assert "WARNING" in err and "newest exported checkpoint" in err


def test_checkpoint_dir_without_exports_is_refused_clearly(six_events, tmp_path):
    with pytest.raises(CommandError, match="holds no exported checkpoints"):
        call_command("verify_audit", "--checkpoint-dir", str(tmp_path))
