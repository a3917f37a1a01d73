"""Quartiles as SPSS computes them: the weighted average at (n + 1)p."""

import statistics
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from reports.stats import percentile, summarise


def test_quartiles_of_a_hand_worked_example():
    # n = 7: h(Q1) = 8 × 0.25 = 2 → x₂; h(median) = 4 → x₄; h(Q3) = 6 → x₆.
    summary = summarise([1, 3, 4, 7, 8, 10, 15])
    assert (summary.q1, summary.median, summary.q3) == (3, 7, 10)
    assert summary.iqr == 7


def test_quartiles_interpolate_between_neighbours():
    # n = 4: h(Q1) = 1.25 → x₁ + 0.25 (x₂ − x₁) = 2 + 0.25 × 4 = 3;
    # h(Q3) = 3.75 → x₃ + 0.75 (x₄ − x₃) = 10 + 0.75 × 10 = 17.5; median (6 + 10) / 2 = 8.
    summary = summarise([2, 6, 10, 20])
    assert summary.q1 == 3
    assert summary.median == 8
    assert summary.q3 == Fraction(35, 2)


def test_quartiles_beyond_the_ends_are_the_extremes():
    # n = 2: h(Q1) = 0.75 < 1 → x₁; h(Q3) = 2.25 ≥ n → x₂.
    summary = summarise([5, 9])
    assert (summary.q1, summary.median, summary.q3) == (5, 7, 9)


def test_no_values_no_figures():
    summary = summarise([])
    assert summary.as_dict() == {"median": None, "q1": None, "q3": None, "iqr": None, "n": 0}


@given(st.lists(st.integers(min_value=-10_000, max_value=10_000), min_size=3, max_size=60))
def test_quartiles_match_pythons_exclusive_method_inside_the_range(values):
    """Python's statistics module implements the same definition independently; it
    differs only where (n + 1)p falls outside [1, n], which it extrapolates."""
    n = len(values)
    expected = statistics.quantiles([Fraction(v) for v in values], n=4, method="exclusive")
    for p, want in zip((Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)), expected, strict=True):
        if 1 <= (n + 1) * p < n:
            assert percentile(values, p) == want


@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=40))
def test_quartiles_are_ordered_and_within_the_data(values):
    summary = summarise(values)
    assert min(values) <= summary.q1 <= summary.median <= summary.q3 <= max(values)
    assert summary.median == statistics.median(values)
