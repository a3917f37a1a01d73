import pytest

from audit.chain import GENESIS_HASH
from audit.context import audit_context
from audit.exceptions import AuditBypassError, AuditContextMissing
from audit.models import AuditEvent
from batches.models import Donor
from tests.factories import DonorFactory


@pytest.mark.django_db
def test_saving_a_donor_appends_a_chained_event(production_user):
    with audit_context(actor=production_user):
        donor = Donor.objects.create(code="DON-X1", age_at_donation=30, sex="F")
        donor.age_at_donation = 31
        donor.save()
    first, second = AuditEvent.objects.for_object(donor)
    assert (first.action, second.action) == ("create", "update")
    assert second.changes == {"age_at_donation": [30, 31]}
    assert second.prev_hash == first.hash
    assert AuditEvent.objects.order_by("seq").first().prev_hash == GENESIS_HASH
    assert second.actor == production_user


@pytest.mark.django_db
def test_save_without_an_accountable_actor_is_refused():
    with pytest.raises(AuditContextMissing):
        Donor.objects.create(code="DON-X2", age_at_donation=30, sex="F")
    assert not Donor.objects.filter(code="DON-X2").exists()


@pytest.mark.django_db
def test_queryset_update_is_refused_because_it_would_skip_the_trail():
    DonorFactory(code="DON-X3")
    with pytest.raises(AuditBypassError):
        Donor.objects.filter(code="DON-X3").update(age_at_donation=40)


@pytest.mark.django_db
def test_conditional_update_changes_only_matching_rows_and_audits_each(production_user):
    from batches.models import Bag
    from tests.factories import BagFactory

    taken = BagFactory(status=Bag.Status.AVAILABLE)
    other = BagFactory(status=Bag.Status.RESERVED, batch=taken.batch)
    with audit_context(actor=production_user):
        count = Bag.objects.filter(
            pk__in=[taken.pk, other.pk], status=Bag.Status.AVAILABLE
        ).update_audited(audit_action="reserve", status=Bag.Status.RESERVED)
    assert count == 1
    event = AuditEvent.objects.for_object(taken).last()
    assert event.action == "reserve"
    assert event.changes == {"status": ["available", "reserved"]}
    assert event.actor == production_user
    assert not AuditEvent.objects.for_object(other).filter(action="reserve").exists()
