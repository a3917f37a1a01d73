"""Donors, tissue procurement, GMP batches, release specifications and checks, and bags.

Every model here is a GMP record: it inherits AuditedModel, so each save and delete
writes an audit event in the same transaction. Foreign keys between audited records use
PROTECT: a cascade would delete rows without their audit events.

One module per noun; every public name is importable from `batches.models`. The GMP
`Facility` a batch is made in lives in `sites.models`.
"""

from batches.models.assays import AssayMethod
from batches.models.bags import MAX_BAG_CELLS, MIN_BAG_CELLS, Bag, BagEvent, StorageLocation
from batches.models.batches import Batch, ReleaseCheck
from batches.models.donors import Donor, Procurement, SerologyResult
from batches.models.shipments import Shipment, ShipmentBag, ShipmentRequest
from batches.models.specifications import ReleaseSpecification, SpecificationItem
from batches.querysets import DECISION_MEANINGS

__all__ = [
    "DECISION_MEANINGS",
    "AssayMethod",
    "MAX_BAG_CELLS",
    "MIN_BAG_CELLS",
    "Bag",
    "BagEvent",
    "Batch",
    "Donor",
    "Procurement",
    "ReleaseCheck",
    "ReleaseSpecification",
    "SerologyResult",
    "Shipment",
    "ShipmentBag",
    "ShipmentRequest",
    "SpecificationItem",
    "StorageLocation",
]
