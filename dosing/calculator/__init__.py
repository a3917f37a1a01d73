"""The dose calculator: a pure function from weight, protocol settings and stock to a plan.

No database access and no writes: the order page shows the plan before anything is
reserved, and the allocation service reserves exactly the bags of a plan. Cell counts are
integers of cells; weights are Decimal kilograms. `plans` holds what it works on and gives
(bags, range, course, plan), `search` the exact search over one batch's bags, `propose`
the choice of batch and bags; every public name is importable from here.

Rules (DESIGN.md "Dose"):
- required cells = weight × target cells/kg (rounded half up to a whole cell);
- bags are whole (a thawed bag is never refrozen), and all come from ONE batch;
- a batch **can supply the course** when its available bags can be split into as many
  separate (disjoint) in-range doses as the course still needs, this one included, and it
  expires on or after the last possible dose's day (`Course.until`);
- first-expiry-first-out: among the batches that can supply the course, the one that
  expires first (ties: least waste, then batch code); only when none can, the earliest
  that can give this dose (same ties), with a warning naming how many doses it can give;
- within the batch, least waste: the fewest bags whose total is within the range, then the
  total closest to the target, then the smaller total — among the doses that leave the
  rest of the course possible from what remains. Never under the minimum nor over the
  maximum.
"""

from dosing.calculator.plans import (
    MAX_BAGS_PER_DOSE,
    BagOption,
    Course,
    DosePlan,
    DoseRange,
    cells_per_kg,
    cells_range,
    is_within_range,
    required_cells,
)
from dosing.calculator.propose import propose_bags

__all__ = [
    "MAX_BAGS_PER_DOSE",
    "BagOption",
    "Course",
    "DosePlan",
    "DoseRange",
    "cells_per_kg",
    "cells_range",
    "is_within_range",
    "propose_bags",
    "required_cells",
]
