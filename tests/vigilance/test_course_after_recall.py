"""A patient part-way through a course continues from another batch only with a named
physician's override and a reason, audited; one whose dose was stopped before any
infusion simply starts again."""

import pytest

from dosing import services as dosing
from dosing.exceptions import AllocationError
from dosing.models import Dose
from dosing.services import patient_batch
from tests.dosing.flow import last_event

pytestmark = pytest.mark.django_db


def test_mid_course_dose_refused_without_the_override_naming_the_recall(world, recall, pharmacist):
    dose2 = dosing.order_dose(world.infused.patient, actor=pharmacist)
    with pytest.raises(AllocationError) as refusal:
        dosing.allocate_dose(dose2, actor=pharmacist)
    message = str(refusal.value)
    assert "recalled" in message and f"RC-{world.batch.code}" in message
    assert "name the physician" in message
    assert refusal.value.field == "batch_override_physician"
    dose2.refresh_from_db()
    assert dose2.status == Dose.Status.ORDERED and dose2.batch is None


def test_a_physician_alone_without_a_reason_is_refused(world, recall, pharmacist):
    dose2 = dosing.order_dose(world.infused.patient, actor=pharmacist)
    with pytest.raises(AllocationError) as refusal:
        dosing.allocate_dose(dose2, actor=pharmacist, batch_override_physician="Dr. Code H12")
    assert refusal.value.field == "batch_override_reason"


def test_mid_course_dose_continues_from_another_batch_with_the_override_audited(
    world, recall, pharmacist
):
    patient = world.infused.patient
    dose2 = dosing.order_dose(patient, actor=pharmacist)
    dose2 = dosing.allocate_dose(
        dose2,
        actor=pharmacist,
        batch_override_physician="Dr. Code H12",
        batch_override_reason="batch recalled mid-course; clinical need for dose 2",
    )
    assert dose2.batch == world.other
    assert dose2.batch_override_physician == "Dr. Code H12"
    event = last_event(dose2)
    assert event.action == "override_batch_allocate"
    assert "Dr. Code H12" in event.reason and "clinical need for dose 2" in event.reason
    assert world.batch.code in event.reason
    # The override fixes the new batch for the rest of the course.
    assert patient_batch(patient) == world.other


def test_the_override_is_refused_where_the_batch_was_not_recalled(world, pharmacist):
    dose2 = dosing.order_dose(world.infused.patient, actor=pharmacist)
    with pytest.raises(AllocationError, match="only for a course whose batch was recalled"):
        dosing.allocate_dose(
            dose2, actor=pharmacist, batch_override_physician="Dr. X", batch_override_reason="y"
        )


def test_a_patient_whose_only_dose_was_stopped_starts_again_without_override(
    world, recall, pharmacist
):
    patient = world.dispensed.patient
    again = dosing.order_dose(patient, actor=pharmacist)
    assert again.number == 1
    again = dosing.allocate_dose(again, actor=pharmacist)
    assert again.batch == world.other and not again.batch_override_physician


def test_allocate_page_asks_for_the_override_then_reserves_from_another_batch(
    client, world, recall, pharmacist
):
    dose2 = dosing.order_dose(world.infused.patient, actor=pharmacist)
    client.force_login(pharmacist)
    url = f"/pharmacy/dose/{dose2.pk}/allocate/"
    page = client.get(url)
    content = page.content.decode()
    assert f"Batch {world.batch.code} of this course was recalled" in content
    plan = page.context["plan"]
    assert plan.batch_code == world.other.code
    bags = ",".join(plan.bag_codes)
    refused = client.post(url, {"bags": bags})
    assert refused.status_code == 200
    assert "batch_override_physician" in refused.context["form"].errors
    done = client.post(
        url,
        {
            "bags": bags,
            "batch_override_physician": "Dr. Code H12",
            "batch_override_reason": "dose 2 needed",
        },
    )
    assert done.status_code == 302
    dose2.refresh_from_db()
    assert dose2.batch == world.other and dose2.batch_override_physician == "Dr. Code H12"
