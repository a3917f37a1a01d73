"""Protocol versions change only through the service, each change on the trail with its
reason; a version used by doses keeps its settings."""

import pytest

from audit.models import AuditEvent
from dosing.exceptions import ProtocolError
from dosing.models import Protocol
from dosing.services import create_protocol, order_dose, update_protocol


def test_new_protocol_version_follows_the_latest_of_its_code_and_is_audited(protocol, pharmacist):
    new = create_protocol(actor=pharmacist, reason="wider range", code=protocol.code)

    assert new.version == protocol.version + 1
    event = AuditEvent.objects.for_object(new).get()
    assert event.action == "create"
    assert event.reason == "wider range"
    assert event.actor == pharmacist


def test_protocol_with_target_outside_its_range_refused_and_not_written(pharmacist):
    with pytest.raises(ProtocolError, match="protocol_target_within_range|range"):
        create_protocol(
            actor=pharmacist,
            code="BAD",
            version=1,
            target_cells_per_kg=2_000_000,
            max_cells_per_kg=1_300_000,
        )
    assert not Protocol.objects.filter(code="BAD").exists()


def test_setting_of_a_protocol_used_by_doses_refused_make_a_new_version(
    protocol, patient, pharmacist
):
    order_dose(patient, actor=pharmacist)
    events = AuditEvent.objects.count()

    with pytest.raises(ProtocolError, match="Create a new version"):
        update_protocol(
            protocol, actor=pharmacist, reason="tighter range", min_cells_per_kg=900_000
        )

    protocol.refresh_from_db()
    assert protocol.min_cells_per_kg == 700_000
    assert AuditEvent.objects.count() == events


def test_used_protocol_may_be_deactivated_with_a_reason_on_the_trail(
    protocol, patient, pharmacist
):
    order_dose(patient, actor=pharmacist)

    update_protocol(protocol, actor=pharmacist, reason="superseded by v2", active=False)

    protocol.refresh_from_db()
    assert protocol.active is False
    event = AuditEvent.objects.for_object(protocol).order_by("seq").last()
    assert event.reason == "superseded by v2"
    assert event.changes == {"active": [True, False]}


def test_protocol_change_without_a_reason_refused(protocol, pharmacist):
    with pytest.raises(ProtocolError, match="Write why"):
        update_protocol(protocol, actor=pharmacist, reason=" ", active=False)
    protocol.refresh_from_db()
    assert protocol.active is True


def test_unknown_protocol_field_refused(protocol, pharmacist):
    with pytest.raises(ProtocolError, match="Not a protocol setting: colour"):
        update_protocol(protocol, actor=pharmacist, reason="x", colour="blue")


def _admin_form(protocol, **changes):
    from django.forms.models import model_to_dict

    from dosing.services.protocols import FIELDS

    data = {k: v for k, v in model_to_dict(protocol).items() if k in FIELDS and v is not None}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    return {**data, **changes}


def test_admin_change_of_a_protocol_needs_a_reason_and_reaches_the_trail(admin_client, protocol):
    from django.urls import reverse

    url = reverse("admin:dosing_protocol_change", args=[protocol.pk])
    refused = admin_client.post(url, _admin_form(protocol, max_doses=2, change_reason=""))
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["change_reason"]
    protocol.refresh_from_db()
    assert protocol.max_doses == 3

    done = admin_client.post(url, _admin_form(protocol, max_doses=2, change_reason="two doses"))
    assert done.status_code == 302, done.content.decode()[:2000]
    protocol.refresh_from_db()
    assert protocol.max_doses == 2
    event = AuditEvent.objects.for_object(protocol).filter(action="update").get()
    assert event.reason == "two doses"
    assert event.changes["max_doses"] == [3, 2]
