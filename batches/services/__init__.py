"""Every state change of a production record: the only writer of batches and bags.

Each function runs in one transaction, locks the rows it changes, opens an
`audit_context` naming the actor (and the reason, where one is needed), and raises a
`BatchError` subclass with a message the user can act on.

One module per stage — custody (a bag's steps), bags (making them), checks (results),
release (submit, release, reject, correct, hold), donors (donor, serology,
procurement) — and every public name importable from `batches.services`.
"""

from batches.services.bags import BOX_POSITIONS, DEFAULT_PRODUCT_CODE, DIVISIONS, create_bags
from batches.services.checks import record_check
from batches.services.custody import (
    BAG_TRANSITIONS,
    LEAVES_STORAGE,
    move_bag,
    record_custody_event,
)
from batches.services.donors import (
    DONOR_FIELDS,
    record_procurement,
    record_serology,
    update_donor,
)
from batches.services.release import (
    Hold,
    correct_batch,
    hold,
    reject_batch,
    release_batch,
    review_released,
    submit_for_release,
)

__all__ = [
    "BAG_TRANSITIONS",
    "BOX_POSITIONS",
    "DEFAULT_PRODUCT_CODE",
    "DIVISIONS",
    "DONOR_FIELDS",
    "LEAVES_STORAGE",
    "Hold",
    "correct_batch",
    "create_bags",
    "hold",
    "move_bag",
    "record_check",
    "record_custody_event",
    "record_procurement",
    "record_serology",
    "reject_batch",
    "release_batch",
    "review_released",
    "submit_for_release",
    "update_donor",
]
