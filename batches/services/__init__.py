"""Every state change of a production record: the only writer of batches and bags.

Each function runs in one transaction, locks the rows it changes, validates the record
(`full_clean`), opens an `audit_context` naming the actor (and the reason, where one is
needed), and raises a `BatchError` subclass with a message the user can act on. The
admin, the demo loader and dosing write through these functions only.

One module per stage — donors (donor, serology, procurement), specifications (versions
and items), batches (a batch's record), checks (results), bags (making them), storage
(positions), custody (a bag's steps), release (submit, release, reject, hold) — and
every public name importable from `batches.services`.
"""

from batches.services.bags import BOX_POSITIONS, DEFAULT_PRODUCT_CODE, DIVISIONS, create_bags
from batches.services.batches import correct_batch, create_batch, delete_batch
from batches.services.checks import delete_check, record_check
from batches.services.custody import (
    BAG_TRANSITIONS,
    LEAVES_STORAGE,
    move_bag,
    record_custody_event,
    relocate_bag,
    reserve_bags,
)
from batches.services.donors import (
    DONOR_FIELDS,
    create_donor,
    delete_donor,
    delete_procurement,
    delete_serology,
    record_procurement,
    record_serology,
    update_donor,
)
from batches.services.release import (
    Hold,
    hold,
    reject_batch,
    release_batch,
    review_released,
    submit_for_release,
)
from batches.services.specifications import (
    add_specification_item,
    correct_specification,
    correct_specification_item,
    create_specification,
    delete_specification,
    delete_specification_item,
)
from batches.services.storage import (
    LOCATION_FIELDS,
    LOCATION_SITE_FIELDS,
    correct_storage_location,
    create_storage_location,
    delete_storage_location,
)

__all__ = [
    "BAG_TRANSITIONS",
    "BOX_POSITIONS",
    "DEFAULT_PRODUCT_CODE",
    "DIVISIONS",
    "DONOR_FIELDS",
    "LEAVES_STORAGE",
    "LOCATION_FIELDS",
    "LOCATION_SITE_FIELDS",
    "Hold",
    "add_specification_item",
    "correct_batch",
    "correct_specification",
    "correct_specification_item",
    "correct_storage_location",
    "create_bags",
    "create_batch",
    "create_donor",
    "create_specification",
    "create_storage_location",
    "delete_batch",
    "delete_check",
    "delete_donor",
    "delete_procurement",
    "delete_serology",
    "delete_specification",
    "delete_specification_item",
    "delete_storage_location",
    "hold",
    "move_bag",
    "record_check",
    "record_custody_event",
    "record_procurement",
    "record_serology",
    "reject_batch",
    "release_batch",
    "relocate_bag",
    "reserve_bags",
    "review_released",
    "submit_for_release",
    "update_donor",
]
