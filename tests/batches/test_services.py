"""Production services: checks, bags, submission, the QP's signed release and rejection."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import audit_context
from audit.models import AuditEvent, Signature
from audit.signatures import SignatureError, content_hash, signature_matches
from batches.exceptions import BagCreationError, BatchError, ReleaseError
from batches.models import Bag, BagEvent, Batch, SerologyResult
from batches.services import (
    correct_batch,
    create_bags,
    record_check,
    reject_batch,
    release_batch,
    submit_for_release,
)
from tests.factories import (
    BatchFactory,
    ProcurementFactory,
    SerologyResultFactory,
    SpecificationItemFactory,
    make_release_ready_batch,
)

pytestmark = pytest.mark.django_db


def events_for(obj, action=None):
    qs = AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
    return qs.filter(action=action) if action else qs


def refused_release(batch, qp_user, password):
    with pytest.raises(ReleaseError) as error:
        release_batch(batch, actor=qp_user, password=password)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    assert not Signature.objects.exists()
    return error.value.messages


# Release ------------------------------------------------------------------------------


def test_qp_releases_a_passing_batch_with_a_signature_bound_to_its_content(qp_user, password):
    batch = make_release_ready_batch(bags=3)
    released = release_batch(batch, actor=qp_user, password=password, comment="all in spec")

    released.refresh_from_db()
    assert released.status == Batch.Status.RELEASED
    signature = released.decision_signature()
    assert signature.meaning == "released"
    assert signature.printed_name == "Quinn Person"
    assert signature.signer == qp_user
    assert signature.comment == "all in spec"
    assert signature_matches(signature, released.signature_content())
    release_event = events_for(released, "release").get()
    assert release_event.actor == qp_user
    assert release_event.changes["status"] == ["quarantine", "released"]
    sign_event = events_for(released, "sign").get()
    assert sign_event.changes["content_hash"][1] == signature.content_hash
    assert set(released.bags.values_list("status", flat=True)) == {"available"}
    assert BagEvent.objects.filter(to_status="available", actor=qp_user).count() == 3


def test_release_refused_with_wrong_password_and_nothing_changes(qp_user):
    batch = make_release_ready_batch()
    before = AuditEvent.objects.count()
    with pytest.raises(SignatureError, match="password"):
        release_batch(batch, actor=qp_user, password="wrong")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    assert not Signature.objects.exists()
    assert AuditEvent.objects.count() == before
    assert set(batch.bags.values_list("status", flat=True)) == {"quarantine"}


def test_release_refused_to_a_user_without_release_permission(production_user, password):
    batch = make_release_ready_batch()
    with pytest.raises(SignatureError, match="Qualified Person"):
        release_batch(batch, actor=production_user, password=password)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE


def test_release_refused_when_a_required_check_is_missing(qp_user, password):
    batch = make_release_ready_batch()
    extra = SpecificationItemFactory(
        specification=batch.specification, parameter="CD90", lower_limit=Decimal(95)
    )
    messages = refused_release(batch, qp_user, password)
    assert messages == [f"CD90 ({extra.criterion}): no result recorded."]


def test_release_refused_when_a_check_failed(qp_user, password):
    batch = make_release_ready_batch()
    check = batch.checks.get(item__parameter="CD73")
    check.result_value = Decimal("94.9")

    with audit_context(actor=None, reason="test"):
        check.save()
    assert check.passed is False
    messages = refused_release(batch, qp_user, password)
    assert messages == ["CD73 (≥ 95 %): result 94.9 failed."]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("population_doublings", Decimal("20"), "Population doublings 20: must be fewer than 20."),
        ("population_doublings", None, "Population doublings not recorded."),
        ("passages", 2, "Passages 2: must be fewer than 2."),
        ("passages", None, "Passages not recorded."),
        ("viability_pct", None, "Viability before cryopreservation not recorded."),
        ("expires_on", None, "Expiry date not recorded."),
        ("cryopreserved_on", None, "Cryopreservation date not recorded."),
    ],
)
def test_release_refused_on_batch_manufacturing_limits(qp_user, password, field, value, message):
    batch = make_release_ready_batch()
    setattr(batch, field, value)

    with audit_context(actor=None, reason="test"):
        batch.save()
    messages = refused_release(batch, qp_user, password)
    assert message in messages
    if field != "viability_pct":
        assert len(messages) == 1


def test_release_allows_19_99_doublings_and_one_passage(qp_user, password):
    batch = make_release_ready_batch(population_doublings=Decimal("19.99"), passages=1)
    assert release_batch(batch, actor=qp_user, password=password).status == "released"


def test_release_refused_when_donor_is_too_old(qp_user, password):
    batch = make_release_ready_batch()
    donor = batch.donor
    donor.age_at_donation = 50

    with audit_context(actor=None, reason="test"):
        donor.save()
    messages = refused_release(batch, qp_user, password)
    assert len(messages) == 1
    assert messages[0].startswith(f"Donor {donor.code} not eligible: Age under 50 not met")


def test_release_refused_when_donor_serology_is_positive(qp_user, password):
    batch = make_release_ready_batch()
    SerologyResultFactory(
        donor=batch.donor,
        test=SerologyResult.Test.HIV,
        result="positive",
        sampled_on=batch.procurement.procured_on,
    )
    messages = refused_release(batch, qp_user, password)
    assert len(messages) == 1
    assert "Serology HIV-1/2" in messages[0]


def test_release_refused_when_batch_is_not_in_quarantine(qp_user, password):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    with pytest.raises(ReleaseError) as error:
        release_batch(batch, actor=qp_user, password=password)
    assert error.value.messages == [
        "Batch is in production: only a batch in quarantine can be released."
    ]


def test_release_refused_without_bags(qp_user, password):
    batch = make_release_ready_batch(bags=0)
    messages = refused_release(batch, qp_user, password)
    assert messages == ["No bags in quarantine: create the batch's bags before release."]


def test_release_lists_every_failure_at_once(qp_user, password):
    batch = make_release_ready_batch(passages=3, population_doublings=Decimal("25"))
    messages = refused_release(batch, qp_user, password)
    assert len(messages) == 2


def test_release_refused_when_viability_differs_from_its_check(qp_user, password):
    batch = make_release_ready_batch(viability_pct=Decimal("91"))
    messages = refused_release(batch, qp_user, password)
    assert messages == ["Viability on the batch (91 %) differs from the viability check (92 %)."]


# Rejection ----------------------------------------------------------------------------


def test_qp_rejects_with_reason_and_every_bag_is_discarded(qp_user, password):
    batch = make_release_ready_batch(bags=2)
    rejected = reject_batch(batch, actor=qp_user, password=password, reason="mycoplasma +")
    rejected.refresh_from_db()
    assert rejected.status == Batch.Status.REJECTED
    signature = rejected.decision_signature()
    assert (signature.meaning, signature.comment) == ("rejected", "mycoplasma +")
    assert events_for(rejected, "reject").get().reason == "mycoplasma +"
    for bag in rejected.bags.all():
        assert bag.status == Bag.Status.DISCARDED
        assert "mycoplasma +" in bag.discard_reason
        assert bag.location is None


def test_reject_placed_in_time_but_not_before_cryopreservation(qp_user, password):
    batch = make_release_ready_batch(bags=1)
    too_early = timezone.make_aware(
        datetime.datetime.combine(batch.cryopreserved_on, datetime.time(0))
    ) - datetime.timedelta(days=1)
    with pytest.raises(ReleaseError, match="cryopreserved"):
        reject_batch(batch, actor=qp_user, password=password, reason="CD105", at=too_early)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE

    at = too_early + datetime.timedelta(days=2, hours=12)
    reject_batch(batch, actor=qp_user, password=password, reason="CD105", at=at)
    assert batch.decision_signature().signed_at == at
    discard = batch.bags.get().events.order_by("pk").last()
    assert (discard.to_status, discard.occurred_at) == (Bag.Status.DISCARDED, at)


def test_reject_needs_a_reason(qp_user, password):
    batch = make_release_ready_batch()
    with pytest.raises(ReleaseError, match="reason"):
        reject_batch(batch, actor=qp_user, password=password, reason=" ")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE


def test_reject_refused_with_wrong_password(qp_user):
    batch = make_release_ready_batch()
    with pytest.raises(SignatureError):
        reject_batch(batch, actor=qp_user, password="nope", reason="failed")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE
    assert set(batch.bags.values_list("status", flat=True)) == {"quarantine"}


# Signature binding and corrections ----------------------------------------------------


def test_signature_no_longer_matches_after_a_correction(qp_user, production_user, password):
    batch = release_batch(make_release_ready_batch(), actor=qp_user, password=password)
    signature = batch.decision_signature()
    old_hash = content_hash(batch.signature_content())

    corrected = correct_batch(
        batch, actor=production_user, reason="transcription error", passages=0
    )

    assert content_hash(corrected.signature_content()) != old_hash
    assert not signature_matches(signature, corrected.signature_content())
    event = events_for(corrected, "correct").get()
    assert event.reason == "transcription error"
    assert event.actor == production_user
    assert event.changes["passages"] == [1, 0]


def test_signature_hash_changes_when_a_check_result_changes(qp_user, password):
    batch = release_batch(make_release_ready_batch(), actor=qp_user, password=password)
    signature = batch.decision_signature()
    item = batch.checks.get(item__parameter="CD73").item
    record_check(
        batch,
        item,
        actor=qp_user,
        tested_on=datetime.date(2026, 3, 29),
        value="97",
        reason="re-read of cytometry file",
    )
    assert not signature_matches(signature, batch.signature_content())


def test_correction_of_released_batch_needs_a_reason(production_user, qp_user, password):
    batch = release_batch(make_release_ready_batch(), actor=qp_user, password=password)
    with pytest.raises(BatchError, match="reason"):
        correct_batch(batch, actor=production_user, reason="", passages=0)
    batch.refresh_from_db()
    assert batch.passages == 1


def test_correction_cannot_change_status(production_user):
    batch = make_release_ready_batch()
    with pytest.raises(BatchError, match="status"):
        correct_batch(batch, actor=production_user, reason="x", status="released")


# Checks -------------------------------------------------------------------------------


def test_record_check_computes_pass_and_audits_it(production_user):
    batch = BatchFactory()
    item = SpecificationItemFactory(
        specification=batch.specification,
        parameter="HLA-DR",
        kind="max",
        lower_limit=None,
        upper_limit=Decimal(2),
    )
    check = record_check(
        batch, item, actor=production_user, tested_on=datetime.date(2026, 3, 28), value="2.1"
    )
    assert check.passed is False
    event = events_for(check, "create").get()
    assert event.actor == production_user
    assert event.changes["passed"] == [None, False]

    check = record_check(
        batch, item, actor=production_user, tested_on=datetime.date(2026, 3, 28), value="2"
    )
    assert check.passed is True
    assert events_for(check, "update").get().changes["passed"] == [False, True]


def test_record_check_refuses_item_of_another_specification(production_user):
    batch = BatchFactory()
    foreign = SpecificationItemFactory()
    with pytest.raises(BatchError, match="not part of"):
        record_check(
            batch, foreign, actor=production_user, tested_on=datetime.date(2026, 3, 28), value=99
        )


def test_record_check_needs_a_value_for_a_numeric_limit(production_user):
    batch = BatchFactory()
    item = SpecificationItemFactory(specification=batch.specification)
    with pytest.raises(BatchError, match="measured value"):
        record_check(batch, item, actor=production_user, tested_on=datetime.date(2026, 3, 28))


def test_record_check_on_released_batch_needs_a_reason(production_user, qp_user, password):
    batch = release_batch(make_release_ready_batch(), actor=qp_user, password=password)
    item = batch.checks.first().item
    with pytest.raises(BatchError, match="reason"):
        record_check(
            batch, item, actor=production_user, tested_on=datetime.date(2026, 3, 29), value=99
        )


# Bags ---------------------------------------------------------------------------------


def test_create_bags_makes_coded_bags_in_free_positions_with_audit_and_custody(
    production_user,
):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    before = AuditEvent.objects.count()
    bags = create_bags(
        batch,
        actor=production_user,
        count=3,
        nominal_cells=60_000_000,
        volume_ml=Decimal("20"),
        product_code="s1234v00",
        tank="T9",
        rack="R1",
        box="B1",
    )
    assert [b.code for b in bags] == [f"{batch.code}-S1234V00-{d}" for d in ("A0", "B0", "C0")]
    assert [str(b.location) for b in bags] == ["T9/R1/B1/1", "T9/R1/B1/2", "T9/R1/B1/3"]
    for bag in bags:
        create = events_for(bag, "create").get()
        assert create.actor == production_user
        assert create.changes["status"] == [None, "quarantine"]
        assert bag.events.get().to_status == "quarantine"
    # 3 locations + 3 bags + 3 custody events, one audit event each
    assert AuditEvent.objects.count() - before == 9

    more = create_bags(
        batch,
        actor=production_user,
        count=1,
        nominal_cells=75_000_000,
        volume_ml=Decimal("20"),
        product_code="S1234V00",
        tank="T9",
        rack="R1",
        box="B1",
    )
    assert more[0].division == "D0"
    assert str(more[0].location) == "T9/R1/B1/4"


@pytest.mark.parametrize("cells", [49_999_999, 75_000_001])
def test_create_bags_refuses_cells_outside_50_to_75_million(production_user, cells):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    with pytest.raises(BagCreationError, match="nominal_cells"):
        create_bags(
            batch,
            actor=production_user,
            count=1,
            nominal_cells=cells,
            volume_ml=Decimal(20),
            product_code="S1234V00",
            tank="T1",
            rack="R1",
            box="B1",
        )
    assert not batch.bags.exists()


def test_create_bags_refuses_when_the_box_is_full(production_user):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    kwargs = {
        "actor": production_user,
        "nominal_cells": 60_000_000,
        "volume_ml": Decimal(20),
        "product_code": "S1234V00",
        "tank": "T1",
        "rack": "R1",
        "box": "B7",
    }
    create_bags(batch, count=24, **kwargs)
    with pytest.raises(BagCreationError, match="only 1 free positions"):
        create_bags(batch, count=2, **kwargs)
    assert batch.bags.count() == 24


def test_create_bags_refused_for_released_batch(production_user):
    batch = BatchFactory(status=Batch.Status.RELEASED)
    with pytest.raises(BagCreationError, match="released"):
        create_bags(
            batch,
            actor=production_user,
            count=1,
            nominal_cells=60_000_000,
            volume_ml=Decimal(20),
            product_code="S1234V00",
            tank="T1",
            rack="R1",
            box="B1",
        )


# Submission ---------------------------------------------------------------------------


def test_submit_for_release_moves_batch_to_quarantine(production_user):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    submitted = submit_for_release(batch, actor=production_user)
    assert submitted.status == Batch.Status.QUARANTINE
    event = events_for(batch, "submit_for_release").get()
    assert event.actor == production_user
    assert event.changes["status"] == ["in_production", "quarantine"]


def test_submit_refused_unless_in_production(production_user):
    batch = BatchFactory(status=Batch.Status.QUARANTINE)
    with pytest.raises(BatchError, match="only a batch in production"):
        submit_for_release(batch, actor=production_user)


def test_batch_procurement_must_come_from_its_donor(db):
    batch = BatchFactory()
    batch.procurement = ProcurementFactory()
    with pytest.raises(Exception, match="another donor"):
        batch.full_clean()
