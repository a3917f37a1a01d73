"""The benchmark's synthetic network (`benchmarks.network`): one unit, built in the test
database, is as valid as the demo it copies."""

import datetime

import pytest
from django.utils import timezone

from audit.signatures import signature_matches
from audit.verify import verify_chain
from audit.verify.reconcile import reconcile
from batches.models import Bag, Batch, Donor
from benchmarks import network
from dosing.models import Dose
from patients.models import Patient

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_scale_sets_the_number_of_units():
    assert network.units_for(1) == 400
    assert network.units_for(0.01) == 4
    assert network.units_for(0.0001) == 1


def test_a_network_of_one_unit_is_as_valid_as_the_demo(settings):
    """One build (the demo, then one copy of it), every property checked on it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    built = network.build_network(0.001, log=lambda text: None)
    _counts_scale(built)
    _every_released_batch_carries_a_matching_qp_signature()
    _the_chain_verifies_and_every_row_reconciles()
    _dates_follow_each_other_and_none_is_in_the_future()
    _each_hospital_holds_received_stock_for_the_calculator()


def _counts_scale(built):
    assert Donor.objects.filter(code__contains="-00000").count() == 5
    # The demo: 5 donors, 7 batches (6 decided), 74 bags (66 of decided batches),
    # 13 patients, 25 doses.
    assert built["donors"] == 5 * 2
    assert built["batches"] == 7 + 6 + network.FILLER_BATCHES
    bags = 74 + 66 * (network.COPIES + 1) + network.FILLER_BATCHES * network.FILLER_BAGS
    assert built["bags"] == bags
    assert built["patients"] == 13 * (1 + network.COPIES)
    assert built["doses"] == 25 * (1 + network.COPIES)


def _every_released_batch_carries_a_matching_qp_signature():
    released = Batch.objects.filter(status=Batch.Status.RELEASED)
    assert released.count() == 5 * 2 + network.FILLER_BATCHES
    for batch in released:
        signature = batch.decision_signature()
        assert signature is not None, batch.code
        assert signature_matches(signature, batch.signature_content()), batch.code


def _the_chain_verifies_and_every_row_reconciles():
    assert verify_chain().intact
    result = reconcile()
    assert result.clean, [f.describe() for f in result.findings[:5]]


def _dates_follow_each_other_and_none_is_in_the_future():
    now = timezone.now()
    for batch in Batch.objects.filter(status=Batch.Status.RELEASED).select_related("procurement"):
        signed = batch.decision_signature().signed_at
        assert batch.procurement.procured_on < batch.cryopreserved_on < signed.date(), batch
        assert signed < now
    for bag in Bag.objects.exclude(status=Bag.Status.QUARANTINE).prefetch_related("events"):
        times = [e.occurred_at for e in sorted(bag.events.all(), key=lambda e: e.pk)]
        assert times == sorted(times), bag.code
        assert times[-1] < now
    for dose in Dose.objects.filter(status="infused").select_related("infusion"):
        assert dose.ordered_at <= dose.allocated_at <= dose.dispensed_at, dose.code
        assert dose.dispensed_at <= dose.infusion.started_at < now, dose.code
        for link in dose.dose_bags.select_related("bag"):
            received = link.bag.shipment_items.get().shipment.received_at
            assert received <= dose.allocated_at, dose.code


def _each_hospital_holds_received_stock_for_the_calculator():
    stock = Bag.objects.filter(
        status=Bag.Status.AVAILABLE,
        location__hospital__isnull=False,
        batch__status=Batch.Status.RELEASED,
    )
    hospitals = set(stock.values_list("location__hospital__code", flat=True))
    assert hospitals == set(Patient.objects.values_list("hospital__code", flat=True))
    assert all(bag.shipment_items.get().shipment.status == "received" for bag in stock[:20])
    assert datetime.date.today() < min(
        b.expires_on for b in Batch.objects.filter(status="released")
    )
