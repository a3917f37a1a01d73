"""`manage.py expire_bags` marks available bags past their expiry as expired, one custody
event each, and a second run changes nothing; the worklist's warning lists stock that
expires within the setting's days."""

import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.context import Origin, audit_context
from batches.models import Bag, BagEvent
from batches.services import move_bag
from tests.factories import HospitalFactory, StorageLocationFactory, released_batch_with_bags
from vigilance import services

pytestmark = pytest.mark.django_db


def test_expire_bags_marks_past_expiry_with_a_custody_event_and_is_idempotent(capsys):
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    old, old_bags = released_batch_with_bags([75_000_000] * 2, expires_on=yesterday)
    fresh, _ = released_batch_with_bags([75_000_000])
    reserved = move_bag(old_bags[1], Bag.Status.RESERVED, actor=None, note="test")
    call_command("expire_bags")
    assert "1 bag(s) marked expired" in capsys.readouterr().out
    assert Bag.objects.get(pk=old_bags[0].pk).status == Bag.Status.EXPIRED
    assert Bag.objects.get(pk=reserved.pk).status == Bag.Status.RESERVED
    assert set(fresh.bags.values_list("status", flat=True)) == {Bag.Status.AVAILABLE}
    event = BagEvent.objects.get(bag=old_bags[0], to_status=Bag.Status.EXPIRED)
    assert event.from_status == Bag.Status.AVAILABLE and old.code in event.note
    call_command("expire_bags")
    assert "0 bag(s) marked expired" in capsys.readouterr().out
    assert BagEvent.objects.filter(to_status=Bag.Status.EXPIRED).count() == 1


def stored_at(hospital, expires_on):
    """A released batch with one available bag in the hospital pharmacy's tank."""
    batch, [bag] = released_batch_with_bags([75_000_000], expires_on=expires_on)
    with audit_context(actor=None, reason="test: stored at the hospital", origin=Origin.TEST):
        bag.location = StorageLocationFactory(facility=None, hospital=hospital)
        bag.save()
    return batch


def test_expiring_stock_lists_bags_expiring_within_the_settings_days(settings, pharmacist):
    settings.EXPIRY_WARNING_DAYS = 10
    today = timezone.localdate()
    hus = HospitalFactory()
    soon = stored_at(hus, today + datetime.timedelta(days=9))
    stored_at(hus, today + datetime.timedelta(days=11))
    stored_at(hus, today - datetime.timedelta(days=1))
    # Expiring too, but in the facility's store: not this pharmacy's stock.
    released_batch_with_bags(
        [75_000_000], expires_on=today + datetime.timedelta(days=2), hospital=None
    )
    assert [b.batch_id for b in services.expiring_stock(pharmacist)] == [soon.pk]
    assert not services.expiring_stock(pharmacist, days=5).exists()


def test_the_pharmacy_worklist_warns_of_its_expiring_stock(client, settings, pharmacist):
    settings.EXPIRY_WARNING_DAYS = 10
    today = timezone.localdate()
    soon = stored_at(HospitalFactory(), today + datetime.timedelta(days=9))
    elsewhere = stored_at(
        HospitalFactory(code="FJD", name="Fundación Jiménez Díaz"),
        today + datetime.timedelta(days=3),
    )
    client.force_login(pharmacist)
    page = client.get(reverse("dosing:worklist")).content.decode()
    assert "Expiring stock" in page
    assert f"1 available bag(s) of batch {soon.code} expire on" in page
    assert elsewhere.code not in page
