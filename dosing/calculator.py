"""The dose calculator: a pure function from weight, protocol settings and stock to a plan.

No database access and no writes: the order page shows the plan before anything is
reserved, and the allocation service reserves exactly the bags of a plan. Cell counts are
integers of cells; weights are Decimal kilograms.

Rules (DESIGN.md "Dose"):
- required cells = weight × target cells/kg (rounded half up to a whole cell);
- bags are whole (a thawed bag is never refrozen), and all come from ONE batch;
- between batches, first-expiry-first-out: the earliest-expiring batch that can give a dose
  within the acceptable range is used; for a first dose (no batch fixed yet), batches that
  can supply the whole course (enough whole bags for the protocol's doses at this weight,
  and an expiry on or after the last possible dose's day) come first, and a plan from a
  batch that cannot carries a warning;
- within the batch, least waste: the fewest bags whose total is within the range, and among
  those the total closest to the target (then the smaller total); never under the minimum.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import combinations_with_replacement

# A combination of more bags than this is never proposed: at 50–75 ×10⁶ cells a bag, eight
# bags already hold 400 ×10⁶ cells, more than any adult's dose at the protocol's maximum.
MAX_BAGS_PER_DOSE = 8


@dataclass(frozen=True)
class BagOption:
    """What the calculator needs to know of one available bag."""

    code: str
    batch_code: str
    expires_on: datetime.date | None
    cells: int
    volume_ml: Decimal
    pk: int | None = None

    @classmethod
    def from_bag(cls, bag) -> BagOption:
        return cls(
            code=bag.code,
            batch_code=bag.batch.code,
            expires_on=bag.batch.expires_on,
            cells=int(bag.nominal_cells),
            volume_ml=Decimal(bag.volume_ml),
            pk=bag.pk,
        )


@dataclass(frozen=True)
class DoseRange:
    """The protocol's dose settings, in cells per kg."""

    target_cells_per_kg: int
    min_cells_per_kg: int
    max_cells_per_kg: int

    @classmethod
    def from_protocol(cls, protocol) -> DoseRange:
        return cls(
            target_cells_per_kg=protocol.target_cells_per_kg,
            min_cells_per_kg=protocol.min_cells_per_kg,
            max_cells_per_kg=protocol.max_cells_per_kg,
        )


@dataclass(frozen=True)
class DosePlan:
    """The calculation shown before confirming, and what allocation reserves."""

    weight_kg: Decimal
    required_cells: int
    min_cells: int
    max_cells: int
    bags: tuple[BagOption, ...] = field(default_factory=tuple)
    warning: str = ""

    @property
    def batch_code(self) -> str | None:
        return self.bags[0].batch_code if self.bags else None

    @property
    def total_cells(self) -> int:
        return sum(b.cells for b in self.bags)

    @property
    def total_volume_ml(self) -> Decimal:
        return sum((b.volume_ml for b in self.bags), Decimal("0"))

    @property
    def delivered_cells_per_kg(self) -> int:
        return cells_per_kg(self.total_cells, self.weight_kg)

    @property
    def within_range(self) -> bool:
        return bool(self.bags) and self.min_cells <= self.total_cells <= self.max_cells

    @property
    def bag_codes(self) -> list[str]:
        return [b.code for b in self.bags]


def required_cells(weight_kg: Decimal, target_cells_per_kg: int) -> int:
    """Weight × target, to the nearest whole cell."""
    return int((Decimal(weight_kg) * target_cells_per_kg).quantize(Decimal(1), ROUND_HALF_UP))


def cells_range(weight_kg: Decimal, dose_range: DoseRange) -> tuple[int, int]:
    """The acceptable totals in whole cells: [ceil(w × min), floor(w × max)]."""
    weight = Decimal(weight_kg)
    low = int((weight * dose_range.min_cells_per_kg).to_integral_value(ROUND_CEILING))
    high = int((weight * dose_range.max_cells_per_kg).to_integral_value(ROUND_FLOOR))
    return low, high


def cells_per_kg(cells: int, weight_kg: Decimal) -> int:
    """Delivered dose in cells per kg, to the nearest cell."""
    return int((Decimal(cells) / Decimal(weight_kg)).quantize(Decimal(1), ROUND_HALF_UP))


def is_within_range(cells: int, weight_kg: Decimal, dose_range: DoseRange) -> bool:
    low, high = cells_range(weight_kg, dose_range)
    return low <= cells <= high


