"""A patient's course comes from one batch, so the first dose's batch must be able to
supply it.

Dose 1 is taken from a batch with enough bags, left until expiry, for the whole course
when there is one; a batch short of the course is proposed only with a warning; and
when the patient's batch has run out, the refusal says so and what to do.
"""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from dosing import services
from dosing.exceptions import AllocationError
from dosing.models import Dose
from tests.dosing.flow import MINUTES, hours, infuse, infused_thawed
from tests.factories import ProtocolFactory, released_batch_with_bags

pytestmark = pytest.mark.django_db


def test_first_dose_batch_is_one_that_can_supply_the_whole_course(patient, pharmacist, clinician):
    """Not simply the batch that expires first (FEFO): that one has a single bag, and a
    dose 1 from it would leave no possible dose 2."""
    ProtocolFactory()
    released_batch_with_bags([75_000_000], expires_on=datetime.date(2090, 1, 1))
    whole, _ = released_batch_with_bags([75_000_000] * 4, expires_on=datetime.date(2099, 1, 1))
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(72))
    assert Dose.objects.get(number=1).batch == whole
    dose2 = services.order_dose(patient, actor=pharmacist)
    assert services.allocate_dose(dose2, actor=pharmacist).batch == whole


def test_first_dose_prefers_a_batch_that_outlasts_the_course(protocol, patient):
    released_batch_with_bags([75_000_000] * 3, expires_on=timezone.localdate())
    lasting, _ = released_batch_with_bags([75_000_000] * 3, expires_on=datetime.date(2099, 1, 1))
    plan = services.plan_dose(patient, weight_kg=Decimal("78"), protocol=protocol)
    assert plan.batch_code == lasting.code and not plan.warning


def test_first_dose_from_a_batch_short_of_the_course_is_proposed_with_a_warning(
    client, protocol, patient, pharmacist
):
    short, _ = released_batch_with_bags([75_000_000])
    client.force_login(pharmacist)
    page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    plan = page.context["plan"]
    assert plan.batch_code == short.code
    assert "give 1 of the 3 doses" in plan.warning
    assert "a later dose may not be possible" in page.content.decode()


def test_later_dose_refused_when_the_patients_batch_has_run_out_naming_it_and_what_to_do(
    patient, pharmacist, clinician
):
    ProtocolFactory()
    first, _ = released_batch_with_bags([75_000_000])
    released_batch_with_bags([75_000_000] * 2, expires_on=datetime.date(2099, 1, 2))
    dose1 = services.order_dose(patient, actor=pharmacist, at=timezone.now() - hours(72))
    services.allocate_dose(
        dose1,
        actor=pharmacist,
        bags=list(first.bags.all()),
        choice_reason="test: the single-bag batch",
        at=timezone.now() - hours(72),
    )
    services.record_thaw(dose1, actor=pharmacist, at=timezone.now() - hours(72) + 5 * MINUTES)
    services.dispense_dose(dose1, actor=pharmacist, at=timezone.now() - hours(72) + 6 * MINUTES)
    infuse(dose1, clinician, timezone.now() - hours(72) + 10 * MINUTES)
    dose2 = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError) as refusal:
        services.allocate_dose(dose2, actor=pharmacist)
    message = str(refusal.value)
    assert f"come from batch {first.code}" in message
    assert "Bags of another batch cannot be used" in message
