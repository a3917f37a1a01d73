"""Checkpoints: HMAC-signed notes of the chain's head, kept in the database and exported.

A hash chain proves that no event was changed in place, but someone with write access to
the database could rewrite an event and recompute every later hash. A checkpoint signs
"event `seq` had hash `h`" with a key from the environment; a recomputed chain no longer
agrees with it. Exported to a file, it also survives whoever controls the database.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.exceptions import AuditError

EXPORT_FORMAT = "celltrack-audit-checkpoints/1"


class CheckpointError(AuditError):
    """A checkpoint cannot be made or read (no key, empty trail, unreadable file)."""


@dataclass(frozen=True)
class CheckpointRecord:
    """One checkpoint as stored or exported; what `verify_chain` checks against."""

    seq: int
    event_hash: str
    recorded_at: str
    recorded_by: str
    key_fingerprint: str
    mac: str
    source: str = "database"


def checkpoint_key() -> bytes:
    """The HMAC key from the environment; refuses clearly when it is not set."""
    key = getattr(settings, "AUDIT_CHECKPOINT_KEY", "") or ""
    if not key.strip():
        raise CheckpointError(
            "AUDIT_CHECKPOINT_KEY is not set: checkpoints are signed with a key from the "
            "environment, never stored in the database. Set it and try again."
        )
    return key.encode()


def key_fingerprint(key: bytes) -> str:
    """A short public identifier of a key, so a wrong key is told apart from a forgery."""
    return hmac.new(key, b"celltrack-audit-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def checkpoint_mac(key: bytes, *, seq: int, event_hash: str, recorded_at: str) -> str:
    message = f"celltrack-audit-checkpoint/1|{seq}|{event_hash}|{recorded_at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mac_is_valid(key: bytes, record: CheckpointRecord) -> bool:
    expected = checkpoint_mac(
        key, seq=record.seq, event_hash=record.event_hash, recorded_at=record.recorded_at
    )
    return hmac.compare_digest(expected, record.mac)


def _iso(value) -> str:
    return value.astimezone(datetime.UTC).isoformat()


@transaction.atomic
def record_checkpoint(*, recorded_by: str = ""):
    """Sign and store the current head of the chain. Returns the `AuditCheckpoint`."""
    from audit.models import AuditCheckpoint
    from audit.writer import lock_chain_head

    key = checkpoint_key()
    seq, head_hash = lock_chain_head()
    if seq == 0:
        raise CheckpointError("The audit trail is empty: there is nothing to checkpoint yet.")
    recorded_at = timezone.now()
    return AuditCheckpoint.objects.create(
        seq=seq,
        event_hash=head_hash,
        recorded_at=recorded_at,
        recorded_by=recorded_by,
        key_fingerprint=key_fingerprint(key),
        mac=checkpoint_mac(key, seq=seq, event_hash=head_hash, recorded_at=_iso(recorded_at)),
    )


def stored_checkpoints() -> list[CheckpointRecord]:
    from audit.models import AuditCheckpoint

    return [
        CheckpointRecord(
            seq=cp.seq,
            event_hash=cp.event_hash,
            recorded_at=_iso(cp.recorded_at),
            recorded_by=cp.recorded_by,
            key_fingerprint=cp.key_fingerprint,
            mac=cp.mac,
        )
        for cp in AuditCheckpoint.objects.order_by("seq", "id")
    ]


def export_checkpoints(path: str | Path) -> int:
    """Write every stored checkpoint to a JSON file for the inspector. Returns the count."""
    records = stored_checkpoints()
    payload = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(timezone.now()),
        "checkpoints": [
            {k: v for k, v in asdict(record).items() if k != "source"} for record in records
        ],
    }
    Path(path).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return len(records)


def load_checkpoint_file(path: str | Path) -> list[CheckpointRecord]:
    """Read checkpoints exported by `export_checkpoints` (refuses other files clearly)."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"Cannot read checkpoint file {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{path} is not a CellTrack checkpoint export ({EXPORT_FORMAT}).")
    records = []
    for item in payload.get("checkpoints", []):
        try:
            recorded_at = parse_datetime(item["recorded_at"])
            records.append(
                CheckpointRecord(
                    seq=int(item["seq"]),
                    event_hash=str(item["event_hash"]),
                    recorded_at=_iso(recorded_at) if recorded_at else str(item["recorded_at"]),
                    recorded_by=str(item.get("recorded_by", "")),
                    key_fingerprint=str(item.get("key_fingerprint", "")),
                    mac=str(item["mac"]),
                    source=str(path),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: malformed checkpoint {item!r}") from exc
    return records


EXPORT_PREFIX = "checkpoints-"


def export_to_dir(directory: str | Path) -> Path:
    """Export every checkpoint to a new dated file in `directory` (one per run, never
    overwritten). Returns the file's path."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"Cannot create {directory}: {exc}") from exc
    stamp = timezone.now().astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{EXPORT_PREFIX}{stamp}.json"
    n = 1
    while path.exists():
        path = directory / f"{EXPORT_PREFIX}{stamp}-{n}.json"
        n += 1
    export_checkpoints(path)
    return path


def load_checkpoint_dir(directory: str | Path) -> list[CheckpointRecord]:
    """Every checkpoint of every export in `directory` (files `checkpoints-*.json`)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a directory of exported checkpoints.")
    files = sorted(directory.glob(f"{EXPORT_PREFIX}*.json"))
    if not files:
        raise CheckpointError(
            f"{directory} holds no exported checkpoints ({EXPORT_PREFIX}*.json): export "
            "them with `verify_audit --checkpoint --export-dir DIR`."
        )
    return [record for path in files for record in load_checkpoint_file(path)]


def staleness_warning(records: list[CheckpointRecord], *, now=None) -> str | None:
    """A warning when the newest exported checkpoint is older than
    AUDIT_CHECKPOINT_MAX_AGE_HOURS (a rewrite after it would be caught by nothing newer)."""
    hours = getattr(settings, "AUDIT_CHECKPOINT_MAX_AGE_HOURS", 48)
    times = [parse_datetime(r.recorded_at) for r in records]
    times = [t for t in times if t is not None]
    if not times:
        return "no exported checkpoint has a readable time."
    newest = max(times)
    age = (now or timezone.now()) - newest
    if age > datetime.timedelta(hours=hours):
        return (
            f"the newest exported checkpoint is from {newest:%Y-%m-%d %H:%M} UTC, "
            f"{age.total_seconds() / 3600:.0f} h ago (more than "
            f"AUDIT_CHECKPOINT_MAX_AGE_HOURS={hours}): is the checkpoint cron running?"
        )
    return None
