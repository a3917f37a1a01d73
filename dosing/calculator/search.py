"""The exact search over one batch's bags: how many disjoint in-range doses they give, and
the least-waste dose that keeps the rest of the course possible."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator

from dosing.calculator.plans import MAX_BAGS_PER_DOSE, BagOption, Key


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
