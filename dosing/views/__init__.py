"""Pharmacy and clinic pages: thin views that validate a form and call a service."""

from dosing.views.pharmacy import (
    dose_allocate,
    dose_cancel,
    dose_dispense,
    dose_order,
    dose_prepare,
    patient_detail,
    worklist,
)
from dosing.views.timelines import bag_timeline, dose_detail
from dosing.views.ward import (
    adverse_event_report,
    bedside_scan,
    clinic_worklist,
    infusion_record,
)

__all__ = [
    "adverse_event_report",
    "bag_timeline",
    "bedside_scan",
    "clinic_worklist",
    "dose_allocate",
    "dose_cancel",
    "dose_detail",
    "dose_dispense",
    "dose_order",
    "dose_prepare",
    "infusion_record",
    "patient_detail",
    "worklist",
]
