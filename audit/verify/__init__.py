"""Recomputing the audit chain: is every event unchanged, present and in its place?

`verify_chain()` streams the events in `seq` order straight from the database cursor (no
model instances), recomputes each event's SHA-256 from its stored content, and checks
that `seq` runs 1, 2, 3 … without gaps and that each `prev_hash` is the hash of the event
before. It stops at the first broken event and says why:

- "changed content": the stored content no longer hashes to the stored hash (or an event
  was edited and its hash recomputed, so the next event links to a hash nobody has);
- "missing event": a gap in `seq`, or a checkpoint names an event that is gone;
- "reordered": the event is authentic but stands at another position than it was written;
- "checkpoint mismatch": the chain is self-consistent but disagrees with a signed
  checkpoint, i.e. it was recomputed after the checkpoint;
- "checkpoint invalid": a checkpoint's HMAC is wrong (altered, or made with another key).

Speed (docs/performance.md): the database builds each event's canonical content and
hands it over as bytes, so Python only hashes and compares. A large chain of committed
events is first checked in ranges on separate connections at once (`audit.verify.parallel`);
that pass can only clear a chain — on any doubt the serial scan runs and reports.
"""

from audit.verify.result import (
    CHANGED,
    CHECKPOINT_INVALID,
    CHECKPOINT_MISMATCH,
    DUPLICATE,
    MISSING,
    REORDERED,
    VerificationResult,
)
from audit.verify.scan import verify_chain

__all__ = [
    "CHANGED",
    "CHECKPOINT_INVALID",
    "CHECKPOINT_MISMATCH",
    "DUPLICATE",
    "MISSING",
    "REORDERED",
    "VerificationResult",
    "verify_chain",
]
