"""Model serializers work their fields out once per class (core.api.serializers): every
serializer still gets fields of its own, equal to what DRF would have built."""

import pytest
from rest_framework import serializers

from audit.api import AuditEventSerializer
from batches.api import BatchCheckSerializer, BatchSerializer, ReleaseCheckSerializer
from tests.api.conftest import make_batch, token_client

pytestmark = pytest.mark.django_db


def _built_by_drf(serializer_class) -> dict:
    """The fields DRF's own `ModelSerializer.get_fields` makes, for comparison."""
    return serializers.ModelSerializer.get_fields(serializer_class())


@pytest.mark.parametrize(
    "serializer_class",
    [AuditEventSerializer, BatchSerializer, BatchCheckSerializer, ReleaseCheckSerializer],
)
def test_fields_are_those_drf_builds_and_never_shared(serializer_class):
    first, second = serializer_class(), serializer_class()

    assert repr(first.fields) == repr(second.fields)
    assert [repr(f) for f in first.fields.values()] == [
        repr(f) for f in _built_by_drf(serializer_class).values()
    ]
    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field.parent is first and second.fields[name].parent is second


def test_a_subclass_keeps_its_own_fields():
    assert "batch" in ReleaseCheckSerializer().fields
    assert "batch" not in BatchCheckSerializer().fields


def test_a_batch_shows_its_specification_as_text(auditor):
    batch = make_batch(checks=2)

    data = token_client(auditor).get(f"/api/v1/batches/{batch.code}/").json()

    assert data["specification"] == str(batch.specification)
    assert {check["item"]["specification"] for check in data["checks"]} == {
        str(batch.specification)
    }
