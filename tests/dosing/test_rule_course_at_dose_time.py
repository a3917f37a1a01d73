"""The calculator is asked about the course the patient still needs, at the time the dose
will be given: expiry is judged on the dose's day, and later doses keep the rest of the
course possible."""

import datetime

import pytest
from django.utils import timezone

from dosing import services
from dosing.exceptions import AllocationError
from tests.dosing.flow import hours, infuse
from tests.factories import PatientFactory, released_batch_with_bags


@pytest.fixture
def patient80(db):
    return PatientFactory(weight_kg=80)  # range 56–104 ×10⁶ cells at 0.7–1.3 ×10⁶/kg


def test_batch_expiring_before_the_planned_dose_is_not_proposed(protocol, patient80):
    now = timezone.now()
    released_batch_with_bags(
        [75_000_000] * 3, expires_on=timezone.localdate(now) + datetime.timedelta(days=1)
    )
    plan = services.plan_dose(
        patient80,
        weight_kg=patient80.current_weight().weight_kg,
        protocol=protocol,
        planned_for=now + datetime.timedelta(days=3),
    )
    assert plan.bags == ()


def test_dose_planned_after_its_batch_expires_cannot_be_allocated(
    protocol, patient80, pharmacist, system_context
):
    now = timezone.now()
    released_batch_with_bags(
        [75_000_000] * 3, expires_on=timezone.localdate(now) + datetime.timedelta(days=1)
    )
    # Dose 1 three days ahead needs a protocol that accepts a 3-day-old assessment.
    protocol.assessment_max_age_days = 3
    protocol.save()
    dose = services.order_dose(
        patient80, actor=pharmacist, planned_for=now + datetime.timedelta(days=3), at=now
    )
    with pytest.raises(AllocationError, match="No released batch in stock"):
        services.allocate_dose(dose, actor=pharmacist, at=now)


def test_first_dose_prefers_the_earlier_batch_that_can_supply_the_course(protocol, patient80):
    # The smallest case: A expires first with 50, 50, 54, 54, 60 — it gives
    # 60 | 50+54 | 50+54; B, later, gives 75 | 75 | 75.
    earlier, _ = released_batch_with_bags(
        [50_000_000, 50_000_000, 54_000_000, 54_000_000, 60_000_000],
        expires_on=datetime.date(2098, 1, 1),
    )
    released_batch_with_bags([75_000_000] * 3, expires_on=datetime.date(2099, 1, 1))
    plan = services.plan_dose(patient80, weight_kg=80, protocol=protocol)
    assert plan.batch_code == earlier.code
    assert plan.total_cells == 60_000_000
    assert plan.warning == ""


def test_second_dose_keeps_the_third_possible_from_the_patients_batch(
    protocol, patient80, pharmacist, clinician
):
    # One batch of 50, 50, 54, 54, 60 and the first dose took 60: the second must be
    # 50+54 (leaving 50+54), never 50+50 (which would leave 54+54, over the maximum).
    batch, _ = released_batch_with_bags(
        [50_000_000, 50_000_000, 54_000_000, 54_000_000, 60_000_000]
    )
    start = timezone.now() - hours(60)
    first = services.order_dose(
        patient80, actor=pharmacist, planned_for=start, at=start - hours(1)
    )
    services.allocate_dose(first, actor=pharmacist, at=start - hours(1))
    services.record_thaw(
        first, actor=pharmacist, thawed_at=start - hours(0.2), at=start - hours(0.2)
    )
    services.dispense_dose(first, actor=pharmacist, at=start - hours(0.1))
    infuse(first, clinician, start)

    plan = services.plan_dose(patient80, weight_kg=80, protocol=protocol)

    assert sorted(b.cells for b in plan.bags) == [50_000_000, 54_000_000]
    assert plan.warning == ""


def test_later_dose_warns_when_the_patients_batch_cannot_supply_the_rest(
    protocol, patient80, pharmacist, clinician
):
    released_batch_with_bags([75_000_000, 75_000_000])
    start = timezone.now() - hours(60)
    first = services.order_dose(
        patient80, actor=pharmacist, planned_for=start, at=start - hours(1)
    )
    services.allocate_dose(first, actor=pharmacist, at=start - hours(1))
    services.record_thaw(
        first, actor=pharmacist, thawed_at=start - hours(0.2), at=start - hours(0.2)
    )
    services.dispense_dose(first, actor=pharmacist, at=start - hours(0.1))
    infuse(first, clinician, start)

    plan = services.plan_dose(patient80, weight_kg=80, protocol=protocol)

    assert plan.total_cells == 75_000_000
    assert "cannot supply" in plan.warning
    assert "1 of the 2" in plan.warning
