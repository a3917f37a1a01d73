"""The auditor API's patients collection: read-only, by code, with eligibility inline."""

import pytest

from tests.factories.patients import ObservationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def test_patient_item_by_code_shows_weight_eligibility_and_follow_up(
    client, auditor, system_context
):
    patient = PatientFactory(code="HGM-P07", assessment={"alt_u_l": 260})
    ObservationFactory(patient=patient)
    client.force_login(auditor)
    body = client.get("/api/v1/patients/HGM-P07/").json()
    assert body["code"] == "HGM-P07"
    assert body["hospital_name"] == "Hospital Universitario de Salamanca"
    assert body["current_weight"]["weight_kg"] == "78.0"
    assert body["eligibility"]["is_eligible"] is False
    alt = next(c for c in body["eligibility"]["criteria"] if c["code"] == "alt")
    assert (alt["status"], alt["value"]) == ("not_met", "260 U/l")
    assert body["observations"][0]["unit"] == "mg/dl"
    assert "name" not in body


def test_patient_list_query_count_is_constant(
    client, auditor, system_context, django_assert_max_num_queries
):
    for _ in range(12):
        ObservationFactory(patient=PatientFactory())
    client.force_login(auditor)
    # One query per prefetched collection (5 of them the clinical course), not per patient.
    with django_assert_max_num_queries(15):
        body = client.get("/api/v1/patients/").json()
    assert len(body["results"]) == 12


def test_auditor_cannot_write_patients(client, auditor, system_context):
    PatientFactory(code="HGM-P08")
    client.force_login(auditor)
    assert client.post("/api/v1/patients/", {"code": "X-1"}).status_code in (403, 405)
    assert client.delete("/api/v1/patients/HGM-P08/").status_code in (403, 405)
