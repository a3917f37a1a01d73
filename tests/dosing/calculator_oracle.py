"""A brute-force oracle for the dose calculator, written from DESIGN.md's "Dose" rules.

It shares nothing with `dosing.calculator`'s search: it takes from it only the dataclasses,
`required_cells`, `cells_range` and the constant `MAX_BAGS_PER_DOSE`. Every subset of a
batch's bags is a bitmask; a dose is any subset of at most MAX_BAGS_PER_DOSE bags whose
total is within the range; "j separate doses" is any j pairwise-disjoint such subsets,
found by trying every dose against every other (memoised on the bags still free).

The rules, as DESIGN.md states them:
- a batch can supply the course when its bags split into as many separate in-range doses
  as the course still needs (this one included) and it expires on or after the last
  possible dose's day (`Course.until`; no expiry date: it cannot);
- first-expiry-first-out: among the batches that can supply the course, the earliest
  expiry (ties: least waste, then batch code); when none can, the earliest that can give
  this dose (same ties), with a warning naming how many doses its bags can give (the
  maximum number of separate in-range doses, at most the course's);
- least waste: fewest bags, then total closest to the target, then the smaller total —
  among the first doses that leave the most doses possible (the whole course when the
  batch can supply it).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal

from dosing.calculator import (
    MAX_BAGS_PER_DOSE,
    BagOption,
    Course,
    DosePlan,
    DoseRange,
    cells_range,
    required_cells,
)

WARNING_COUNT = re.compile(r"give (\d+) of the (\d+) doses?\b")


@dataclass
class BatchTruth:
    code: str
    expires_on: datetime.date | None
    bags: list[BagOption]
    doses: list[int]  # in-range subsets, as bitmasks over `bags`
    totals: list[int]  # cells of every subset, by bitmask
    required: int
    _memo: dict[tuple[int, int], bool] = field(default_factory=dict)

    @property
    def full(self) -> int:
        return (1 << len(self.bags)) - 1

    def key(self, mask: int) -> tuple[int, int, int]:
        total = self.totals[mask]
        return (mask.bit_count(), abs(total - self.required), total)

    def separate(self, free: int, j: int) -> bool:
        """Are there j pairwise-disjoint in-range doses among the bags of `free`?"""
        if j <= 0:
            return True
        if (free, j) not in self._memo:
            self._memo[(free, j)] = any(
                dose & free == dose and self.separate(free & ~dose, j - 1) for dose in self.doses
            )
        return self._memo[(free, j)]

    def most(self, cap: int) -> int:
        return max(j for j in range(cap + 1) if self.separate(self.full, j))

    def keeps(self, mask: int, cap: int) -> bool:
        """After `mask`, do the other bags still give the rest of what the batch can give?"""
        return self.separate(self.full & ~mask, self.most(cap) - 1)

    def best_key(self, cap: int) -> tuple[int, int, int] | None:
        ranked = sorted(self.doses, key=self.key)
        return next((self.key(d) for d in ranked if self.keeps(d, cap)), None)

    def mask_of(self, bags) -> int:
        index = {b.code: i for i, b in enumerate(self.bags)}
        return sum(1 << index[b.code] for b in bags)


def batch_truth(code: str, bags: list[BagOption], low: int, high: int, required: int):
    totals = [0] * (1 << len(bags))
    for mask in range(1, len(totals)):
        lowest = mask & -mask
        totals[mask] = totals[mask ^ lowest] + bags[lowest.bit_length() - 1].cells
    doses = [
        m
        for m in range(1, len(totals))
        if low <= totals[m] <= high and m.bit_count() <= MAX_BAGS_PER_DOSE
    ]
    return BatchTruth(code, bags[0].expires_on, bags, doses, totals, required)


@dataclass
class Expected:
    low: int
    high: int
    required: int
    need: int
    chosen: BatchTruth | None
    warns: bool


def expected(
    stock: list[BagOption],
    weight: Decimal,
    dose_range: DoseRange,
    batch_code: str | None,
    course: Course | None,
) -> Expected:
    required = required_cells(weight, dose_range.target_cells_per_kg)
    low, high = cells_range(weight, dose_range)
    need = max(course.doses, 1) if course else 1
    grouped: dict[str, list[BagOption]] = {}
    for bag in stock:
        if batch_code is None or bag.batch_code == batch_code:
            grouped.setdefault(bag.batch_code, []).append(bag)
    truths = [batch_truth(c, bags, low, high, required) for c, bags in grouped.items()]

    def outlasts(t: BatchTruth) -> bool:
        if course is None or course.until is None:
            return True
        return t.expires_on is not None and t.expires_on >= course.until

    supplying = [t for t in truths if outlasts(t) and t.most(need) == need]
    able = [t for t in truths if t.most(1) == 1]
    pool = supplying or able

    def fefo(t: BatchTruth):
        return (t.expires_on or datetime.date.max, t.best_key(need), t.code)

    chosen = min(pool, key=fefo) if pool else None
    warns = course is not None and not supplying and bool(able)
    return Expected(low, high, required, need, chosen, warns)


def check(plan: DosePlan, stock, weight, dose_range, batch_code=None, course=None) -> None:
    """Assert that `plan` is what the rules give for this stock (AssertionError if not)."""
    truth = expected(stock, weight, dose_range, batch_code, course)
    assert (plan.required_cells, plan.min_cells, plan.max_cells) == (
        truth.required,
        truth.low,
        truth.high,
    )
    chosen = truth.chosen
    if chosen is None:
        assert plan.bags == (), "no whole bags give a dose in range: nothing proposed"
        assert plan.warning == ""
        return
    assert plan.bags, "a dose in range exists: one is proposed"
    # Whole bags, of one batch, each once, from the stock, within the range.
    assert len({b.code for b in plan.bags}) == len(plan.bags)
    assert set(plan.bags) <= set(stock)
    assert {b.batch_code for b in plan.bags} == {plan.batch_code}
    assert truth.low <= plan.total_cells <= truth.high and plan.within_range
    assert len(plan.bags) <= MAX_BAGS_PER_DOSE
    # FEFO: the earliest-expiring batch that can supply the course (ties: least waste, code).
    assert plan.batch_code == chosen.code, f"expected batch {chosen.code}"
    mask = chosen.mask_of(plan.bags)
    possible = chosen.most(truth.need)
    # The first choice never spoils what the batch can still give.
    assert chosen.keeps(mask, truth.need), "this dose leaves the rest of the course impossible"
    # Least waste among the doses that keep the course.
    assert chosen.key(mask) == chosen.best_key(truth.need), "not the least-waste dose"
    # A course warning iff no batch can supply the course; naming the right count.
    assert bool(plan.warning) == truth.warns, plan.warning or "a course warning is missing"
    if truth.warns:
        found = WARNING_COUNT.search(plan.warning)
        assert found, plan.warning
        assert (int(found[1]), int(found[2])) == (possible, truth.need), plan.warning
    assert plan.doses_possible == (possible if course is not None else None)
