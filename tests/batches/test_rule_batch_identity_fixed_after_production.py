"""Rule: a batch's identity — DIN, donor, procurement, facility, specification — is fixed
once it has left production (what the QP judges and the bags are labelled with). While
it is in production a correction may change it; the GMP data stays correctable."""

import pytest

from audit.models import AuditEvent
from batches import services
from batches.exceptions import BatchError
from batches.models import Batch
from tests.factories import FacilityFactory, ProcurementFactory, make_release_ready_batch

pytestmark = pytest.mark.django_db


def test_identity_of_a_batch_in_production_can_be_corrected(production_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION, din="E000126000777")
    corrected = services.correct_batch(
        batch, actor=production_user, reason="DIN mis-keyed", din="E000126000778"
    )
    assert Batch.objects.get(pk=batch.pk).din == "E000126000778"
    assert corrected.code.startswith("E000126000778")
    event = AuditEvent.objects.filter(object_type="batches.batch", action="update").last()
    assert event.changes["din"] == ["E000126000777", "E000126000778"]
    assert event.reason == "DIN mis-keyed"


@pytest.mark.parametrize("field", ["din", "donor", "procurement", "facility", "specification"])
def test_identity_is_fixed_once_the_batch_has_left_production(production_user, field):
    batch = make_release_ready_batch(status=Batch.Status.QUARANTINE)
    other = {
        "din": "E000126000999",
        "donor": ProcurementFactory().donor,
        "procurement": ProcurementFactory(donor=batch.donor),
        "facility": FacilityFactory(fin="E0002"),
        "specification": make_release_ready_batch().specification,
    }[field]
    with pytest.raises(BatchError, match=rf"its identity \({field}\) is fixed"):
        services.correct_batch(batch, actor=production_user, reason="why", **{field: other})
    assert getattr(Batch.objects.get(pk=batch.pk), field) == getattr(batch, field)


def test_gmp_data_stays_correctable_after_production(production_user):
    batch = make_release_ready_batch(status=Batch.Status.QUARANTINE)
    services.correct_batch(batch, actor=production_user, passages=0)
    assert Batch.objects.get(pk=batch.pk).passages == 0