def _best_in_batch(
    bags: Sequence[BagOption], required: int, low: int, high: int
) -> tuple[BagOption, ...] | None:
    """Fewest bags with a total in [low, high]; then closest to `required`; then smaller.

    Bags of equal cell count are interchangeable, so the search runs over multisets of
    distinct counts (few), and the bags of each count are taken in code order.
    """
    by_cells: dict[int, list[BagOption]] = {}
    for bag in sorted(bags, key=lambda b: b.code):
        by_cells.setdefault(bag.cells, []).append(bag)
    counts = sorted(by_cells)
    if not counts:
        return None
    max_n = min(len(bags), MAX_BAGS_PER_DOSE)
    for n in range(1, max_n + 1):
        best: tuple[int, int, tuple[int, ...]] | None = None
        for combo in combinations_with_replacement(counts, n):
            if any(combo.count(c) > len(by_cells[c]) for c in set(combo)):
                continue
            total = sum(combo)
            if not low <= total <= high:
                continue
            key = (abs(total - required), total, combo)
            if best is None or key < best:
                best = key
        if best is not None:
            chosen: list[BagOption] = []
            taken: dict[int, int] = {}
            for c in best[2]:
                chosen.append(by_cells[c][taken.get(c, 0)])
                taken[c] = taken.get(c, 0) + 1
            return tuple(sorted(chosen, key=lambda b: b.code))
        if n * counts[0] > high:
            # Even the n smallest bags exceed the maximum: more bags cannot help.
            break
    return None


@dataclass(frozen=True)
class Course:
    """What a first dose's batch must still supply: `doses` doses (this one included) and
    an expiry on or after `until` (the day of the last possible dose)."""

    doses: int
    until: datetime.date | None = None


def course_shortfall(
    bags: Sequence[BagOption], required: int, low: int, high: int, course: Course
) -> str:
    """Why a batch's bags cannot supply the whole course ("" when they can)."""
    reasons = []
    expires_on = bags[0].expires_on if bags else None
    if course.until is not None and (expires_on is None or expires_on < course.until):
        reasons.append(f"it expires on {expires_on}, before {course.until}")
    remaining = list(bags)
    doses = 0
    while doses < course.doses:
        chosen = _best_in_batch(remaining, required, low, high)
        if not chosen:
            break
        doses += 1
        codes = {b.code for b in chosen}
        remaining = [b for b in remaining if b.code not in codes]
    if doses < course.doses:
        reasons.append(
            f"its available bags give {doses} of the {course.doses} doses the protocol allows"
        )
    return " and ".join(reasons)


def propose_bags(
    *,
    weight_kg: Decimal,
    dose_range: DoseRange,
    bags: Iterable[BagOption],
    batch_code: str | None = None,
    course: Course | None = None,
) -> DosePlan:
    """Plan a dose of whole bags from one batch.

    `bags` are the available bags (of released, unexpired batches); `batch_code`, when
    the patient's batch is already fixed by an earlier dose, restricts the plan to it.
    Guarantees: every proposed bag is from one batch (the fixed one if given); the total
    is never below the minimum nor above the maximum; among batches, the earliest expiry
    that can give such a dose wins; within it, the fewest bags, then the total closest to
    the target. When no batch can give a dose within range, the plan has no bags
    (`within_range` is False) and nothing is proposed.

    `course` (first dose only: no batch fixed) puts first the batches that can supply the
    whole course; FEFO among those. When none can, the earliest-expiring batch that gives
    this dose is proposed with a `warning` saying why the course may be cut short.
    """
    weight = Decimal(weight_kg)
    required = required_cells(weight, dose_range.target_cells_per_kg)
    low, high = cells_range(weight, dose_range)
    batches: dict[str, list[BagOption]] = {}
    for bag in bags:
        if batch_code is not None and bag.batch_code != batch_code:
            continue
        batches.setdefault(bag.batch_code, []).append(bag)
    far_future = datetime.date.max
    order = sorted(batches, key=lambda code: (batches[code][0].expires_on or far_future, code))
    fallback: tuple[tuple[BagOption, ...], str] | None = None
    for code in order:
        chosen = _best_in_batch(batches[code], required, low, high)
        if not chosen:
            continue
        if course is None or batch_code is not None or course.doses <= 1:
            return DosePlan(weight, required, low, high, chosen)
        shortfall = course_shortfall(batches[code], required, low, high, course)
        if not shortfall:
            return DosePlan(weight, required, low, high, chosen)
        if fallback is None:
            fallback = (chosen, f"batch {code}: {shortfall}")
    if fallback is not None:
        chosen, why = fallback
        warning = (
            f"No released batch in stock can supply all {course.doses} doses of the course "
            f"for {weight} kg; proposed: {why}. Every later dose must come from this same "
            "batch, so a later dose may not be possible."
        )
        return DosePlan(weight, required, low, high, chosen, warning)
    return DosePlan(weight, required, low, high, ())
