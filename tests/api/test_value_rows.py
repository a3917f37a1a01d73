"""Lists and exports read from tuples (core.api.rows) answer exactly what the serializer
would: the same JSON page, the same CSV, the same scoping."""

import json

import pytest
from django.test import RequestFactory

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
