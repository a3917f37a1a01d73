"""The calculator and the allocation read the stock in a number of queries that does not
grow with it, and judge each batch's QP signature on the hash the batch keeps of its
record (issue 15: "ask the database for candidate stock in a constant number of
queries"; issue 14: "keep the record's hash at signing and compare in bulk").

The rule stays the one of every step: a batch whose record no longer matches what the QP
signed gives nothing to a patient (`batches.rules.batch_problem`).
"""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from audit.models import AuditEvent
from audit.signatures import content_hash
from audit.verify import verify_chain
from batches.models import Bag, BagEvent, Batch, SpecificationItem
from batches.querysets import attach_decision_signatures
from batches.rules import batch_problem
from batches.services import correct_specification, record_check, release_batch
from dosing import services
from dosing.exceptions import AllocationError
from tests.factories import (
    FacilityFactory,
    HospitalFactory,
    PatientFactory,
    make_release_ready_batch,
    released_batch_with_bags,
)
from tests.factories.shipments import receive_at

pytestmark = pytest.mark.django_db

WEIGHT_KG = Decimal("78")  # 54.6–101.4 ×10⁶ cells: one bag of 60 or 75 ×10⁶ is a dose

# The dose calculation: the patient's doses, the candidate bags (as rows, with their
# batches' columns), their batches' decision signatures, and the proposed batch's record
# rebuilt in full (batch, checks, bags).
PLAN_QUERIES = 8
# The order page: session, user, permissions, patient, weight, eligibility, protocol,
# the calculation, the previous dose, and the notices vigilance registers.
ORDER_PAGE_QUERIES = 20
# Allocating: the dose locked with its hospital's stock, the patient (alive; its doses,
# which give its batch), the candidate bags as rows and their batches' signatures, then
# only the proposal locked — its batch (with its record's relations) and its bags — and
# the batch's checks and bags to rebuild its record (9 reads); the bags' last custody
# steps; then the conditional reservation of the locked bags, their custody events, the
# dose's bags and the dose, each with its audit events in one statement, and the
# savepoint of the test's transaction (20 statements): none of it grows with the stock,
# nor with the number of bags.
ALLOCATE_QUERIES = 20


def stock_of(batches: int):
    for _ in range(batches):
        released_batch_with_bags([75_000_000, 75_000_000, 60_000_000])


@pytest.mark.parametrize("batches", [2, 12])
def test_dose_calculation_reads_the_stock_in_queries_that_do_not_grow_with_it(
    protocol, patient, batches, django_assert_max_num_queries
):
    stock_of(batches)
    with django_assert_max_num_queries(PLAN_QUERIES):
        plan = services.plan_dose(patient, weight_kg=WEIGHT_KG, protocol=protocol)
    assert plan.within_range
    assert plan.total_cells == 75_000_000


@pytest.mark.parametrize("batches", [2, 12])
def test_order_page_shows_the_calculation_in_queries_that_do_not_grow_with_the_stock(
    client, protocol, patient, pharmacist, batches, django_assert_max_num_queries
):
    stock_of(batches)
    client.force_login(pharmacist)
    with django_assert_max_num_queries(ORDER_PAGE_QUERIES):
        page = client.get(f"/pharmacy/patient/{patient.code}/order/")
    assert page.status_code == 200
    assert page.context["plan"].within_range


@pytest.mark.parametrize("batches", [2, 12])
def test_allocation_reads_the_stock_in_queries_that_do_not_grow_with_it(
    protocol, patient, pharmacist, batches, django_assert_max_num_queries
):
    stock_of(batches)
    dose = services.order_dose(patient, actor=pharmacist)
    with django_assert_max_num_queries(ALLOCATE_QUERIES):
        services.allocate_dose(dose, actor=pharmacist)
    dose.refresh_from_db()
    assert dose.status == dose.Status.ALLOCATED
    assert dose.planned_cells == 75_000_000


