"""Records are true in time (production): GMP dates within their floors, procurement
before the batch, the release after cryopreservation."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from batches import services
from batches.exceptions import BatchError, ReleaseError
from batches.models import Batch
from tests.factories import DonorFactory, ProcurementFactory, make_release_ready_batch

pytestmark = pytest.mark.django_db

FAR = datetime.date(2999, 1, 1)


def test_serology_sampled_in_the_future_is_refused(production_user):
    donor = DonorFactory()
    with pytest.raises(BatchError, match="sampled_on: The sampling date cannot be in the future"):
        services.record_serology(
            donor, actor=production_user, test="HIV", result="negative", sampled_on=FAR
        )


def test_procurement_before_the_programme_start_or_in_the_future_is_refused(production_user):
    donor = DonorFactory()
    for day, message in [(FAR, "in the future"), (datetime.date(1, 1, 1), "cannot be before")]:
        with pytest.raises(BatchError, match=message):
            services.record_procurement(
                donor,
                actor=production_user,
                procured_on=day,
                site="abdomen",
                lipoaspirate_volume_ml=Decimal("100"),
                fat_weight_g=Decimal("80"),
                performed_by="Dr. Test",
            )


def test_batch_cryopreserved_before_its_procurement_is_refused():
    batch = Batch(
        procurement=ProcurementFactory(procured_on=datetime.date(2026, 3, 2)),
        cryopreserved_on=datetime.date(2026, 3, 1),
        expires_on=datetime.date(2026, 2, 1),
    )
    errors = {}
    try:
        batch._clean_dates()
    except Exception as error:  # ValidationError
        errors = error.message_dict
    assert "cannot precede the procurement" in errors["cryopreserved_on"][0]
    assert "expiry must follow" in errors["expires_on"][0]


def test_release_dated_before_cryopreservation_is_refused(qp_user, password):
    batch = make_release_ready_batch()
    before = timezone.make_aware(
        datetime.datetime.combine(batch.cryopreserved_on, datetime.time(12))
    ) - datetime.timedelta(days=2)
    with pytest.raises(ReleaseError, match="cannot be before"):
        services.release_batch(batch, actor=qp_user, password=password, at=before)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.QUARANTINE


def test_release_at_a_past_time_signs_and_moves_the_bags_then(qp_user, password):
    batch = make_release_ready_batch()
    at = timezone.make_aware(
        datetime.datetime.combine(batch.cryopreserved_on, datetime.time(12))
    ) + datetime.timedelta(days=20)
    services.release_batch(batch, actor=qp_user, password=password, at=at)
    assert batch.decision_signature().signed_at == at
    released = [e for b in batch.bags.all() for e in b.events.filter(to_status="available")]
    assert released and {e.occurred_at for e in released} == {at}
