"""The "before" of an audit event is the stored row, though the snapshot of a loaded
record is only built when a change needs it (rows loaded only to be read pay nothing)."""

from decimal import Decimal

import pytest

from audit.audited import AuditedModel
from audit.context import audit_context
from audit.models import AuditEvent
from batches.models import Bag, Donor
from tests.factories import BagFactory, DonorFactory

pytestmark = pytest.mark.django_db


def last_changes(obj) -> dict:
    return AuditEvent.objects.for_object(obj).order_by("-seq").first().changes


def test_reading_rows_builds_no_snapshot(monkeypatch):
    BagFactory.create_batch(3)
    built = []
    original = AuditedModel.audit_snapshot
    monkeypatch.setattr(
        AuditedModel, "audit_snapshot", lambda self: built.append(self) or original(self)
    )
    bags = list(Bag.objects.select_related("batch__donor"))
    assert [bag.batch.donor.code for bag in bags]
    assert built == []
    assert all("_audit_stored" not in bag.__dict__ for bag in bags)


def test_a_field_assigned_before_the_save_has_its_stored_value_as_before(production_user):
    donor = DonorFactory(age_at_donation=30)
    loaded = Donor.objects.get(pk=donor.pk)
    loaded.age_at_donation = 41
    with audit_context(actor=production_user):
        loaded.save()
    assert last_changes(loaded) == {"age_at_donation": [30, 41]}
    loaded.age_at_donation = 42  # the next save's "before" is what the last one stored
    with audit_context(actor=production_user):
        loaded.save()
    assert last_changes(loaded) == {"age_at_donation": [41, 42]}


def test_a_deferred_field_is_taken_from_the_stored_row(production_user):
    bag = BagFactory(volume_ml=Decimal("20.0"))
    loaded = Bag.objects.only("pk", "code").get(pk=bag.pk)
    loaded.volume_ml = Decimal("19.5")  # never loaded: its "before" is read from the row
    with audit_context(actor=production_user, reason="correction"):
        loaded.save()
    assert last_changes(loaded) == {"volume_ml": ["20.0", "19.5"]}


def test_a_deferred_field_loaded_later_keeps_other_unsaved_values_out_of_before(
    production_user,
):
    donor = DonorFactory(age_at_donation=30, sex="F")
    loaded = Donor.objects.only("pk", "age_at_donation").get(pk=donor.pk)
    loaded.age_at_donation = 50
    assert loaded.sex == "F"  # loads the deferred field (a partial refresh)
    with audit_context(actor=production_user):
        loaded.save()
    assert last_changes(loaded) == {"age_at_donation": [30, 50]}


def test_deleting_a_loaded_record_records_its_stored_values(production_user):
    donor = DonorFactory(age_at_donation=33)
    loaded = Donor.objects.get(pk=donor.pk)
    with audit_context(actor=production_user):
        loaded.delete()
    event = AuditEvent.objects.filter(object_id=str(donor.pk), action="delete").get()
    assert event.changes["age_at_donation"] == [33, None]