def test_allocating_two_bags_takes_no_more_queries_than_one(
    protocol, pharmacist, django_assert_max_num_queries
):
    patient = PatientFactory(weight_kg=150)  # 105–195 ×10⁶ cells: two bags
    stock_of(2)
    dose = services.order_dose(patient, actor=pharmacist)
    with django_assert_max_num_queries(ALLOCATE_QUERIES):
        services.allocate_dose(dose, actor=pharmacist)
    bags = [link.bag for link in dose.dose_bags.select_related("bag").order_by("pk")]
    assert len(bags) == 2
    assert all(bag.status == bag.Status.RESERVED for bag in bags)


def test_allocation_writes_its_audit_events_in_order(protocol, pharmacist):
    """One event per bag reserved (in the bags' order), per custody event and per dose
    bag, then the dose's: content and order as when each was written alone."""
    patient = PatientFactory(weight_kg=150)
    stock_of(1)
    dose = services.order_dose(patient, actor=pharmacist)
    first = AuditEvent.objects.order_by("seq").last().seq
    services.allocate_dose(dose, actor=pharmacist)
    links = list(dose.dose_bags.select_related("bag").order_by("bag__division"))
    bags = [link.bag for link in links]
    custody = [BagEvent.objects.filter(bag=bag).order_by("pk").last() for bag in bags]
    events = list(AuditEvent.objects.filter(seq__gt=first).order_by("seq"))
    assert [(e.action, e.object_type, e.object_id) for e in events] == [
        *[("bag_reserved", "batches.bag", str(bag.pk)) for bag in bags],
        *[("create", "batches.bagevent", str(c.pk)) for c in custody],
        *[("create", "dosing.dosebag", str(link.pk)) for link in links],
        ("allocate", "dosing.dose", str(dose.pk)),
    ]
    assert events[0].changes == {"status": ["available", "reserved"]}
    assert {e.reason for e in events} == {f"bags reserved for dose {dose.code}"}
    assert [c.location for c in custody] == [str(bag.location) for bag in bags]
    assert [e.changes["id"] for e in events[2:6]] == [[None, c.pk] for c in custody] + [
        [None, link.pk] for link in links
    ]
    assert verify_chain().intact


# --- the kept hash --------------------------------------------------------------------------


@pytest.fixture
def released(qp_user, password):
    """A batch released through the QP's service, its two bags received at the hospital."""
    batch = make_release_ready_batch(bags=2, expires_on=datetime.date(2099, 1, 1))
    release_batch(batch, actor=qp_user, password=password)
    receive_at(list(batch.bags.all()), HospitalFactory())
    batch.refresh_from_db()
    return batch


def kept_verdict(batch):
    """`batch_problem` as the calculator asks it: on the kept hash, signatures in bulk."""
    fresh = Batch.objects.get(pk=batch.pk)
    attach_decision_signatures([fresh])
    return batch_problem(fresh, timezone.localdate(), kept_hash=True)


def _corrected_after_release(batch, production_user):
    """A check of the released batch corrected (still within its limit): its record no
    longer matches the QP's signature."""
    check = (
        batch.checks.select_related("item")
        .filter(item__kind=SpecificationItem.Kind.MINIMUM)
        .exclude(item__category="viability")
        .first()
    )
    record_check(
        batch,
        check.item,
        actor=production_user,
        tested_on=check.tested_on,
        value=check.result_value + 1,  # still within its limit: only the record changed
        reason="transcription error in the result",
        correcting=check,
    )


def test_the_release_keeps_the_hash_of_the_record_the_qp_signed(released):
    signature = released.decision_signature()
    assert released.record_hash == signature.content_hash
    assert released.record_hash == content_hash(released.signature_content())
    assert kept_verdict(released) is None


