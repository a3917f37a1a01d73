"""CSV export: every collection, same filters, streamed, unpaginated, flattened."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from batches.models import Batch
from tests.api.conftest import make_batch

pytestmark = pytest.mark.django_db


def _rows(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    "path",
    ["/api/v1/donors/", "/api/v1/batches/", "/api/v1/bags/", "/api/v1/release-checks/",
     "/api/v1/audit-events/"],
)  # fmt: skip
def test_every_collection_exports_csv(auditor_client, path):
    make_batch()

    response = auditor_client.get(path, {"format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert _rows(response)


def test_csv_export_is_unpaginated_and_filtered(auditor_client):
    for _ in range(3):
        make_batch(bags=30, checks=0, status=Batch.Status.RELEASED)
    quarantined = make_batch(bags=1, checks=0, status=Batch.Status.QUARANTINE)

    everything = _rows(auditor_client.get("/api/v1/bags/", {"format": "csv"}))
    filtered = _rows(
        auditor_client.get("/api/v1/bags/", {"format": "csv", "batch": quarantined.code})
    )

    assert len(everything) == 91  # more than a page of 50
    assert [row["batch"] for row in filtered] == [quarantined.code]


def test_csv_flattens_nested_objects_into_dotted_columns(auditor_client, qp_user):
    batch = make_batch(checks=2, signer=qp_user)

    (row,) = _rows(auditor_client.get("/api/v1/batches/", {"format": "csv"}))

    assert row["code"] == batch.code
    assert row["facility.fin"] == batch.facility.fin
    assert row["release_signature"]  # a nested object that may be null: one JSON cell
    assert '"passed": false' in row["checks"]


def test_csv_with_a_bad_filter_answers_a_json_400(auditor_client):
    response = auditor_client.get("/api/v1/batches/", {"format": "csv", "status": "melted"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "status" in response.json()["errors"]


def test_csv_export_needs_authentication(client):
    response = client.get("/api/v1/bags/", {"format": "csv"})

    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_csv_export_query_count_does_not_grow_with_rows(
    auditor_client, qp_user, django_assert_max_num_queries
):
    for _ in range(6):
        make_batch(bags=1, checks=2, signer=qp_user)

    with django_assert_max_num_queries(10):
        response = auditor_client.get("/api/v1/batches/", {"format": "csv"})
        rows = _rows(response)

    assert len(rows) == 6
