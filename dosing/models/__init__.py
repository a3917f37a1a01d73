"""Treatment protocol, doses, their bags, preparation, infusion and adverse events.

Every model is a clinical record: it inherits AuditedModel, so each save writes an audit
event in the same transaction. Foreign keys to audited records use PROTECT. State changes
go through `dosing.services` only.
"""

from dosing.models.bedside import AdverseEvent, BedsideScan, Infusion
from dosing.models.doses import Dose, DoseBag, Preparation
from dosing.models.protocol import Protocol

__all__ = [
    "Protocol",
    "Dose",
    "DoseBag",
    "Preparation",
    "Infusion",
    "AdverseEvent",
    "BedsideScan",
]
