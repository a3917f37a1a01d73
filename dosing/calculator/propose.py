"""The proposal: which batch (first-expiry-first-out among those that can supply the
course) and which of its bags (least waste), with the warning when none can."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from dosing.calculator.plans import (
    BagOption,
    Course,
    DosePlan,
    DoseRange,
    cells_range,
    required_cells,
)
from dosing.calculator.search import _Batch


def _doses(n: int) -> str:
    return f"{n} dose" if n == 1 else f"{n} doses"


def _shortfall(expires_on: datetime.date | None, can_give: int, course: Course) -> str:
    need = max(course.doses, 1)
    why = f"its available bags give {can_give} of the {_doses(need)}"
    if not course.outlasted_by(expires_on):
        when = f"expires on {expires_on}" if expires_on else "has no recorded expiry date"
        joint = " but" if can_give >= need else " and"
        why += f",{joint} it {when}, before the last possible dose on {course.until}"
    return why


def propose_bags(
    *,
    weight_kg: Decimal,
    dose_range: DoseRange,
    bags: Iterable[BagOption],
    batch_code: str | None = None,
    course: Course | None = None,
) -> DosePlan:
    """Plan a dose of whole bags from one batch.

    `bags` are the available bags (of released batches, unexpired on this dose's day);
    `batch_code`, when the patient's batch is already fixed by an earlier dose, restricts
    the plan to it. `course` is what the batch must still supply (`Course`: doses, this one
    included, and the last possible dose's day); None means just this dose.

    - Batches that can supply the course (exact: `_Batch.most`) come first; among them the
      earliest expiry, ties by the least-waste key of each one's dose, then batch code.
    - When none can (or the fixed batch cannot), the earliest-expiring batch that can give
      this dose (same ties) with a `warning` naming how many of the course's doses its bags
      can give (`doses_possible`: the exact maximum of disjoint in-range doses, capped).
    - The dose, in the chosen batch, is the least-waste one among those that keep the most
      doses possible: the whole course when the batch can supply it, else as many as it
      can give (`doses_possible` − 1 more after this one). A first choice that spoils the
      course is thus never made when another would not.

    Every proposed bag is from one batch; the total is never below the minimum nor above
    the maximum. When no batch can give a dose within range, the plan has no bags
    (`within_range` is False) and no warning.
    """
    weight = Decimal(weight_kg)
    required = required_cells(weight, dose_range.target_cells_per_kg)
    low, high = cells_range(weight, dose_range)
    grouped: dict[str, list[BagOption]] = {}
    for bag in bags:
        if batch_code is None or bag.batch_code == batch_code:
            grouped.setdefault(bag.batch_code, []).append(bag)
    need = max(course.doses, 1) if course else 1
    expiry = {code: members[0].expires_on for code, members in grouped.items()}
    searched: dict[str, _Batch] = {}  # built when first asked: most batches never are

    def search(code: str) -> _Batch:
        if code not in searched:
            searched[code] = _Batch(grouped[code], low, high)
        return searched[code]

    def expires(code: str) -> datetime.date:
        return expiry[code] or datetime.date.max

    def can_give(code: str, cap: int) -> int:
        return search(code).most(search(code).full, cap)

    def supplies(code: str) -> bool:
        return (course is None or course.outlasted_by(expiry[code])) and can_give(
            code, need
        ) >= need

    by_expiry = sorted(grouped, key=expires)

    def earliest(qualifies) -> list[str]:
        """The batches that qualify among those of the earliest expiry any does: batches
        of later expiries are never searched (a hospital may hold hundreds)."""
        found: list[str] = []
        for code in by_expiry:
            if found and expires(code) != expires(found[0]):
                break
            if qualifies(code):
                found.append(code)
        return found

    pool = earliest(supplies)
    supplying = bool(pool)
    if not pool:
        pool = earliest(lambda code: can_give(code, 1) > 0)
    if not pool:
        return DosePlan(weight, required, low, high, ())

    def fefo(code: str):  # (least-waste key, code), the dose, the doses possible
        possible = can_give(code, need)  # ≥ 1, so a dose that keeps possible − 1 exists
        key, chosen = search(code).choose(required, possible - 1) or ((), ())
        return (key, code), chosen, possible

    _, chosen, possible = min(fefo(c) for c in pool)
    code = chosen[0].batch_code
    warning = ""
    if course is not None and not supplying:
        why = _shortfall(expiry[code], possible, course)
        if batch_code is None:
            warning = (
                f"No released batch in stock can supply {'all ' * (need > 1)}{_doses(need)} "
                f"the course still needs for {weight} kg; proposed: batch {code}: {why}. "
                "Every later dose must come from this same batch, so a later dose may not be "
                "possible."
            )
        else:
            warning = (
                f"Batch {code}, from which this patient's doses must come, cannot supply "
                f"the {_doses(need)} the course still needs for {weight} kg: {why}; "
                "a later dose may not be possible."
            )
    return DosePlan(
        weight, required, low, high, chosen, warning, possible if course is not None else None
    )
