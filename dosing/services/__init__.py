"""Every state change of a dose: the only writer of dosing records.

One module per stage — `orders`, `stock` (the candidate stock and the calculator's
proposal), `allocation`, `preparation` (thaw, refresh, dispense),
`bedside` (infusion, adverse events), `cancellation`, `stopping` (a recall's doses) —
and `protocols` (versions). Each operation runs in one transaction, locks what it
changes, asks `dosing.rules` for every failure and raises them as a `DosingError`
subclass with messages the user can act on (a refusal changes nothing), and opens an
`audit_context` naming the actor and the step. Each takes `at=` (default: now) so that
the demo and the tests can place the steps in time.
"""

from dosing.services.allocation import allocate_dose, lock_bags
from dosing.services.bedside import record_bedside_scan, record_infusion, report_adverse_event
from dosing.services.cancellation import cancel_dose
from dosing.services.common import active_protocol, patient_batch
from dosing.services.orders import order_dose
from dosing.services.preparation import dispense_dose, record_refresh, record_thaw
from dosing.services.protocols import create_protocol, update_protocol
from dosing.services.stock import candidate_stock, course_need, plan_dose, usable_bags
from dosing.services.stopping import stop_doses_of_batch

__all__ = [
    "active_protocol",
    "allocate_dose",
    "cancel_dose",
    "candidate_stock",
    "course_need",
    "create_protocol",
    "dispense_dose",
    "lock_bags",
    "order_dose",
    "patient_batch",
    "plan_dose",
    "record_bedside_scan",
    "record_infusion",
    "record_refresh",
    "record_thaw",
    "report_adverse_event",
    "stop_doses_of_batch",
    "update_protocol",
    "usable_bags",
]
