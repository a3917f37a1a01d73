"""From the outside: a hospital system reads patients' records over real HTTP (the
factories' patients, and every demo patient)."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from knox.models import AuthToken

from dosing.models import AdverseEvent
from patients.models import Patient
from tests.vigilance.conftest import http_reader, treated_patients
from tests.vigilance.record import check_patient_record


@pytest.mark.django_db(transaction=True)
def test_patient_record_over_http_reads_as_r5_and_every_reference_resolves(
    live_server, auditor, pharmacist, clinician
):
    patient = treated_patients(1, pharmacist, clinician)[0]
    _, token = AuthToken.objects.create(user=auditor)
    reader = http_reader(live_server.url, token)

    found = check_patient_record(reader, patient)

    assert {ref.split("/")[0] for ref in reader.read} >= {
        "Patient",
        "BiologicallyDerivedProduct",
        "BiologicallyDerivedProductDispense",
        "Procedure",
    }
    assert len(found["BiologicallyDerivedProductDispense"]) == 2


@pytest.mark.django_db(transaction=True)
def test_over_http_without_a_token_answers_401_outcome(live_server):
    import requests

    response = requests.get(f"{live_server.url}/api/fhir/Patient", timeout=30)

    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_demo_patient_reads_over_http_with_every_reference_resolving(live_server):
    call_command("seed_demo", stdout=StringIO())
    auditor = User.objects.get(username="auditor")
    _, token = AuthToken.objects.create(user=auditor)
    reader = http_reader(live_server.url, token)

    patients = list(Patient.objects.order_by("code"))
    events = 0
    for patient in patients:
        found = check_patient_record(reader, patient)
        events += len(found["AdverseEvent"])

    assert len(patients) == 13
    assert events == AdverseEvent.objects.count() > 0
