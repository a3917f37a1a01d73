"""The dose calculator's guarantees: whole bags, one batch, FEFO, fewest bags, in range."""

import datetime
from decimal import Decimal
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from dosing.calculator import (
    BagOption,
    Course,
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


# --- the course: a batch can supply it when its bags split into enough in-range doses ---

M = 1_000_000
EARLY, LATE = datetime.date(2030, 1, 1), datetime.date(2030, 6, 1)
LAST_DOSE = datetime.date(2029, 12, 10)  # the last possible dose's day: both outlast it


def batch(code, cells, expires=EARLY):
    return [bag(f"{code}{i}", c * M, batch=code, expires=expires) for i, c in enumerate(cells)]


def give_course(stock, doses, weight=Decimal("80")):
    """Plan each dose of a course in turn, as the ward would: the first fixes the batch,
    each takes its bags out of stock, and each asks for the doses still needed."""
    plans, fixed = [], None
    for left in range(doses, 0, -1):
        plan = propose_bags(
            weight_kg=weight,
            dose_range=PAPER,
            bags=stock,
            batch_code=fixed,
            course=Course(doses=left, until=LAST_DOSE),
        )
        plans.append(plan)
        fixed = plan.batch_code
        stock = [b for b in stock if b not in plan.bags]
    return plans


def test_the_earliest_expiring_batch_that_can_supply_the_course_is_chosen():
    """80 kg: 56–104 ×10⁶. A expires first and gives 60 | 50+54 | 50+54; B (75, 75, 75)
    expires later. Taking the least-waste dose again and again (60, then 50+50, then
    54+54 over the maximum) judged A short and chose B."""
    stock = batch("A", [50, 50, 54, 54, 60]) + batch("B", [75, 75, 75], expires=LATE)
    plans = give_course(stock, doses=3)
    assert [p.batch_code for p in plans] == ["A", "A", "A"]
    assert [sorted(b.cells // M for b in p.bags) for p in plans] == [[60], [50, 54], [50, 54]]
    assert all(p.within_range and not p.warning for p in plans)
    assert plans[0].doses_possible == 3


def test_the_first_dose_never_spoils_the_course_nor_warns_falsely():
    """50, 50, 54, 54 gives 50+54 | 50+54. The least-waste 50+50 (100, nearer the 80
    target than 104) would leave 54+54 = 108, over the maximum: the calculator proposed it
    and warned that the batch gives 1 of the 2 doses."""
    plans = give_course(batch("A", [50, 50, 54, 54]), doses=2)
    assert [sorted(b.cells // M for b in p.bags) for p in plans] == [[50, 54], [50, 54]]
    assert all(p.within_range and not p.warning for p in plans)


def test_a_later_batch_that_can_supply_the_course_comes_before_any_fallback():
    """A (one bag) expires first and is short; B can supply all 3 doses but was judged
    short too, so the fallback proposed A with a warning."""
    stock = batch("A", [75]) + batch("B", [50, 50, 54, 54, 60], expires=LATE)
    plan = propose_bags(
        weight_kg=Decimal("80"), dose_range=PAPER, bags=stock, course=Course(3, LAST_DOSE)
    )
    assert plan.batch_code == "B" and plan.bag_codes == ["B4"] and not plan.warning


def test_when_no_batch_can_supply_the_course_the_earliest_is_proposed_naming_its_doses():
    stock = batch("A", [75]) + batch("B", [50, 50, 54], expires=LATE)
    plan = propose_bags(
        weight_kg=Decimal("80"), dose_range=PAPER, bags=stock, course=Course(3, LAST_DOSE)
    )
    assert plan.batch_code == "A" and plan.doses_possible == 1
    assert "give 1 of the 3 doses" in plan.warning


def test_a_batch_expiring_before_the_last_dose_gives_this_dose_but_not_the_course():
    stock = batch("A", [75, 75, 75]) + batch("B", [75, 75, 75], expires=LATE)
    course = Course(3, until=datetime.date(2030, 3, 1))
    plan = propose_bags(weight_kg=Decimal("80"), dose_range=PAPER, bags=stock, course=course)
    assert plan.batch_code == "B" and not plan.warning
    plan = propose_bags(weight_kg=Decimal("80"), dose_range=PAPER, bags=stock[:3], course=course)
    assert plan.batch_code == "A"
    assert "give 3 of the 3 doses, but it expires on 2030-01-01" in plan.warning


def test_the_fixed_batch_keeps_the_rest_of_the_course_and_warns_when_it_cannot():
    stock = batch("A", [50, 50, 54, 54]) + batch("B", [75, 75, 75])
    kwargs = {"weight_kg": Decimal("80"), "dose_range": PAPER, "batch_code": "A"}
    plan = propose_bags(bags=stock, course=Course(2, LAST_DOSE), **kwargs)
    assert sorted(b.cells // M for b in plan.bags) == [50, 54] and not plan.warning
    plan = propose_bags(bags=stock, course=Course(3, LAST_DOSE), **kwargs)
    assert plan.batch_code == "A" and "Batch A" in plan.warning
    assert "give 2 of the 3 doses" in plan.warning


def test_more_bags_when_every_dose_of_the_fewest_would_spoil_the_course():
    """100 kg at 1.0–1.2 ×10⁶/kg: 100–120 ×10⁶. The only two-bag dose, 55+60, would leave
    15+15+30+35 = 95; three bags each give 60+35+15 | 55+30+15."""
    narrow = DoseRange(1_100_000, 1_000_000, 1_200_000)
    stock = batch("A", [15, 15, 30, 35, 55, 60])
    plan = propose_bags(
        weight_kg=Decimal("100"), dose_range=narrow, bags=stock, course=Course(2, LAST_DOSE)
    )
    assert sorted(b.cells // M for b in plan.bags) == [15, 35, 60] and not plan.warning


def test_equal_expiries_go_to_the_least_waste_dose_then_the_batch_code():
    stock = batch("Z", [75]) + batch("Y", [80]) + batch("X", [80])
    plan = propose_bags(weight_kg=Decimal("80"), dose_range=PAPER, bags=stock)
    assert plan.batch_code == "X"


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
    # FEFO: the earliest expiry among the batches that can give a dose in range (between
    # equal expiries, least waste then code: see test_calculator_properties.py).
    assert plan.bags[0].expires_on == min(e for e, code in batches if code in feasible)
    # Least waste: no in-range combination of that batch uses fewer bags.
    assert len(plan.bags) == min(feasible_sizes(plan.batch_code))


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
