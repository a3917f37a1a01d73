"""`/api/v1/shipments/`: read-only, filterable, CSV, scoped to the reader's sites; the
bag trace lists the shipments that carried a bag."""

import csv
import io

import pytest

from tests.api.conftest import token_client
from tests.conftest import role_user
from tests.factories import HospitalFactory, receive_at, released_batch_with_bags

pytestmark = pytest.mark.django_db


def _shipment(hospital, cells=(60_000_000,)):
    _, bags = released_batch_with_bags(list(cells), hospital=None)
    return receive_at(bags, hospital), bags


def _codes(response):
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


def test_the_auditor_lists_and_filters_shipments(auditor_client):
    fjd_shipment, fjd_bags = _shipment(HospitalFactory(code="FJD"))
    hus_shipment, _ = _shipment(HospitalFactory())

    everything = _codes(auditor_client.get("/api/v1/shipments/"))
    by_hospital = _codes(auditor_client.get("/api/v1/shipments/", {"hospital": "FJD"}))
    by_bag = _codes(auditor_client.get("/api/v1/shipments/", {"bag": fjd_bags[0].code}))
    dispatched = _codes(auditor_client.get("/api/v1/shipments/", {"status": "dispatched"}))

    assert sorted(everything) == sorted([fjd_shipment.code, hus_shipment.code])
    assert by_hospital == by_bag == [fjd_shipment.code]
    assert dispatched == []
    item = auditor_client.get(f"/api/v1/shipments/{fjd_shipment.code}/").json()
    assert item["hospital"] == "FJD"
    assert item["logger_result"] == "in_range"
    assert [b["bag"] for b in item["bags"]] == [fjd_bags[0].code]


def test_shipments_export_csv(auditor_client):
    shipment, _ = _shipment(HospitalFactory(code="FJD"))

    response = auditor_client.get("/api/v1/shipments/", {"format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["code"], row["hospital"]) == (shipment.code, "FJD")


def test_a_hospitals_reader_sees_only_its_shipments(second_hospital):
    own, _ = _shipment(second_hospital)
    other, _ = _shipment(HospitalFactory())
    client = token_client(role_user("aud2", "auditor", second_hospital))

    assert _codes(client.get("/api/v1/shipments/")) == [own.code]
    assert client.get(f"/api/v1/shipments/{other.code}/").status_code == 404


def test_the_list_is_constant_in_queries(auditor_client, django_assert_max_num_queries):
    fjd = HospitalFactory(code="FJD")
    _shipment(fjd, cells=(60_000_000, 61_000_000))
    with django_assert_max_num_queries(12) as small:
        auditor_client.get("/api/v1/shipments/")
    for _ in range(5):
        _shipment(fjd, cells=(60_000_000, 61_000_000, 62_000_000))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(_codes(auditor_client.get("/api/v1/shipments/"))) == 6


def test_the_bag_trace_lists_its_shipments(auditor_client):
    shipment, bags = _shipment(HospitalFactory(code="FJD"))

    body = auditor_client.get(f"/api/v1/trace/bags/{bags[0].code}/").json()

    (trip,) = body["shipments"]
    assert (trip["code"], trip["hospital"], trip["logger_result"]) == (
        shipment.code,
        "FJD",
        "in_range",
    )
    assert trip["received_location"]
