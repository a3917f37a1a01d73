"""Production records through the API: nested content, filters, pagination, query counts."""

import pytest

from batches.models import Batch
from tests.api.conftest import make_batch, token_client

pytestmark = pytest.mark.django_db


def test_batch_comes_with_its_checks_limits_pass_fail_and_release_signature(
    auditor_client, qp_user
):
    batch = make_batch(checks=2, signer=qp_user)

    response = auditor_client.get(f"/api/v1/batches/{batch.code}/")

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == batch.code
    assert body["donor"] == batch.donor.code
    assert [c["passed"] for c in body["checks"]] == [False, True]
    assert body["checks"][0]["item"]["criterion"].startswith("≥ 95")
    assert body["release_signature"]["meaning"] == "released"
    assert body["release_signature"]["printed_name"] == "Quinn Person"


def test_batch_code_needs_its_check_character(auditor_client):
    batch = make_batch()
    wrong = batch.din + ("A" if batch.din_check != "A" else "B")

    assert auditor_client.get(f"/api/v1/batches/{wrong}/").status_code == 404
    assert auditor_client.get(f"/api/v1/batches/{batch.din}/").status_code == 404


def test_bag_is_addressed_by_its_code(auditor_client):
    bag = make_batch(bags=1).bags.get()

    response = auditor_client.get(f"/api/v1/bags/{bag.code}/")

    assert response.status_code == 200
    assert response.json()["batch"] == bag.batch.code


@pytest.mark.parametrize("rows", [2, 12])
def test_batch_list_query_count_does_not_grow_with_rows(
    auditor, qp_user, rows, django_assert_max_num_queries
):
    for _ in range(rows):
        make_batch(bags=1, checks=3, signer=qp_user)
    client = token_client(auditor)

    # knox token (2) + session-free permission lookups (2) + batches, checks, signatures
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/batches/")

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize(
    ("path", "rows"),
    [
        ("/api/v1/donors/", 2),
        ("/api/v1/donors/", 10),
        ("/api/v1/bags/", 2),
        ("/api/v1/bags/", 10),
        ("/api/v1/release-checks/", 2),
        ("/api/v1/release-checks/", 10),
        ("/api/v1/audit-events/", 2),
        ("/api/v1/audit-events/", 10),
    ],
)
def test_list_query_count_does_not_grow_with_rows(
    auditor, path, rows, django_assert_max_num_queries
):
    for _ in range(rows):
        make_batch(bags=1, checks=1)
    client = token_client(auditor)

    # token (2) + permissions (2) + the reader's sites (1) + the page and its prefetches
    with django_assert_max_num_queries(8):
        response = client.get(path)

    assert response.status_code == 200
    assert response.json()["results"]


def test_filters_by_status_donor_and_facility(auditor_client):
    released = make_batch(status=Batch.Status.RELEASED)
    quarantined = make_batch(status=Batch.Status.QUARANTINE)

    by_status = auditor_client.get("/api/v1/batches/", {"status": "quarantine"}).json()
    by_donor = auditor_client.get("/api/v1/bags/", {"donor": released.donor.code}).json()
    by_batch = auditor_client.get("/api/v1/bags/", {"batch": quarantined.code}).json()
    by_facility = auditor_client.get("/api/v1/batches/", {"facility": "NOPE1"}).json()

    assert [b["code"] for b in by_status["results"]] == [quarantined.code]
    assert {b["batch"] for b in by_donor["results"]} == {released.code}
    assert {b["batch"] for b in by_batch["results"]} == {quarantined.code}
    assert by_facility["results"] == []


def test_release_checks_filter_by_pass_fail(auditor_client):
    batch = make_batch(checks=3)

    failed = auditor_client.get("/api/v1/release-checks/", {"passed": "false"}).json()
    passed = auditor_client.get(
        "/api/v1/release-checks/", {"passed": "true", "batch": batch.code}
    ).json()

    assert [c["passed"] for c in failed["results"]] == [False]
    assert len(passed["results"]) == 2


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/batches/", {"status": "melted"}, "status"),
        ("/api/v1/batches/", {"created_at_after": "yesterday"}, "created_at"),
        ("/api/v1/bags/", {"created_at_before": "2026-13-45"}, "created_at"),
        ("/api/v1/release-checks/", {"passed": "perhaps"}, "passed"),
        ("/api/v1/release-checks/", {"tested_on_after": "soon"}, "tested_on"),
        ("/api/v1/audit-events/", {"seq_min": "first"}, "seq"),
        ("/api/v1/audit-events/", {"origin": "moon"}, "origin"),
    ],
)
def test_bad_filter_value_is_a_400_naming_the_field(auditor_client, path, params, field):
    response = auditor_client.get(path, params)

    assert response.status_code == 400
    body = response.json()
    assert field in body["errors"]
    assert body["detail"].startswith("Invalid request")


def test_cursor_pagination_is_stable_under_inserts(auditor_client):
    for _ in range(3):
        make_batch(bags=2)
    first = auditor_client.get("/api/v1/bags/", {"page_size": 4}).json()
    seen = [b["code"] for b in first["results"]]

    # New bags sort before and after the cursor; the next page neither repeats nor skips.
    make_batch(bags=2)
    second = auditor_client.get(first["next"]).json()
    seen += [b["code"] for b in second["results"]]
    while second["next"]:
        second = auditor_client.get(second["next"]).json()
        seen += [b["code"] for b in second["results"]]

    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)
    assert len(seen) >= 6


def test_ordering_parameter_orders_and_stays_total(auditor_client):
    for _ in range(3):
        make_batch(bags=1)

    body = auditor_client.get("/api/v1/bags/", {"ordering": "-code"}).json()

    codes = [b["code"] for b in body["results"]]
    assert codes == sorted(codes, reverse=True)


@pytest.mark.django_db
def test_a_date_time_filter_with_an_extreme_utc_offset_answers_and_breaks_nothing(client, auditor):
    # PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows; the filter converts
    # to UTC first, so the request answers and the connection stays usable.
    client.force_login(auditor)
    response = client.get("/api/v1/batches/", {"created_at_before": "0174-08-11T21:56:49-21:08"})
    assert response.status_code == 200
    assert client.get("/api/v1/batches/").status_code == 200
    overflow = client.get("/api/v1/batches/", {"created_at_after": "0001-01-01T00:00:00+01:00"})
    assert overflow.status_code == 400


@pytest.mark.django_db
def test_batch_page_shows_when_the_record_no_longer_matches_the_qp_signature(
    auditor_client, qp_user, production_user, password
):
    from decimal import Decimal

    from batches.services import correct_batch, release_batch
    from tests.factories import make_release_ready_batch

    batch = make_release_ready_batch(bags=2)
    release_batch(batch, actor=qp_user, password=password)
    url = f"/api/v1/batches/{batch.code}/"
    assert auditor_client.get(url).json()["release_signature"]["matches_record"] is True
    listed = auditor_client.get("/api/v1/batches/").json()["results"]
    assert [b["release_signature"]["matches_record"] for b in listed] == [True]

    correct_batch(
        batch,
        actor=production_user,
        reason="transcription error in the batch record",
        population_doublings=Decimal("13.5"),
    )
    signature = auditor_client.get(url).json()["release_signature"]
    assert signature["matches_record"] is False
    listed = auditor_client.get("/api/v1/batches/").json()["results"]
    # Lists compare the hash the batch keeps of its record (no rebuild): the same verdict.
    assert [b["release_signature"]["matches_record"] for b in listed] == [False]
