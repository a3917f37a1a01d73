"""The three traces, each in one request at a constant number of queries whatever the size
of the chain: donor → batches → bags → doses → patients; patient → doses → bags → batch →
donor; and a bag's chain of custody, event by event.

A trace shows only what its reader may see (`for_user` at every level: a hospital's
auditor follows a donor to its own patients, not to another hospital's), and says how
many links it left out (`*_left_out`), so that a gap is never taken for the whole chain.
"""

from dosing.api.traces.bag import BagTraceView
from dosing.api.traces.donor import DonorTraceView
from dosing.api.traces.patient import PatientTraceView

__all__ = ["BagTraceView", "DonorTraceView", "PatientTraceView"]
