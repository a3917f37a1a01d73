"""Rule: a release check is deleted only while its batch is in production. Once the
batch has gone to the QP the result is corrected (with a reason after a decision),
never deleted — by the service, the model and the admin alike."""

import pytest

from audit.context import audit_context
from audit.models import AuditEvent
from batches import services
from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck
from tests.factories import make_release_ready_batch

pytestmark = pytest.mark.django_db

REFUSAL = "a release check is deleted only while the batch is in production"


def test_a_check_of_a_batch_in_production_is_deleted_with_its_reason(production_user):
    batch = make_release_ready_batch(status=Batch.Status.IN_PRODUCTION)
    check = batch.checks.first()
    services.delete_check(check, actor=production_user, reason="recorded on the wrong item")
    assert not ReleaseCheck.objects.filter(pk=check.pk).exists()
    event = AuditEvent.objects.filter(
        object_type="batches.releasecheck", object_id=str(check.pk)
    ).last()
    assert (event.action, event.actor, event.reason) == (
        "delete",
        production_user,
        "recorded on the wrong item",
    )


@pytest.mark.parametrize("status", [Batch.Status.QUARANTINE, Batch.Status.REJECTED])
def test_a_check_of_a_batch_past_production_is_not_deleted(production_user, status):
    batch = make_release_ready_batch(status=status)
    check = batch.checks.first()
    events = AuditEvent.objects.count()
    with pytest.raises(BatchError, match=REFUSAL):
        services.delete_check(check, actor=production_user, reason="mistake")
    assert ReleaseCheck.objects.filter(pk=check.pk).exists()
    assert AuditEvent.objects.count() == events


def test_the_model_refuses_the_delete_too(production_user):
    check = make_release_ready_batch().checks.first()
    with (
        audit_context(actor=production_user, reason="around the service"),
        pytest.raises(BatchError, match=REFUSAL),
    ):
        check.delete()
