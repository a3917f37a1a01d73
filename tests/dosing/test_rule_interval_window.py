"""A dose is given only inside the interval window after the previous real infusion.

The window (48 to 96 h after the previous dose's infusion started) is a gate at thaw,
refresh and infusion, checked against the times really recorded, not only against the
time typed on the order; the order page shows it and prefills no time outside it.
"""

from decimal import Decimal

import pytest
from django.utils import timezone

from core.formatting import fmt_time
from dosing import services
from dosing.exceptions import InfusionError, PreparationError
from dosing.models import Dose
from tests.dosing.flow import MINUTES, hours, infuse, infused_thawed

pytestmark = pytest.mark.django_db


def second_dose(patient, pharmacist, clinician, *, first_at, order_at, planned_for=None):
    """Dose 1 infused at first_at + 20 min; dose 2 ordered at order_at (allocated)."""
    infused_thawed(patient, pharmacist, clinician, at=first_at)
    dose = services.order_dose(
        patient, actor=pharmacist, planned_for=planned_for or order_at, at=order_at
    )
    return services.allocate_dose(dose, actor=pharmacist, at=order_at)


def test_infusion_refused_before_the_window_opens_after_the_previous_real_infusion(
    protocol, patient, stock, pharmacist, clinician
):
    """The order's planned time was inside the window; the thaw could still be infused
    in time; the real start, 10 min before the window opens, is refused."""
    first_at = timezone.now() - hours(49)
    opens = first_at + 20 * MINUTES + hours(48)
    dose = second_dose(
        patient,
        pharmacist,
        clinician,
        first_at=first_at,
        order_at=opens - hours(1),
        planned_for=opens + hours(1),
    )
    services.record_thaw(dose, actor=pharmacist, at=opens - 30 * MINUTES)
    services.dispense_dose(dose, actor=pharmacist, at=opens - 25 * MINUTES)
    with pytest.raises(InfusionError, match="outside the interval window") as refusal:
        infuse(dose, clinician, opens - 10 * MINUTES)
    assert refusal.value.field == "started_at"
    assert fmt_time(opens) in str(refusal.value)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.DISPENSED


def test_infusion_refused_after_the_window_closes(protocol, patient, stock, pharmacist, clinician):
    first_at = timezone.now() - hours(100)
    closes = first_at + 20 * MINUTES + hours(96)
    dose = second_dose(
        patient, pharmacist, clinician, first_at=first_at, order_at=closes - hours(2)
    )
    services.record_thaw(dose, actor=pharmacist, at=closes - 30 * MINUTES)
    services.dispense_dose(dose, actor=pharmacist, at=closes - 25 * MINUTES)
    with pytest.raises(InfusionError, match="outside the interval window"):
        infuse(dose, clinician, closes + 10 * MINUTES)


def test_infusion_inside_the_window_is_recorded(protocol, patient, stock, pharmacist, clinician):
    first_at = timezone.now() - hours(50)
    opens = first_at + 20 * MINUTES + hours(48)
    dose = second_dose(patient, pharmacist, clinician, first_at=first_at, order_at=opens)
    services.record_thaw(dose, actor=pharmacist, at=opens + 5 * MINUTES)
    services.dispense_dose(dose, actor=pharmacist, at=opens + 10 * MINUTES)
    infuse(dose, clinician, opens + 15 * MINUTES)
    dose.refresh_from_db()
    assert dose.status == Dose.Status.INFUSED


def test_thaw_refused_when_the_product_could_only_be_infused_before_the_window(
    protocol, patient, stock, pharmacist, clinician
):
    """Dose 2 ordered for inside the window but thawed 12 h after dose 1: a thawed
    product is infused within 60 min, so it can never be in time."""
    first_at = timezone.now() - hours(12)
    infused_thawed(patient, pharmacist, clinician, at=first_at)
    start = Dose.objects.get(number=1).infusion.started_at
    now = timezone.now()
    dose = services.order_dose(patient, actor=pharmacist, planned_for=start + hours(50), at=now)
    services.allocate_dose(dose, actor=pharmacist, at=now)
    with pytest.raises(PreparationError, match="outside the interval window") as refusal:
        services.record_thaw(dose, actor=pharmacist, at=now)
    message = str(refusal.value)
    assert fmt_time(start + hours(48)) in message
    assert fmt_time(start + hours(96)) in message
    dose.refresh_from_db()
    assert dose.status == Dose.Status.ALLOCATED


def test_refresh_refused_when_the_harvest_limit_ends_before_the_window_opens(
    protocol, patient, stock, pharmacist, clinician
):
    first_at = timezone.now() - hours(12)
    infused_thawed(patient, pharmacist, clinician, at=first_at)
    start = Dose.objects.get(number=1).infusion.started_at
    now = timezone.now()
    dose = services.order_dose(patient, actor=pharmacist, planned_for=start + hours(50), at=now)
    services.allocate_dose(dose, actor=pharmacist, at=now)
    # Harvested 11 h after dose 1: the 24 h harvest limit ends 35 h after it (< 48 h).
    with pytest.raises(PreparationError, match="outside the interval window"):
        services.record_refresh(
            dose,
            actor=pharmacist,
            thawed_at=start - hours(1),
            seeded_at=start - hours(1) + 30 * MINUTES,
            harvested_at=start + hours(11),
            viable_cells=78_000_000,
            viability_pct=Decimal("92.0"),
            volume_ml=Decimal("50.0"),
            at=now,
        )


def test_order_page_shows_the_window_and_prefills_no_time_outside_it(
    client, protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(12))
    start = Dose.objects.get(number=1).infusion.started_at
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    html = page.content.decode()
    assert page.context["form"]["planned_for"].value() is None
    assert fmt_time(start + hours(48)) in html
    assert fmt_time(start + hours(96)) in html


def test_order_page_prefills_now_when_now_is_inside_the_window(
    client, protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(50))
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    prefilled = page.context["form"]["planned_for"].value()
    assert prefilled == timezone.localtime().strftime("%Y-%m-%d %H:%M")
