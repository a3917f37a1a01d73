"""The demo loader makes every production and site record through the services: each
event names a person (production or the QP) and the trail verifies intact."""

from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from audit.verify import verify_chain
from batches import demo, services
from batches.exceptions import BatchError

pytestmark = pytest.mark.django_db

# What the loader records through the record services (checks, bags and the QP's steps
# have their own reasons).
RECORDS_MADE_BY_THE_LOADER = [
    "sites.facility",
    "batches.releasespecification",
    "batches.specificationitem",
    "batches.donor",
    "batches.procurement",
    "batches.serologyresult",
    "batches.batch",
]


@pytest.fixture
def seeded(db):
    call_command("seed_demo", stdout=StringIO())


def test_every_demo_production_event_names_a_person_and_the_trail_is_intact(seeded):
    events = AuditEvent.objects.filter(object_type__regex=r"^(batches|sites)\.")
    assert events.exists()
    assert not events.filter(actor__isnull=True).exists()
    made = events.filter(action="create", object_type__in=RECORDS_MADE_BY_THE_LOADER)
    assert set(made.values_list("object_type", flat=True)) == set(RECORDS_MADE_BY_THE_LOADER)
    assert set(made.values_list("reason", flat=True)) == {demo.DEMO_REASON}
    assert set(made.values_list("actor__username", flat=True)) == {"production"}
    assert verify_chain().intact


def test_the_demo_loader_goes_through_the_services(db, monkeypatch):
    monkeypatch.setattr(services, "create_batch", _refuse)
    with pytest.raises(BatchError, match="through the service"):
        call_command("seed_demo", stdout=StringIO())


def _refuse(*args, **kwargs):
    raise BatchError("through the service")
