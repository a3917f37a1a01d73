"""The dose calculator: a pure function from weight, protocol settings and stock to a plan.

No database access and no writes: the order page shows the plan before anything is
reserved, and the allocation service reserves exactly the bags of a plan. Cell counts are
integers of cells; weights are Decimal kilograms.

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

from __future__ import annotations

import datetime
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

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
    # With a course: how many of its doses the chosen batch's bags can give (this one
    # included, at most `Course.doses`); None without a course.
    doses_possible: int | None = None
    # With no bags at the patient's hospital: the facilities holding suitable released
    # stock, as (facility id, FIN) pairs, where the pharmacy may ask for a shipment.
    stock_elsewhere: tuple[tuple[int, str], ...] = ()

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


@dataclass(frozen=True)
class Course:
    """What the patient's batch must still supply: `doses` doses, this one included (the
    protocol's maximum less the doses already given; below 1 counts as 1), and an expiry on
    or after `until`, the day of the last possible dose (None: expiry not checked). A batch
    that expires before `until` may still give this dose, but it cannot supply the course;
    one without an expiry date cannot supply it either."""

    doses: int
    until: datetime.date | None = None

    def outlasted_by(self, expires_on: datetime.date | None) -> bool:
        return self.until is None or (expires_on is not None and expires_on >= self.until)


Key = tuple[int, int, int]  # least waste: (bags, |total − target|, total); smaller is better


class _Batch:
    """One batch's bags and the exact search over them.

    Bags of equal cell count are interchangeable for every rule here, so the stock is a
    vector of how many bags of each distinct cell count (largest first), and a dose is a
    multiset, enumerated once as a non-increasing sequence of those counts.

    `most(avail, cap)` is exact: take the largest cell count t present. In any set of
    disjoint doses, either no dose uses a bag of count t — then the same doses exist with
    every t bag removed — or some dose d uses one, and d is a dose whose largest bag is of
    count t, so the rest are disjoint doses of `avail − d`. Both branches are searched, so
    the maximum over them is the true maximum. Pruning only cuts branches that cannot beat
    what is already found: a search stops at `cap`; no more than cells // minimum and
    bags // (fewest bags a dose can have) doses fit. Results are memoised on the count
    vector, so repeated sub-stocks are solved once.
    """

    def __init__(self, bags: Iterable[BagOption], low: int, high: int) -> None:
        by_cells: dict[int, list[BagOption]] = {}
        for bag in sorted(bags, key=lambda b: b.code):
            if bag.cells > 0:
                by_cells.setdefault(bag.cells, []).append(bag)
        self.values = tuple(sorted(by_cells, reverse=True))
        self.bags = [by_cells[v] for v in self.values]
        self.full = tuple(len(b) for b in self.bags)
        self.descending = [-v for v in self.values]  # ascending, for bisect
        self.low, self.high = max(low, 1), high
        self._memo: dict[tuple[int, ...], tuple[int, int]] = {}

    def doses(
        self,
        avail: tuple[int, ...],
        *,
        first: int | None = None,
        size: int | None = None,
        within: tuple[int, int] | None = None,
    ) -> Iterator[tuple[int, ...]]:
        """Every in-range dose of at most MAX_BAGS_PER_DOSE bags from `avail`, as a
        non-decreasing tuple of indices into `values`; with `first` (the largest count
        present), only doses holding a bag of that count; with `size`, only of that size;
        with `within` (a part of the range), only totals in it."""
        values, descending, smallest = self.values, self.descending, self.values[-1]
        low, high = within or (self.low, self.high)
        most = MAX_BAGS_PER_DOSE if size is None else size
        left = list(avail)
        combo: list[int] = []

        def extend(start: int, total: int) -> Iterator[tuple[int, ...]]:
            n = len(combo)
            if n and total >= low and (size is None or n == size):
                yield tuple(combo)
            if n == most:
                return
            # Skip counts too large for the maximum (for a fixed size, with the smallest
            # count for each bag to come); stop at those too small for the minimum.
            room = high - total - (most - n - 1) * smallest * (size is not None)
            for j in range(bisect_left(descending, -room, start), len(values)):
                v = values[j]
                if total + (most - n) * v < low:
                    break
                if not left[j]:
                    continue
                left[j] -= 1
                combo.append(j)
                yield from extend(j, total + v)
                combo.pop()
                left[j] += 1

        if first is None:
            yield from extend(0, 0)
        elif avail[first] and values[first] <= high:
            left[first] -= 1
            combo.append(first)
            yield from extend(first, values[first])

    @staticmethod
    def take(avail: tuple[int, ...], combo: tuple[int, ...]) -> tuple[int, ...]:
        rest = list(avail)
        for j in combo:
            rest[j] -= 1
        return tuple(rest)

    def most(self, avail: tuple[int, ...], cap: int) -> int:
        """The exact maximum number of disjoint in-range doses in `avail`, at most `cap`."""
        if cap <= 0:
            return 0
        known, of = self._memo.get(avail, (0, 0))  # `known` doses found with cap `of`
        if known < of or cap <= of:
            return min(known, cap)  # exact (below its cap), or enough
        # A dose has at least `fewest` bags: as many as the largest bags need to reach the
        # minimum. So no more doses than bags // fewest, nor than cells // minimum.
        cells = bags = fewest = 0
        for a, v in zip(avail, self.values, strict=True):
            if not fewest and cells + a * v >= self.low:
                fewest = bags + -(-(self.low - cells) // v)
            cells, bags = cells + a * v, bags + a
        if not 0 < fewest <= MAX_BAGS_PER_DOSE:
            fewest = bags + 1
        bound = min(cap, cells // self.low, bags // fewest)
        best = 0
        if bound > 0:
            t = next(i for i, a in enumerate(avail) if a)
            for combo in self.doses(avail, first=t):
                best = max(best, 1 + self.most(self.take(avail, combo), bound - 1))
                if best == bound:
                    break
            else:
                best = max(best, self.most(avail[:t] + (0,) + avail[t + 1 :], bound))
        self._memo[avail] = (best, cap)
        return best

    def choose(self, required: int, rest: int) -> tuple[Key, tuple[BagOption, ...]] | None:
        """The least-waste dose after which the remaining bags still give `rest` disjoint
        in-range doses; ties between equal keys go to the smaller counts first, then bags
        in code order."""
        if not self.values:
            return None
        each = sorted(v for v, a in zip(self.values, self.full, strict=True) for _ in range(a))
        for size in range(1, min(MAX_BAGS_PER_DOSE, len(each)) + 1):
            # The totals `size` bags can reach, within the range; the nearest to the target.
            least, utmost = max(self.low, sum(each[:size])), min(self.high, sum(each[-size:]))
            if least > self.high:
                break  # even the smallest bags are too many cells
            if least > utmost:
                continue
            centre = min(max(required, least), utmost)
            # Widening windows around it: every dose within `delta` of the centre is tried,
            # in key order, before any farther one (farther from the centre is farther
            # from the target), so the first that keeps the course is the least-waste one.
            delta, tried = max(1, each[0] // 16), set()
            while True:
                lo, hi = max(least, centre - delta), min(utmost, centre + delta)
                ranked = []
                for combo in self.doses(self.full, size=size, within=(lo, hi)):
                    if combo not in tried:
                        cells = [self.values[j] for j in reversed(combo)]
                        ranked.append((abs(sum(cells) - required), sum(cells), cells, combo))
                for gap, total, _, combo in sorted(ranked):
                    tried.add(combo)
                    if rest <= 0 or self.most(self.take(self.full, combo), rest) >= rest:
                        return (size, gap, total), self.bags_of(combo)
                if (lo, hi) == (least, utmost):
                    break
                delta *= 4
        return None

    def bags_of(self, combo: tuple[int, ...]) -> tuple[BagOption, ...]:
        chosen = [self.bags[j][combo[:i].count(j)] for i, j in enumerate(combo)]
        return tuple(sorted(chosen, key=lambda b: b.code))


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
    batches = {code: _Batch(members, low, high) for code, members in grouped.items()}
    expiry = {code: members[0].expires_on for code, members in grouped.items()}

    def can_give(code: str, cap: int) -> int:
        return batches[code].most(batches[code].full, cap)

    supplying = [
        code
        for code in batches
        if (course is None or course.outlasted_by(expiry[code])) and can_give(code, need) >= need
    ]
    pool = supplying or [code for code in batches if can_give(code, 1)]
    if not pool:
        return DosePlan(weight, required, low, high, ())

    def fefo(code: str):  # (expiry, least-waste key, code), the dose, the doses possible
        possible = can_give(code, need)  # ≥ 1, so a dose that keeps possible − 1 exists
        key, chosen = batches[code].choose(required, possible - 1) or ((), ())
        return (expiry[code] or datetime.date.max, key, code), chosen, possible

    first = min(expiry[code] or datetime.date.max for code in pool)
    _, chosen, possible = min(fefo(c) for c in pool if (expiry[c] or datetime.date.max) == first)
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
