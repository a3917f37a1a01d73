"""Doses, infusions, adverse events and the three traces through the API."""

import pytest

from batches.models import BagEvent
from tests.api.conftest import make_batch, make_dose, token_client
from tests.factories import DonorFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _chain(size: int, actor, donor=None, patient=None):
    """`size` batches of one donor, each with 2 bags given to `size` patients (2 doses
    each where possible); returns the donor, one patient and one bag."""
    donor = donor or DonorFactory()
    patients = []
    for index in range(size):
        batch = make_batch(bags=2, checks=1, donor=donor, signer=actor)
        patient = PatientFactory(code=f"SAL-T{donor.pk}{index:02d}")
        bags = list(batch.bags.all())
        make_dose(patient, batch, number=1, actor=actor, bags=bags[:1])
        make_dose(patient, batch, number=2, actor=actor, bags=bags[1:], adverse_event=False)
        patients.append(patient)
    return donor, patients[0], bags[0]


def test_dose_comes_with_its_bags_preparation_and_infusion(auditor_client, pharmacist):
    batch = make_batch(bags=2)
    patient = PatientFactory(code="SAL-P01")
    dose = make_dose(patient, batch, actor=pharmacist)

    body = auditor_client.get(f"/api/v1/doses/{dose.pk}/").json()

    assert body["code"] == "SAL-P01/D1"
    assert body["patient"] == "SAL-P01"
    assert body["batch"] == batch.code
    assert sorted(b["bag"] for b in body["bags"]) == sorted(b.code for b in batch.bags.all())
    assert body["preparation"]["method"] == "thawed"
    assert body["infusion"]["filter_200um_confirmed"] is True
    assert "name" not in str(body).lower().replace("printed_name", "")


def test_adverse_events_filter_by_causality_and_seriousness(auditor_client, pharmacist):
    batch = make_batch(bags=1)
    make_dose(PatientFactory(code="SAL-P02"), batch, actor=pharmacist)

    unlikely = auditor_client.get("/api/v1/adverse-events/", {"causality": "unlikely"}).json()
    certain = auditor_client.get("/api/v1/adverse-events/", {"causality": "certain"}).json()
    serious = auditor_client.get("/api/v1/adverse-events/", {"serious": "true"}).json()
    bad = auditor_client.get("/api/v1/adverse-events/", {"serious": "sometimes"})

    assert [e["patient"] for e in unlikely["results"]] == ["SAL-P02"]
    assert certain["results"] == []
    assert len(serious["results"]) == 1
    assert bad.status_code == 400


def test_doses_and_infusions_filter_by_patient_batch_and_donor(auditor_client, pharmacist):
    donor, patient, _ = _chain(2, pharmacist)

    doses = auditor_client.get("/api/v1/doses/", {"patient": patient.code}).json()
    by_donor = auditor_client.get("/api/v1/infusions/", {"donor": donor.code}).json()

    assert [d["number"] for d in doses["results"]] == [1, 2]
    assert len(by_donor["results"]) == 4


@pytest.mark.parametrize("size", [1, 4])
@pytest.mark.parametrize("path", ["/api/v1/doses/", "/api/v1/infusions/",
                                  "/api/v1/adverse-events/", "/api/v1/patients/"])  # fmt: skip
def test_dosing_list_query_count_does_not_grow_with_rows(
    auditor, pharmacist, size, path, django_assert_max_num_queries
):
    _chain(size, pharmacist)
    client = token_client(auditor)

    # token (2) + permissions (2) + the reader's sites (1) + the page + a fixed set of
    # prefetches (patients: 4, and 5 of the clinical course).
    with django_assert_max_num_queries(15):
        response = client.get(path)

    assert response.status_code == 200


def test_donor_trace_reaches_every_patient(auditor_client, pharmacist):
    donor, _, _ = _chain(2, pharmacist)

    body = auditor_client.get(f"/api/v1/trace/donors/{donor.code}/").json()

    assert body["code"] == donor.code
    assert len(body["batches"]) == 2
    assert all(len(batch["bags"]) == 2 for batch in body["batches"])
    doses = [d for b in body["batches"] for bag in b["bags"] for d in bag["doses"]]
    assert len(doses) == 4
    assert body["patients"] == sorted({d["patient"] for d in doses})
    assert len(body["patients"]) == 2


def test_patient_trace_reaches_bags_batch_and_donor(auditor_client, pharmacist):
    donor, patient, _ = _chain(1, pharmacist)

    body = auditor_client.get(f"/api/v1/trace/patients/{patient.code}/").json()

    assert [d["number"] for d in body["doses"]] == [1, 2]
    assert body["doses"][0]["batch"]["donor"] == donor.code
    assert len(body["doses"][0]["bags"]) == 1
    assert body["donors"] == [donor.code]


def test_bag_trace_is_the_chain_of_custody_event_by_event(auditor_client, pharmacist):
    _, patient, bag = _chain(1, pharmacist)
    from django.utils import timezone

    from audit.context import audit_context

    with audit_context(actor=pharmacist, reason="test"):
        BagEvent.objects.create(
            bag=bag, from_status="quarantine", to_status="available",
            occurred_at=timezone.now(), actor=pharmacist, location="T1/R1",
        )  # fmt: skip

    body = auditor_client.get(f"/api/v1/trace/bags/{bag.code}/").json()

    assert [(e["from_status"], e["to_status"]) for e in body["events"]] == [
        ("", "quarantine"),
        ("quarantine", "available"),
    ]
    assert body["events"][1]["actor"] == "pharm1"
    assert body["events"][1]["occurred_at"]
    assert [d["patient"] for d in body["doses"]] == [patient.code]


def test_unknown_code_in_a_trace_is_a_json_404(auditor_client):
    response = auditor_client.get("/api/v1/trace/donors/NOBODY/")

    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.parametrize("size", [1, 5])
def test_traces_take_a_constant_number_of_queries(
    auditor, pharmacist, size, django_assert_max_num_queries
):
    donor, patient, bag = _chain(size, pharmacist)
    client = token_client(auditor)

    # token lookup (2) + user permissions (2) + the trace's own fixed prefetches.
    with django_assert_max_num_queries(9):
        assert client.get(f"/api/v1/trace/donors/{donor.code}/").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/v1/trace/patients/{patient.code}/").status_code == 200
    # The bag trace also prefetches the shipments that carried the bag (one query).
    with django_assert_max_num_queries(9):
        assert client.get(f"/api/v1/trace/bags/{bag.code}/").status_code == 200


@pytest.mark.django_db
def test_patients_appear_with_age_never_with_a_date_of_birth(auditor):
    import datetime

    from tests.api.conftest import token_client
    from tests.factories import PatientFactory

    patient = PatientFactory(birth_date=datetime.date(1960, 5, 17), age_years=None)
    body = token_client(auditor).get(f"/api/v1/patients/{patient.code}/").json()
    assert "birth_date" not in body
    assert body["age_years"] == patient.age_on(patient.created_at.date())
    assert body["age_years"] >= 60
