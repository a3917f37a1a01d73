"""A physician's override covers only the total it approved.

An override of the dose range recorded at allocation approves one number of cells; a
refreshed product with another viable count is out of range again and needs an override
of its own, audited as such.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from dosing import services
from dosing.exceptions import AllocationError
from dosing.models import Dose
from tests.dosing.flow import hours, last_event

pytestmark = pytest.mark.django_db


def allocated_with_override(patient, pharmacist, bags, at):
    dose = services.order_dose(patient, actor=pharmacist, at=at)
    return services.allocate_dose(
        dose,
        actor=pharmacist,
        bags=bags[:2],
        at=at,
        override_physician="Dr. Ruiz (ICU)",
        override_reason="fluid-restricted, high dose wanted",
    )


def refresh(dose, pharmacist, now, viable, **override):
    return services.record_refresh(
        dose,
        actor=pharmacist,
        thawed_at=now - hours(49),
        seeded_at=now - hours(48),
        harvested_at=now - hours(1),
        viable_cells=viable,
        viability_pct=Decimal("40.0"),
        volume_ml=Decimal("50.0"),
        at=now,
        **override,
    )


def test_allocation_override_does_not_cover_a_different_refreshed_viable_count(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    now = timezone.now()
    dose = allocated_with_override(patient, pharmacist, bags, now - hours(50))
    assert dose.override_cells == 150_000_000
    with pytest.raises(AllocationError, match="approved 150.00×10⁶ cells, not this total"):
        refresh(dose, pharmacist, now, 10_000_000)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ALLOCATED


def test_refreshed_count_out_of_range_takes_a_fresh_override_audited_as_override_prepare(
    protocol, patient, stock, pharmacist
):
    _, bags = stock
    now = timezone.now()
    dose = allocated_with_override(patient, pharmacist, bags, now - hours(50))
    refresh(
        dose,
        pharmacist,
        now,
        10_000_000,
        override_physician="Dr. Gómez (ICU)",
        override_reason="low yield after refresh; give what there is",
    )
    dose.refresh_from_db()
    assert dose.override_physician == "Dr. Gómez (ICU)"
    assert dose.override_cells == 10_000_000
    event = last_event(dose)
    assert event.action == "override_prepare"
    assert event.reason == "low yield after refresh; give what there is"
