"""Shipments in the admin: production creates and dispatches through the services, the
QP decides on an excursion with a signature (the `excursion` entry of DECISIONS)."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from audit.models import Signature
from batches import services
from batches.admin.signing import DECISION_ACTIONS, DECISIONS
from batches.models import Bag, Shipment
from tests.conftest import totp_code
from tests.factories import member_of, released_batch_with_bags

CHANGELIST = "admin:batches_shipment_changelist"


@pytest.fixture
def prod(production_user, facility):
    return member_of(production_user, facility=facility)


@pytest.fixture
def bags(facility):
    return released_batch_with_bags([60_000_000] * 2, facility=facility, hospital=None)[1]


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_production_creates_and_dispatches_a_shipment_in_the_admin(
    client, prod, facility, fjd, bags
):
    client.force_login(prod)
    response = client.post(
        reverse("admin:batches_shipment_add"),
        {
            "facility": facility.pk,
            "hospital": fjd.pk,
            "bags": [b.pk for b in bags],
            "shipper_id": "DS-07",
            "logger_id": "LOG-1",
            "change_reason": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    shipment = Shipment.objects.get()
    assert (shipment.created_by, shipment.items.count()) == (prod, 2)

    response = client.post(
        reverse(CHANGELIST), {"action": "dispatch_action", "_selected_action": [shipment.pk]}
    )
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DISPATCHED
    assert any("dispatched to FJD" in m for m in messages_of(response))


def test_a_refused_dispatch_says_why(client, prod, facility, fjd, bags):
    shipment = services.create_shipment(facility=facility, hospital=fjd, bags=bags, actor=prod)
    services.dispatch_shipment(shipment, actor=prod)
    client.force_login(prod)

    response = client.post(
        reverse(CHANGELIST), {"action": "dispatch_action", "_selected_action": [shipment.pk]}
    )
    assert any("only a created shipment can be dispatched" in m for m in messages_of(response))


def test_the_excursion_decision_is_one_entry_of_the_qp_table():
    entry = DECISIONS["excursion"]
    assert entry.subject == "shipment"
    assert entry.service is services.decide_excursion
    assert entry.action not in {a.__name__ for a in DECISION_ACTIONS}  # not a batch action


def excursion(prod, pharmacist, facility, fjd, bags):
    pharm = member_of(pharmacist, hospital=fjd)
    at = timezone.now() - datetime.timedelta(hours=2)
    shipment = services.create_shipment(
        facility=facility, hospital=fjd, bags=bags, actor=prod, at=at
    )
    services.dispatch_shipment(shipment, actor=prod, at=at)
    return services.receive_shipment(
        shipment, actor=pharm, logger_result="excursion", tank="P", rack="1", box="1"
    )


def test_the_qp_decides_on_an_excursion_in_the_admin(
    client, qp_user, pharmacist, prod, facility, fjd, bags, password
):
    qp = member_of(qp_user, facility=facility)
    shipment = excursion(prod, pharmacist, facility, fjd, bags)
    client.force_login(qp)
    data = {"action": "decide_excursion_action", "_selected_action": [shipment.pk]}

    page = client.post(reverse(CHANGELIST), data)
    assert page.status_code == 200
    assert "Meaning" in page.content.decode()

    response = client.post(
        reverse(CHANGELIST),
        {
            **data,
            "apply": "1",
            "password": password,
            "otp_code": totp_code(qp),
            "outcome": "released",
            "reason": "ok",
        },
    )
    assert (
        f"Shipment {shipment.code}: the quarantined bags are released, signed by Quinn Person."
        in messages_of(response)
    )
    assert set(
        Bag.objects.filter(pk__in=[b.pk for b in bags]).values_list("status", flat=True)
    ) == {"available"}
    assert Signature.objects.filter(object_type="batches.shipment").count() == 1


def test_the_sessions_first_excursion_signature_needs_the_authenticator_code(
    client, qp_user, pharmacist, prod, facility, fjd, bags, password
):
    """As for a batch release: the password alone does not sign the session's first."""
    qp = member_of(qp_user, facility=facility)
    shipment = excursion(prod, pharmacist, facility, fjd, bags)
    client.force_login(qp)
    data = {"action": "decide_excursion_action", "_selected_action": [shipment.pk]}

    page = client.post(reverse(CHANGELIST), data)
    assert "otp_code" in page.context["form"].fields

    response = client.post(
        reverse(CHANGELIST),
        {**data, "apply": "1", "password": password, "outcome": "released", "reason": "ok"},
    )

    assert response.status_code == 200
    assert "otp_code" in response.context["form"].errors
    assert Signature.objects.filter(object_type="batches.shipment").count() == 0
    assert set(
        Bag.objects.filter(pk__in=[b.pk for b in bags]).values_list("status", flat=True)
    ) == {"quarantine"}


def test_production_cannot_take_the_qp_decision(client, prod, facility, fjd, bags):
    shipment = services.create_shipment(facility=facility, hospital=fjd, bags=bags, actor=prod)
    client.force_login(prod)
    response = client.get(reverse(CHANGELIST))
    assert "decide_excursion_action" not in response.content.decode()
    assert "dispatch_action" in response.content.decode()
    assert shipment.status == "created"


def test_the_add_form_offers_only_the_users_facility_and_its_stored_bags(
    client, prod, facility, fjd, bags, second_facility
):
    _, others = released_batch_with_bags([60_000_000], facility=second_facility, hospital=None)
    client.force_login(prod)

    form = client.get(reverse("admin:batches_shipment_add")).context["adminform"].form

    assert list(form.fields["facility"].queryset) == [facility]
    assert set(form.fields["bags"].queryset) == set(bags)
    response = client.post(
        reverse("admin:batches_shipment_add"),
        {"facility": second_facility.pk, "hospital": fjd.pk, "bags": [others[0].pk]},
    )
    assert response.status_code == 200
    assert not Shipment.objects.exists()
