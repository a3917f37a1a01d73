"""Every state change of a production record: the only writer of batches and bags.

Each function runs in one transaction, locks the rows it changes, validates the record
(`full_clean`), opens an `audit_context` naming the actor (and the reason, where one is
needed), and raises a `BatchError` subclass with a message the user can act on. The
admin, the demo loader and dosing write through these functions only.

One module per stage — donors (donor, serology, procurement), specifications (versions
and items), batches (a batch's record), checks (results), bags (making them), storage
(positions), custody (a bag's steps), release (submit, release, reject, hold),
shipments (facility → hospital, dispatch, receipt), shipment_decisions (excursions,
requests) — and every public name importable from `batches.services`.
"""

from batches.services.assays import correct_assay_method, create_assay_method
from batches.services.bags import (
    BOX_POSITIONS,
    DEFAULT_PRODUCT_CODE,
    DIVISIONS,
    boxes_with_free_positions,
    create_bags,
)
from batches.services.batches import correct_batch, create_batch, delete_batch
from batches.services.checks import (
    Result,
    delete_check,
    is_correction,
    record_check,
    record_results,
    tested_on_problem,
    value_of,
)
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
    recall_batch,
    reject_batch,
    release_batch,
    review_released,
    submit_for_release,
)
from batches.services.shipment_decisions import (
    answer_request,
    decide_excursion,
    request_shipment,
)
from batches.services.shipments import (
    create_shipment,
    dispatch_shipment,
    receive_shipment,
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
    free_positions_from,
    move_bags,
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
    "Result",
    "add_specification_item",
    "correct_assay_method",
    "answer_request",
    "correct_batch",
    "correct_specification",
    "correct_specification_item",
    "correct_storage_location",
    "create_assay_method",
    "create_bags",
    "boxes_with_free_positions",
    "create_batch",
    "create_donor",
    "create_shipment",
    "create_specification",
    "create_storage_location",
    "decide_excursion",
    "delete_batch",
    "delete_check",
    "delete_donor",
    "delete_procurement",
    "delete_serology",
    "delete_specification",
    "delete_specification_item",
    "delete_storage_location",
    "dispatch_shipment",
    "free_positions_from",
    "hold",
    "is_correction",
    "move_bag",
    "move_bags",
    "recall_batch",
    "record_check",
    "record_custody_event",
    "record_results",
    "record_procurement",
    "record_serology",
    "receive_shipment",
    "reject_batch",
    "release_batch",
    "relocate_bag",
    "request_shipment",
    "reserve_bags",
    "review_released",
    "submit_for_release",
    "tested_on_problem",
    "update_donor",
    "value_of",
]
