"""What verification reports: the verdict, and the reasons a chain can be broken."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from audit.chain import GENESIS_HASH

CHANGED = "changed content"
MISSING = "missing event"
REORDERED = "reordered"
DUPLICATE = "duplicate position"
CHECKPOINT_MISMATCH = "checkpoint mismatch"
CHECKPOINT_INVALID = "checkpoint invalid"


@dataclass
class VerificationResult:
    """What `verify_audit` and the API report. `count` is the number of events verified
    intact (all of them when `intact`, those before the first break otherwise)."""

    intact: bool
    count: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    reason: str | None = None
    detail: str = ""
    checkpoints_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.intact:
            text = f"intact: {self.count} events"
            if self.checkpoints_checked:
                text += f", {self.checkpoints_checked} checkpoints"
            return text
        where = f"event #{self.first_broken_seq}" if self.first_broken_seq else "checkpoint"
        if self.first_broken_id is not None:
            where += f" (id {self.first_broken_id})"
        return f"BROKEN at {where}: {self.reason}. {self.detail}".strip()
