"""Only a usable batch reaches a patient: released, QP-signed, unexpired, unchanged.

The batch is checked again at every step (allocation, thaw, refresh, dispense) as it is
at that moment: a batch that expired, was taken out of release, or whose record no
longer matches what the Qualified Person signed is refused wherever the dose stands.
"""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.context import Origin, audit_context
from batches.models import Batch
from dosing import services
from dosing.exceptions import AllocationError, PreparationError
from tests.dosing.flow import MINUTES, allocated, hours
from tests.factories import ProtocolFactory, released_batch_with_bags

pytestmark = pytest.mark.django_db


def change_batch_record(batch, **changes):
    """A correction of the batch record after the QP signed (bypasses the batch services,
    which others own; what matters here is that the record no longer matches)."""
    with audit_context(actor=None, reason="test: corrected after release", origin=Origin.TEST):
        Batch.objects.filter(pk=batch.pk).update_audited(audit_action="correct", **changes)


# --- expiry -------------------------------------------------------------------------------


def test_thaw_refused_when_the_batch_expired_after_allocation(patient, pharmacist):
    ProtocolFactory()
    today = timezone.localdate()
    released_batch_with_bags([75_000_000], expires_on=today)
    now = timezone.now()
    dose = allocated(patient, pharmacist, at=now)
    with pytest.raises(PreparationError, match="expired on .*Cancel the dose"):
        services.record_thaw(dose, actor=pharmacist, at=now + datetime.timedelta(days=2))


def test_dispense_refused_when_the_batch_expired_since_the_thaw(patient, pharmacist):
    ProtocolFactory()
    released_batch_with_bags([75_000_000], expires_on=timezone.localdate())
    # Thawed before midnight of the last valid day, dispensed after it.
    midnight = timezone.make_aware(
        datetime.datetime.combine(
            timezone.localdate() + datetime.timedelta(days=1), datetime.time(0, 0)
        )
    )
    thaw = midnight - 20 * MINUTES
    dose = allocated(patient, pharmacist, at=thaw - hours(1))
    services.record_thaw(dose, actor=pharmacist, thawed_at=thaw, at=thaw)
    with pytest.raises(PreparationError, match="expired on"):
        services.dispense_dose(dose, actor=pharmacist, at=midnight + 10 * MINUTES)


# --- release ------------------------------------------------------------------------------


def test_thaw_refused_when_the_batch_is_no_longer_released(protocol, patient, stock, pharmacist):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    change_batch_record(batch, status=Batch.Status.QUARANTINE)
    with pytest.raises(PreparationError, match="not released"):
        services.record_thaw(dose, actor=pharmacist)


# --- the QP's signature -------------------------------------------------------------------


def test_thaw_refused_when_the_batch_signature_no_longer_matches(
    protocol, patient, stock, pharmacist
):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    change_batch_record(batch, passages=batch.passages + 1)
    with pytest.raises(PreparationError, match="Qualified Person to review the batch"):
        services.record_thaw(dose, actor=pharmacist)


def test_refresh_refused_when_the_batch_signature_no_longer_matches(
    protocol, patient, stock, pharmacist
):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    change_batch_record(batch, passages=batch.passages + 1)
    with pytest.raises(PreparationError, match="no longer matches"):
        services.record_refresh(
            dose,
            actor=pharmacist,
            thawed_at=timezone.now() - hours(30),
            seeded_at=timezone.now() - hours(29),
            harvested_at=timezone.now() - hours(1),
            viable_cells=78_000_000,
            viability_pct=Decimal("92.0"),
            volume_ml=Decimal("50.0"),
        )


def test_dispense_refused_when_the_batch_signature_no_longer_matches(
    protocol, patient, stock, pharmacist
):
    batch, _ = stock
    dose = allocated(patient, pharmacist)
    services.record_thaw(dose, actor=pharmacist)
    change_batch_record(batch, passages=batch.passages + 1)
    with pytest.raises(PreparationError, match="no longer matches"):
        services.dispense_dose(dose, actor=pharmacist)


def test_allocation_skips_and_refuses_a_batch_whose_signature_no_longer_matches(
    protocol, patient, stock, pharmacist
):
    batch, bags = stock
    change_batch_record(batch, passages=batch.passages + 1)
    plan = services.plan_dose(patient, weight_kg=Decimal("78"), protocol=protocol)
    assert not plan.bags
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError):
        services.allocate_dose(dose, actor=pharmacist)
    with pytest.raises(AllocationError, match="no longer matches"):
        services.allocate_dose(dose, actor=pharmacist, bags=bags[:1])


def test_allocation_refuses_a_released_batch_without_a_qp_signature(protocol, patient, pharmacist):
    _, bags = released_batch_with_bags([75_000_000], signed=False)
    dose = services.order_dose(patient, actor=pharmacist)
    with pytest.raises(AllocationError, match="no QP release signature"):
        services.allocate_dose(dose, actor=pharmacist, bags=bags)