def test_a_check_corrected_after_release_blocks_the_batch_in_the_calculator(
    released, protocol, patient, production_user
):
    plan = services.plan_dose(patient, weight_kg=WEIGHT_KG, protocol=protocol)
    assert plan.batch_code == released.code
    signed = released.decision_signature().content_hash
    _corrected_after_release(released, production_user)
    released.refresh_from_db()
    # The kept hash follows the record, and no longer is what the QP signed.
    assert released.record_hash == content_hash(released.signature_content())
    assert released.record_hash != signed
    assert kept_verdict(released) is not None
    plan = services.plan_dose(patient, weight_kg=WEIGHT_KG, protocol=protocol)
    assert not plan.bags


def test_a_released_batch_whose_kept_hash_no_longer_matches_gives_nothing(
    released, protocol, patient, pharmacist, qp_user
):
    """A change that leaves the batch released (its specification version renamed) but
    changes the signed record: the bulk comparison alone refuses it."""
    correct_specification(
        released.specification,
        actor=qp_user,
        reason="the version's code was mistyped",
        code="SPEC-RENAMED",
    )
    released.refresh_from_db()
    assert released.status == Batch.Status.RELEASED
    assert released.record_hash == content_hash(released.signature_content())
    assert "no longer matches the batch record" in kept_verdict(released)
    plan = services.plan_dose(patient, weight_kg=WEIGHT_KG, protocol=protocol)
    assert not plan.bags
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError, match="no longer matches"):
        services.allocate_dose(dose, actor=pharmacist, bags=list(released.bags.all()[:1]))


def test_the_migration_keeps_the_hash_of_batches_decided_before_it(released):
    migration = importlib.import_module("batches.migrations.0009_kept_record_hash")
    Batch._base_manager.filter(pk=released.pk).update(record_hash="")  # as before it
    migration.keep_record_hashes(apps, None)
    released.refresh_from_db()
    assert released.record_hash == released.decision_signature().content_hash


def test_stock_of_a_hospital_is_what_its_positions_hold(protocol):
    """The calculator's stock query reads the column: the bags received at FJD, not those
    still at the facility or received at another hospital."""
    fjd, facility = HospitalFactory(code="FJD"), FacilityFactory()
    released_batch_with_bags([60_000_000] * 2, facility=facility, hospital=fjd)
    released_batch_with_bags([60_000_000] * 2, facility=facility, hospital=None)
    released_batch_with_bags([60_000_000] * 2, facility=facility, hospital=HospitalFactory())
    patient = PatientFactory(hospital=fjd)
    stock = services.candidate_stock(patient, protocol, planned_for=timezone.now())
    at_fjd = [
        bag.code
        for bag in Bag.objects.select_related("location")
        if bag.location and bag.location.hospital_id == fjd.pk
    ]
    assert sorted(b.code for b in stock.bags) == sorted(at_fjd)
    assert len(at_fjd) == 2


def test_a_refused_proposal_gives_way_to_the_next_usable_batch(
    protocol,
    patient,
    pharmacist,
    qp_user,
    password,
    production_user,
    django_assert_max_num_queries,
):
    """The calculator judges the batch it proposes: the first to expire, corrected after
    its release, is left out and the next usable one proposed — by the order page and the
    allocation alike, the rest of the stock judged in one more query, not one per batch."""
    hospital = HospitalFactory()
    batches = []
    for year in (2097, 2098, 2099):
        batch = make_release_ready_batch(bags=2, expires_on=datetime.date(year, 1, 1))
        release_batch(batch, actor=qp_user, password=password)
        receive_at(list(batch.bags.all()), hospital)
        batches.append(batch)
    first, second, third = batches
    _corrected_after_release(first, production_user)
    _corrected_after_release(second, production_user)

    with django_assert_max_num_queries(PLAN_QUERIES + 5):
        plan = services.plan_dose(patient, weight_kg=WEIGHT_KG, protocol=protocol)
    assert plan.batch_code == third.code

    dose = services.order_dose(patient, actor=pharmacist)
    with django_assert_max_num_queries(ALLOCATE_QUERIES + 9):
        dose = services.allocate_dose(dose, actor=pharmacist)
    assert dose.batch_id == third.pk
    assert {link.bag.batch_id for link in dose.dose_bags.select_related("bag")} == {third.pk}
