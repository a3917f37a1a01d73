"""Bags chosen by hand instead of the calculator's proposal need a written reason, which
goes on the trail."""

from decimal import Decimal

import pytest

from dosing import services
from dosing.exceptions import AllocationError
from tests.dosing.flow import last_event

pytestmark = pytest.mark.django_db


def test_bags_chosen_by_hand_other_than_the_proposal_need_a_written_reason(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    proposal = services.plan_dose(patient, weight_kg=Decimal("78"), protocol=protocol)
    other = next(b for b in bags if b.code not in proposal.bag_codes and b.nominal_cells > 6e7)
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError, match="not the calculator's proposal") as refusal:
        services.allocate_dose(dose, actor=pharmacist, bags=[other])
    assert refusal.value.field == "choice_reason"
    services.allocate_dose(
        dose, actor=pharmacist, bags=[other], choice_reason="bag nearest the tank door"
    )
    assert "bag nearest the tank door" in last_event(dose).reason
