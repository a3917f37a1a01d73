"""A recall blocks every step for every bag of the batch at every hospital, through the
one bag-usability rule: each refusal says "recalled" and names the recall."""

import datetime

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from batches.models import Bag, Batch
from batches.rules import batch_problem
from dosing import services as dosing
from dosing.exceptions import AllocationError, InfusionError, PreparationError
from dosing.models import BedsideScan, Dose
from tests.dosing.flow import VITALS, hours

pytestmark = pytest.mark.django_db


def names_the_recall(message, batch):
    return "recalled" in message and f"RC-{batch.code}" in message


def test_the_usability_rule_names_the_recall_its_signer_and_reason(world, recall):
    world.batch.refresh_from_db()
    problem = batch_problem(world.batch, timezone.localdate())
    assert names_the_recall(problem, world.batch)
    assert "Quinn Person" in problem and "sterility test positive" in problem


def test_recall_makes_the_batch_recalled_with_the_qps_signature(world, recall):
    world.batch.refresh_from_db()
    assert world.batch.status == Batch.Status.RECALLED
    assert recall.signature.meaning == "recalled"
    assert recall.signature.comment == "sterility test positive"
    assert AuditEvent.objects.for_object(world.batch).order_by("seq").last().action == "recall"
    assert AuditEvent.objects.for_object(recall).filter(action="recall").exists()


def test_every_available_bag_is_refused_for_allocation_naming_the_recall(
    world, recall, pharmacist
):
    available = list(world.batch.bags.filter(status=Bag.Status.AVAILABLE))
    assert available
    for bag in available:
        with pytest.raises(AllocationError) as refusal:
            dosing.allocate_dose(world.ordered, actor=pharmacist, bags=[bag], choice_reason="test")
        assert names_the_recall(str(refusal.value), world.batch)
    assert Dose.objects.get(pk=world.ordered.pk).status == Dose.Status.ORDERED


def test_thaw_and_refresh_of_an_allocated_dose_are_refused(world, recall, pharmacist):
    now = timezone.now()
    with pytest.raises(PreparationError) as thaw:
        dosing.record_thaw(world.allocated, actor=pharmacist, at=now)
    assert names_the_recall(str(thaw.value), world.batch)
    with pytest.raises(PreparationError) as refresh:
        dosing.record_refresh(
            world.allocated,
            actor=pharmacist,
            thawed_at=now - hours(30),
            seeded_at=now - hours(29),
            harvested_at=now - hours(1),
            viable_cells=80_000_000,
            viability_pct=90,
            volume_ml=50,
            at=now,
        )
    assert names_the_recall(str(refresh.value), world.batch)


def test_dispensing_a_prepared_dose_is_refused(world, recall, pharmacist):
    with pytest.raises(PreparationError) as refusal:
        dosing.dispense_dose(world.prepared, actor=pharmacist)
    assert names_the_recall(str(refusal.value), world.batch)


@pytest.mark.parametrize("which", ["dispensed", "dispensed_hgm"])
def test_every_bag_is_refused_at_the_bedside_and_the_infusion_at_each_hospital(
    world, recall, clinician, which
):
    dose = getattr(world, which)
    codes = [dose.patient.code] + [link.bag.code for link in dose.dose_bags.all()]
    for code in codes:
        scan = dosing.record_bedside_scan(dose, actor=clinician, code=code)
        assert not scan.matched
        assert names_the_recall(scan.refusal, world.batch)
    assert not BedsideScan.objects.filter(
        dose=dose, matched=True, scanned_at__gt=recall.recalled_at
    )
    now = timezone.now()
    with pytest.raises(InfusionError) as refusal:
        dosing.record_infusion(
            dose,
            actor=clinician,
            started_at=now - datetime.timedelta(minutes=20),
            ended_at=now - datetime.timedelta(minutes=1),
            filter_confirmed=True,
            premedication_given="methylprednisolone",
            vitals=VITALS,
        )
    assert names_the_recall(str(refusal.value), world.batch)


def test_doses_not_infused_are_stopped_and_infused_ones_kept(world, recall):
    stopped = {world.dispensed, world.dispensed_hgm, world.prepared, world.allocated}
    for dose in stopped:
        dose.refresh_from_db()
        assert dose.status == Dose.Status.STOPPED
        assert "RC-" in dose.stop_reason
        event = AuditEvent.objects.for_object(dose).order_by("seq").last()
        assert event.action == "stop" and "sterility test positive" in event.reason
    for dose in (world.infused, world.infused_hgm, world.unrelated):
        dose.refresh_from_db()
        assert dose.status == Dose.Status.INFUSED
    assert Dose.objects.get(pk=world.ordered.pk).status == Dose.Status.ORDERED
    assert recall.stopped_doses == 4


def test_recall_refused_with_a_wrong_password_changes_nothing(world, qp_user):
    from audit.signatures import SignatureError
    from vigilance import services

    with pytest.raises(SignatureError):
        services.recall_batch(world.batch, actor=qp_user, password="wrong", reason="x")
    world.batch.refresh_from_db()
    assert world.batch.status == Batch.Status.RELEASED
    assert not Dose.objects.filter(status=Dose.Status.STOPPED).exists()


def test_only_a_qp_may_recall(world, pharmacist, password):
    from audit.signatures import SignatureError
    from vigilance import services

    with pytest.raises(SignatureError, match="Qualified Person"):
        services.recall_batch(world.batch, actor=pharmacist, password=password, reason="x")


def test_a_batch_never_released_cannot_be_recalled(db, qp_user, password):
    from batches.exceptions import ReleaseError
    from tests.factories import released_batch_with_bags
    from vigilance import services

    batch, _ = released_batch_with_bags(status=Batch.Status.QUARANTINE)
    with pytest.raises(ReleaseError, match="only a batch that was released"):
        services.recall_batch(batch, actor=qp_user, password=password, reason="x")


def test_recall_needs_a_reason(world, qp_user, password):
    from batches.exceptions import ReleaseError
    from vigilance import services

    with pytest.raises(ReleaseError, match="reason"):
        services.recall_batch(world.batch, actor=qp_user, password=password, reason="  ")
