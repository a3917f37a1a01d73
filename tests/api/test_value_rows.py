"""Lists and exports read from tuples (core.api.rows) answer exactly what the serializer
would: the same JSON page, the same CSV, the same scoping."""

import json

import pytest
from django.test import RequestFactory
from rest_framework import serializers

from batches.api import BagSerializer
from batches.models import Bag
from core.api.export import stream_csv
from tests.api.conftest import make_batch, token_client
from tests.api.test_safe_output import _bag_out_of_storage

pytestmark = pytest.mark.django_db


def _bags():
    make_batch(bags=3)
    _bag_out_of_storage(discard_reason="=1+1 broken")
    return Bag.objects.select_related("batch", "batch__donor", "location").order_by("code")


def test_a_page_of_bags_is_what_the_serializer_answers(auditor):
    bags = _bags()

    results = token_client(auditor).get("/api/v1/bags/").json()["results"]

    expected = json.loads(json.dumps(BagSerializer(bags, many=True).data))
    assert results == expected
    assert any(row["location"] is None for row in results)


def test_the_cursor_walks_every_bag_once_in_any_ordering(auditor):
    bags = _bags()
    client = token_client(auditor)

    for ordering in ("code", "-created_at"):
        seen, url = [], f"/api/v1/bags/?page_size=2&ordering={ordering}"
        while url:
            page = client.get(url).json()
            seen += [row["code"] for row in page["results"]]
            url = page["next"]
        assert sorted(seen) == sorted(bag.code for bag in bags)
        assert len(seen) == len(bags)


def test_the_csv_of_bags_is_what_the_serializer_made(auditor):
    bags = _bags()
    request = RequestFactory().get("/api/v1/bags/")
    before = b"".join(stream_csv(bags, BagSerializer, context={"request": request},
                                 filename="b").streaming_content)  # fmt: skip

    response = token_client(auditor).get("/api/v1/bags/", {"format": "csv"})

    assert b"".join(response.streaming_content) == before
    assert b"'=1+1 broken" in before


def test_a_nested_object_that_may_be_null_is_null_or_its_fields():
    from rest_framework import serializers

    from batches.models import StorageLocation
    from core.api.rows import ValueRows

    class Location(serializers.ModelSerializer):
        class Meta:
            model = StorageLocation
            fields = ["tank", "rack"]

    class BagWithLocation(serializers.ModelSerializer):
        location = Location(read_only=True, allow_null=True)

        class Meta:
            model = Bag
            fields = ["code", "location", "nominal_cells"]

    bags = _bags()
    plan = ValueRows().plan(BagWithLocation())

    represented = [plan.represent(row) for row in plan.rows(bags)]

    assert represented == json.loads(json.dumps(BagWithLocation(bags, many=True).data))
    assert any(row["location"] is None for row in represented)


def test_a_column_that_is_not_a_model_field_must_be_declared():
    from django.core.exceptions import ImproperlyConfigured

    from core.api.rows import ValueRows

    with pytest.raises(ImproperlyConfigured, match="batch is not a model field"):
        ValueRows().plan(BagSerializer())


def _pages(client, url: str) -> list[bytes]:
    """Every page's body, following `next` from `url`."""
    bodies = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        bodies.append(response.content)
        url = response.json()["next"]
    return bodies


@pytest.mark.parametrize(
    "query",
    ["page_size=2", "page_size=2&ordering=-created_at", "page_size=1&batch={batch}"],
)
def test_every_page_of_bags_is_byte_for_byte_the_serializers(auditor, monkeypatch, query):
    from batches.api.viewsets import BagViewSet

    bags = _bags()
    client = token_client(auditor)
    url = "/api/v1/bags/?" + query.format(batch=bags[0].batch.code)
    fast = _pages(client, url)
    again = _pages(client, url)  # the plan made by the first request, reused
    monkeypatch.setattr(BagViewSet, "value_rows", None)  # model instances and the serializer

    assert fast == again == _pages(client, url)
    assert len(fast) >= 2


class _BagTimesSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bag
        fields = ["code", "created_at"]


def test_a_plan_is_made_once_per_serializer_and_time_zone(monkeypatch):
    from django.utils import timezone

    from core.api.rows import ValueRows

    bags = _bags()
    rows = ValueRows()
    made = []
    plan = rows.plan
    monkeypatch.setattr(rows, "plan", lambda serializer: made.append(1) or plan(serializer))
    for zone in ("Atlantic/Canary", "Europe/Madrid", "Atlantic/Canary"):
        with timezone.override(zone):
            bag_plan = rows.plan_for(_BagTimesSerializer)
            shown = [bag_plan.represent(row) for row in bag_plan.rows(bags)]
            expected = json.loads(json.dumps(_BagTimesSerializer(bags, many=True).data))
        assert shown == expected
    assert len(made) == 2  # one per zone: the times are shown in the reader's zone


def test_a_filterset_makes_its_form_class_once_and_still_validates_each_request(auditor):
    from batches.filters import BagFilterSet

    make_batch(bags=2)
    first = BagFilterSet({"status": ["available"]}, queryset=Bag.objects.all())
    second = BagFilterSet({"status": ["no-such-status"]}, queryset=Bag.objects.all())
    client = token_client(auditor)

    assert first.get_form_class() is second.get_form_class()
    assert first.is_valid() and not second.is_valid()
    assert client.get("/api/v1/bags/?status=no-such-status").status_code == 400
    assert client.get("/api/v1/bags/?status=available").status_code == 200
    assert client.get("/api/v1/bags/?created_at_after=not-a-date").status_code == 400


def test_gunicorn_runs_two_threads_per_worker_unless_told(monkeypatch):
    import runpy
    from pathlib import Path

    path = str(Path(__file__).resolve().parents[2] / "config" / "gunicorn.py")
    monkeypatch.delenv("WEB_THREADS", raising=False)
    assert runpy.run_path(path)["threads"] == 2
    monkeypatch.setenv("WEB_THREADS", "1")
    assert runpy.run_path(path)["threads"] == 1


def _events():
    from audit.models import AuditEvent

    make_batch(bags=2)
    _bag_out_of_storage(discard_reason="=1+1 broken")
    return AuditEvent.objects.order_by("seq")


def test_a_page_of_audit_events_is_what_the_serializer_answers(auditor):
    from audit.api import AuditEventSerializer

    events = _events()

    page = token_client(auditor).get("/api/v1/audit-events/", {"page_size": 500}).json()

    expected = json.loads(json.dumps(AuditEventSerializer(events, many=True).data))
    assert page["results"] == expected
    assert any(row["changes"] for row in page["results"])


def test_the_cursor_walks_every_audit_event_once_both_ways(auditor):
    events = _events()
    client = token_client(auditor)

    for ordering, expected in (("seq", list(events)), ("-seq", list(events)[::-1])):
        seen, url = [], f"/api/v1/audit-events/?page_size=3&ordering={ordering}"
        while url:
            page = client.get(url).json()
            seen += [row["seq"] for row in page["results"]]
            url = page["next"]
        assert seen == [event.seq for event in expected]


def test_the_csv_of_audit_events_is_what_the_serializer_made(auditor):
    from audit.api import AuditEventSerializer

    events = _events()
    request = RequestFactory().get("/api/v1/audit-events/")
    before = b"".join(stream_csv(events, AuditEventSerializer, context={"request": request},
                                 filename="e").streaming_content)  # fmt: skip

    response = token_client(auditor).get("/api/v1/audit-events/", {"format": "csv"})

    assert b"".join(response.streaming_content) == before
