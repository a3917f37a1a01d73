"""The audit trail through the API: events by seq, filters, and chain verification."""

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.triggers import triggers_suspended
from tests.api.conftest import make_batch

pytestmark = pytest.mark.django_db


def test_audit_event_shows_who_what_before_after_and_hashes(auditor_client):
    batch = make_batch(bags=0, checks=0)
    event = AuditEvent.objects.filter(object_type="batches.batch").get()

    body = auditor_client.get(f"/api/v1/audit-events/{event.seq}/").json()

    assert body["object_repr"] == batch.code
    assert body["action"] == "create"
    assert body["changes"]["status"] == [None, "released"]
    assert body["hash"] == event.hash
    assert body["prev_hash"] == event.prev_hash


def test_audit_events_filter_by_object_and_seq_range(auditor_client):
    batch = make_batch(bags=1, checks=0)

    by_object = auditor_client.get(
        "/api/v1/audit-events/", {"object_type": "batches.batch", "object_repr": batch.code}
    ).json()
    window = auditor_client.get("/api/v1/audit-events/", {"seq_min": 2, "seq_max": 3}).json()

    assert [e["object_repr"] for e in by_object["results"]] == [batch.code]
    assert [e["seq"] for e in window["results"]] == [2, 3]


def test_verify_reports_an_intact_chain(auditor_client):
    make_batch(bags=1, checks=1)

    response = auditor_client.get("/api/v1/audit-events/verify/")

    assert response.status_code == 200
    body = response.json()
    assert body["intact"] is True
    assert body["count"] == AuditEvent.objects.count()
    assert body["first_broken_seq"] is None


def test_verify_reports_where_a_tampered_chain_first_breaks(auditor_client):
    make_batch(bags=2, checks=1)
    with triggers_suspended(connection), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = 'tampered' WHERE seq = 3")

    response = auditor_client.get("/api/v1/audit-events/verify/")

    assert response.status_code == 200
    body = response.json()
    assert body["intact"] is False
    assert body["first_broken_seq"] == 3
    assert body["reason"] == "changed content"
    assert body["count"] == 2
