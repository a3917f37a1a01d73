"""The dosing rules as pure functions: each returns every failure, and writes nothing.

Pages call them to show what stands in the way before anything is submitted; the services
in `dosing.services` call the same functions and raise what they return, so a rule is
written once. They read the database (the previous dose, a recorded death) but never
write. Shaped like `batches.rules.release_failures`: a list, empty when the step may go on.
"""

from dosing.rules.allocation import batch_override_failures, chosen_bag_failures
from dosing.rules.base import (
    Failure,
    OverrideCheck,
    alive_failures,
    batch_failures,
    override_check,
    range_text,
    status_failures,
    step_failures,
    stopped_failure,
)
from dosing.rules.bedside import adverse_event_failures, infusion_failures
from dosing.rules.orders import order_failures
from dosing.rules.preparation import dispense_failures, refresh_failures, thaw_failures
from dosing.rules.scan import (
    BedsideCheck,
    ScanRead,
    bedside_check,
    normalise,
    read_scan,
    scan_failure,
)
from dosing.rules.times import (
    dose_reference_time,
    interval_failures,
    interval_window,
    limit_text,
    live_doses,
    previous_dose,
    refresh_limit,
    use_before,
    window_text,
)

__all__ = [
    "BedsideCheck",
    "bedside_check",
    "normalise",
    "read_scan",
    "ScanRead",
    "scan_failure",
    "batch_override_failures",
    "chosen_bag_failures",
    "Failure",
    "status_failures",
    "alive_failures",
    "batch_failures",
    "step_failures",
    "stopped_failure",
    "range_text",
    "OverrideCheck",
    "override_check",
    "dose_reference_time",
    "interval_window",
    "use_before",
    "refresh_limit",
    "limit_text",
    "live_doses",
    "previous_dose",
    "window_text",
    "interval_failures",
    "order_failures",
    "thaw_failures",
    "refresh_failures",
    "dispense_failures",
    "infusion_failures",
    "adverse_event_failures",
]
