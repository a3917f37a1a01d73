"""The dose calculator's guarantees: whole bags, one batch, FEFO, fewest bags, in range."""

import datetime
from decimal import Decimal
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from dosing.calculator import (
    BagOption,
    DoseRange,
    cells_range,
    propose_bags,
    required_cells,
)

PAPER = DoseRange(
    target_cells_per_kg=1_000_000, min_cells_per_kg=700_000, max_cells_per_kg=1_300_000
)


def bag(code, cells, batch="B1", expires=datetime.date(2030, 1, 1), volume="20.0"):
    return BagOption(
        code=code, batch_code=batch, expires_on=expires, cells=cells, volume_ml=Decimal(volume)
    )


def test_required_cells_is_weight_times_target():
    assert required_cells(Decimal("78.0"), 1_000_000) == 78_000_000
    assert required_cells(Decimal("72.5"), 1_000_000) == 72_500_000


def test_78_kg_patient_gets_one_whole_bag_of_75_million():
    plan = propose_bags(
        weight_kg=Decimal("78"),
        dose_range=PAPER,
        bags=[bag("A", 75_000_000), bag("B", 60_000_000), bag("C", 50_000_000)],
    )
    assert plan.required_cells == 78_000_000
    assert plan.bag_codes == ["A"]
    assert plan.total_cells == 75_000_000
    assert plan.total_volume_ml == Decimal("20.0")
    assert plan.delivered_cells_per_kg == 961_538
    assert plan.within_range


def test_fewest_bags_then_closest_to_target():
    # 120 kg: 84–156 ×10⁶. One bag cannot reach 84; of two-bag totals the closest to 120.
    bags = [bag("A", 75_000_000), bag("B", 70_000_000), bag("C", 50_000_000)]
    plan = propose_bags(weight_kg=Decimal("120"), dose_range=PAPER, bags=bags)
    assert plan.bag_codes == ["B", "C"]
    assert plan.total_cells == 120_000_000


def test_first_expiring_batch_is_used_when_it_can_give_a_dose():
    late = bag("L1", 70_000_000, batch="LATE", expires=datetime.date(2031, 1, 1))
    early = bag("E1", 55_000_000, batch="EARLY", expires=datetime.date(2030, 1, 1))
    plan = propose_bags(weight_kg=Decimal("70"), dose_range=PAPER, bags=[late, early])
    assert plan.batch_code == "EARLY"


def test_fixed_batch_restricts_the_proposal_even_if_another_expires_first():
    early = bag("E1", 70_000_000, batch="EARLY", expires=datetime.date(2030, 1, 1))
    mine = bag("M1", 70_000_000, batch="MINE", expires=datetime.date(2031, 1, 1))
    plan = propose_bags(
        weight_kg=Decimal("70"), dose_range=PAPER, bags=[early, mine], batch_code="MINE"
    )
    assert plan.bag_codes == ["M1"]


def test_no_proposal_when_no_combination_is_within_range():
    # 40 kg: 28–52 ×10⁶; a 60 ×10⁶ bag would be 1.5 ×10⁶/kg.
    plan = propose_bags(weight_kg=Decimal("40"), dose_range=PAPER, bags=[bag("A", 60_000_000)])
    assert plan.bags == ()
    assert not plan.within_range


bag_cells = st.integers(min_value=50_000_000, max_value=75_000_000)


@st.composite
def stocks(draw):
    n_batches = draw(st.integers(min_value=1, max_value=3))
    options = []
    for b in range(n_batches):
        expires = datetime.date(2030, 1, 1) + datetime.timedelta(days=draw(st.integers(0, 400)))
        for i, cells in enumerate(draw(st.lists(bag_cells, min_size=0, max_size=6))):
            options.append(bag(f"B{b}-{i:02d}", cells, batch=f"B{b}", expires=expires))
    return options


weights = st.decimals(min_value=Decimal("40"), max_value=Decimal("160"), places=1)


@settings(max_examples=200, deadline=None)
@given(stock=stocks(), weight=weights)
def test_proposal_is_whole_bags_of_one_batch_within_range(stock, weight):
    plan = propose_bags(weight_kg=weight, dose_range=PAPER, bags=stock)
    low, high = cells_range(weight, PAPER)
    if plan.bags:
        assert len({b.batch_code for b in plan.bags}) == 1
        assert len({b.code for b in plan.bags}) == len(plan.bags)
        assert set(plan.bags) <= set(stock)
        assert low <= plan.total_cells <= high, "never under the minimum, never over the maximum"
        assert plan.within_range


@settings(max_examples=200, deadline=None)
@given(stock=stocks(), weight=weights)
def test_proposal_uses_the_fewest_bags_and_first_expiry_first_out(stock, weight):
    plan = propose_bags(weight_kg=weight, dose_range=PAPER, bags=stock)
    low, high = cells_range(weight, PAPER)

    def feasible_sizes(batch_code):
        bags = [b for b in stock if b.batch_code == batch_code]
        return [
            n
            for n in range(1, len(bags) + 1)
            if any(low <= sum(b.cells for b in c) <= high for c in combinations(bags, n))
        ]

    batches = sorted({(b.expires_on, b.batch_code) for b in stock})
    feasible = [code for _, code in batches if feasible_sizes(code)]
    if not feasible:
        assert plan.bags == ()
        return
    # FEFO: the earliest-expiring batch that can give a dose in range.
    assert plan.batch_code == feasible[0]
    # Least waste: no in-range combination of that batch uses fewer bags.
    assert len(plan.bags) == min(feasible_sizes(feasible[0]))


@settings(max_examples=100, deadline=None)
@given(stock=stocks(), weight=weights)
def test_proposal_is_closest_to_target_among_the_fewest_bags(stock, weight):
    plan = propose_bags(weight_kg=weight, dose_range=PAPER, bags=stock)
    if not plan.bags:
        return
    low, high = cells_range(weight, PAPER)
    same_batch = [b for b in stock if b.batch_code == plan.batch_code]
    best = min(
        abs(sum(b.cells for b in c) - plan.required_cells)
        for c in combinations(same_batch, len(plan.bags))
        if low <= sum(b.cells for b in c) <= high
    )
    assert abs(plan.total_cells - plan.required_cells) == best
