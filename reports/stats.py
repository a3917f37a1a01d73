"""Summary statistics as the source paper reports them (SPSS).

The paper gives medians and interquartile ranges computed by SPSS, whose default
percentile definition ("HAVERAGE", the weighted average at (n + 1)p) is the one here:
for sorted values x₁ ≤ … ≤ xₙ and 0 < p < 1, let h = (n + 1)p, k = ⌊h⌋ and f = h − k;
the percentile is xₖ + f (xₖ₊₁ − xₖ), taken as x₁ when h < 1 and xₙ when h ≥ n.
This is Hyndman & Fan's definition 6 (numpy's method "weibull", Python's
`statistics.quantiles(method="exclusive")` inside the range).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import groupby

Number = int | float | Decimal | Fraction


def exactly_sorted(values: Iterable[Number]) -> list[Fraction]:
    """The values as Fractions, sorted exactly but fast: by their floats (a < b whenever
    float(a) < float(b), rounding being monotonic), then each run of equal floats by the
    Fractions themselves. Comparing Fractions is far dearer than floats, and a cohort's
    values repeat (thousands of doses of the same cells per kg), so a sort that compared
    (float, Fraction) pairs still compared Fractions at every tie."""
    fractions = [v if type(v) is Fraction else Fraction(v) for v in values]
    # n / d is Fraction.__float__ (correctly rounded), without its property lookups.
    floats = [x.numerator / x.denominator for x in fractions]
    order = sorted(range(len(fractions)), key=floats.__getitem__)
    result = [fractions[i] for i in order]
    start = 0
    for _, run in groupby(floats[i] for i in order):
        end = start + sum(1 for _ in run)
        if end - start > 1:
            result[start:end] = sorted(result[start:end])
        start = end
    return result


def percentile(values: Iterable[Number], p: Fraction | float, *, is_sorted=False):
    """The SPSS weighted-average percentile at (n + 1)p, exact (a Fraction); None when
    there are no values. `is_sorted`: `values` is already an `exactly_sorted` list."""
    xs = values if is_sorted else exactly_sorted(values)
    n = len(xs)
    if n == 0:
        return None
    if not 0 < p < 1:
        raise ValueError("p is a proportion strictly between 0 and 1")
    h = (n + 1) * Fraction(p)
    if h < 1:
        return xs[0]
    if h >= n:
        return xs[-1]
    k = int(h)  # 1-based rank of the lower neighbour
    f = h - k
    return xs[k - 1] + f * (xs[k] - xs[k - 1])


@dataclass(frozen=True)
class Summary:
    """Median and quartiles of `n` values (None for each when n is 0)."""

    n: int
    median: Fraction | None
    q1: Fraction | None
    q3: Fraction | None

    @property
    def iqr(self) -> Fraction | None:
        return None if self.q1 is None else self.q3 - self.q1

    def as_dict(self, places: int = 2) -> dict:
        """JSON-ready: each figure rounded half-even to `places` decimals (as a float)."""

        def rounded(value):
            return None if value is None else round(float(value), places)

        return {
            "median": rounded(self.median),
            "q1": rounded(self.q1),
            "q3": rounded(self.q3),
            "iqr": rounded(self.iqr),
            "n": self.n,
        }


def summarise(values: Iterable[Number]) -> Summary:
    xs = exactly_sorted(values)  # once for the three percentiles
    return Summary(
        n=len(xs),
        median=percentile(xs, Fraction(1, 2), is_sorted=True),
        q1=percentile(xs, Fraction(1, 4), is_sorted=True),
        q3=percentile(xs, Fraction(3, 4), is_sorted=True),
    )
